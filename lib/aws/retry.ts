import { AwsServiceError } from './errors.ts';

/**
 * When and how long to wait before another attempt: the AWS SDK's standard retry mode, as
 * @smithy/core 3.x (what @aws-sdk 3.1164 ran) does it, so replacing the SDK changes no retry:
 * - retried: throttling (429 or a throttling code) and transient faults (500/502/503/504, a
 *   timeout, a connection reset or refused, a DNS failure); nothing else;
 * - the wait: full jitter, `random() * min(base * 2^retries, 20 s)`, base 50 ms, 1 s after throttling;
 * - a retry quota per container: 500 tokens, a retry costs 14 (5 after throttling), a success gives
 *   back what its retry cost (1 without one), so a failing AWS is not hammered by every call.
 * The clock-skew correction is not reproduced: Lambda's clock is synchronised.
 * Source: @smithy/core/dist-es/submodules/retry (service-error-classification, util-retry).
 */

const THROTTLING_CODES = new Set([
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
]);
const TRANSIENT_CODES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const TRANSIENT_STATUSES = new Set([500, 502, 503, 504]);
const NETWORK_ERROR_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

const BASE_DELAY_MS = 50;
const THROTTLING_BASE_DELAY_MS = 1_000;
const MAX_DELAY_MS = 20_000;
const QUOTA = 500;
const RETRY_COST = 14;
const THROTTLING_RETRY_COST = 5;

export const isThrottling = (err: unknown): boolean =>
  err instanceof AwsServiceError && (err.$metadata.httpStatusCode === 429 || THROTTLING_CODES.has(err.name));

export function isTransient(err: unknown, depth = 0): boolean {
  if (!(err instanceof Error) || err.name === 'AbortError') return false;
  if (TRANSIENT_CODES.has(err.name) || NETWORK_ERROR_CODES.has((err as NodeJS.ErrnoException).code ?? '')) return true;
  if (err instanceof AwsServiceError && TRANSIENT_STATUSES.has(err.$metadata.httpStatusCode)) return true;
  return err.cause !== undefined && depth < 10 && isTransient(err.cause, depth + 1);
}

let capacity = QUOTA;

/**
 * The wait before retry number `retries + 1`, or `undefined` when the error is not retried or the
 * quota is spent. Takes the retry's cost from the quota.
 *
 * @example
 * const wait = retryDelayMs(err, attempt - 1); // undefined: give up and throw err
 */
export function retryDelayMs(err: unknown, retries: number): { delayMs: number; cost: number } | undefined {
  const throttled = isThrottling(err);
  if (!throttled && !isTransient(err)) return undefined;
  const cost = throttled ? THROTTLING_RETRY_COST : RETRY_COST;
  if (capacity < cost) return undefined;
  capacity -= cost;
  const base = throttled ? THROTTLING_BASE_DELAY_MS : BASE_DELAY_MS;
  return { delayMs: Math.floor(Math.random() * Math.min(base * 2 ** retries, MAX_DELAY_MS)), cost };
}

/** A call succeeded: give back what its retry cost, or 1. */
export function recordSuccess(retryCost: number | undefined): void {
  capacity = Math.min(QUOTA, capacity + (retryCost ?? 1));
}

/** Refills the quota (tests; a new container starts full). */
export function resetRetryQuota(): void {
  capacity = QUOTA;
}
