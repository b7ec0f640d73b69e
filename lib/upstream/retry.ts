import { setTimeout as sleep } from 'node:timers/promises';
import { type AuditRecord, noteUpstreamCall } from '../audit.ts';
import type { Deadline } from '../deadline.ts';
import { UpstreamTransportError, UpstreamUnavailableError } from '../errors.ts';
import { log } from '../log.ts';
import { recordUpstreamAttempt, recordUpstreamCall } from '../metrics.ts';
import type { UpstreamReply } from './transport.ts';

/**
 * The one retry policy for every upstream call.
 *
 * - Retries only calls the caller marked `safe` (Svix POSTs carrying an idempotency key, nextAuth
 *   reads and logout). A provoke-login is never repeated: it would push a second prompt to a phone.
 * - Retries 5xx, timeouts and connection failures, and 429 only when the upstream says when
 *   (`Retry-After`); a bare 429 goes back to the caller, who knows its own budget better.
 * - Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter").
 * - Every attempt is bounded by the deadline, and no wait is started that would not leave time for
 *   another attempt: a slow upstream gives a 504 in time, never a Lambda timeout.
 */

export interface RetryPolicy {
  /** Whether repeating the request is harmless. */
  safe: boolean;
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Upper bound of one attempt, before the deadline bound applies. */
  attemptTimeoutMs: number;
  /** Below this much remaining time an attempt is not worth starting. */
  minAttemptMs: number;
  /**
   * A longer `Retry-After` is not waited out in the Lambda: the caller gets the answer with its
   * `Retry-After` and can wait without holding a function (and API Gateway's 30 s) open.
   */
  maxRetryAfterMs: number;
}

export const DEFAULT_POLICY: RetryPolicy = {
  safe: false,
  maxAttempts: 3,
  baseDelayMs: 50,
  maxDelayMs: 1_000,
  attemptTimeoutMs: 8_000,
  minAttemptMs: 100,
  maxRetryAfterMs: 2_000,
};

export type Attempt = (timeoutMs: number, attempt: number) => Promise<UpstreamReply>;

export interface CallOptions {
  deadline: Deadline;
  /** The record the call as a whole is added to (its upstream status, attempts and time). */
  audit?: AuditRecord;
  policy: RetryPolicy;
  /** For logs: which operation this is, never the URL with its ids. */
  operation: string;
  /** `false`: a 429 is returned, never waited out (lib/call-context.ts). */
  waitOutRateLimits?: boolean;
  random?: () => number;
}

/** Parses `Retry-After` (seconds or an HTTP date) into milliseconds from now. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function isRetryableStatus(reply: UpstreamReply, options: CallOptions): boolean {
  if (reply.status === 429) return options.waitOutRateLimits !== false && retryAfterMs(reply.headers['retry-after']) !== undefined;
  return reply.status >= 500;
}

/**
 * Runs `attempt` under the policy. Resolves with the last reply (which may still be an error
 * status for the caller to map), or throws `UpstreamUnavailableError` 503/504 for transport faults.
 * Every attempt and the call as a whole are recorded as metrics (lib/metrics.ts).
 */
export async function callWithRetry(attempt: Attempt, options: CallOptions): Promise<UpstreamReply> {
  const started = Date.now();
  const outcome: { status?: number; attempts: number } = { attempts: 0 };
  try {
    const reply = await attemptUnderPolicy(attempt, options, outcome);
    outcome.status = reply.status;
    return reply;
  } finally {
    // The call as a whole: a metric, and the audit record's upstream status, attempts and time.
    recordUpstreamCall(options.operation, outcome.attempts);
    noteUpstreamCall(options.audit, { status: outcome.status, attempts: outcome.attempts, ms: Date.now() - started });
  }
}

async function attemptUnderPolicy(attempt: Attempt, options: CallOptions, outcome: { attempts: number }): Promise<UpstreamReply> {
  const { deadline, policy, operation } = options;
  const random = options.random ?? Math.random;
  const maxAttempts = policy.safe ? policy.maxAttempts : 1;

  for (let n = 1; ; n++) {
    const remaining = deadline.remainingMs();
    if (remaining < policy.minAttemptMs) {
      throw new UpstreamUnavailableError(504, 'The upstream did not answer before the gateway deadline.');
    }
    let reply: UpstreamReply | undefined;
    let failure: UpstreamTransportError | undefined;
    outcome.attempts = n;
    const attemptStarted = Date.now();
    try {
      reply = await attempt(Math.min(policy.attemptTimeoutMs, remaining), n);
      recordUpstreamAttempt(operation, reply.status, Date.now() - attemptStarted);
      if (!isRetryableStatus(reply, options)) return reply;
    } catch (err) {
      // Each attempt is metered (lib/metrics.ts), whatever became of it.
      recordUpstreamAttempt(operation, err instanceof UpstreamTransportError ? err.kind : 'invalid', Date.now() - attemptStarted);
      if (!(err instanceof UpstreamTransportError)) throw err;
      // Nothing a repeat could change (a request Node refuses to send, an oversized answer).
      if (err.kind === 'invalid') throw new UpstreamUnavailableError(502, 'The upstream exchange failed and cannot succeed on retry.', { cause: err });
      failure = err;
    }

    const hinted = reply ? retryAfterMs(reply.headers['retry-after']) : undefined;
    const backoff = random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1));
    const wait = hinted ?? backoff;
    const canRetry = n < maxAttempts && (hinted ?? 0) <= policy.maxRetryAfterMs && deadline.remainingMs() - wait >= policy.minAttemptMs;
    log.warn('upstream attempt failed', {
      operation,
      attempt: n,
      status: reply?.status,
      failure: failure?.kind,
      retrying: canRetry,
      waitMs: canRetry ? Math.round(wait) : undefined,
    });
    if (!canRetry) {
      if (reply) return reply;
      throw failure?.kind === 'timeout'
        ? new UpstreamUnavailableError(504, 'The upstream did not answer in time.', { cause: failure })
        : new UpstreamUnavailableError(503, 'The upstream could not be reached.', { cause: failure });
    }
    await sleep(wait);
  }
}
