import type { AwsCallLimits } from './aws/call.ts';
import { getSecretValue } from './aws/secrets-manager.ts';
import { SECRETS_MAX_AGE_SECONDS, SECRETS_STALE_IF_ERROR_SECONDS, setting } from './config.ts';
import { ConfigError, SecretUnavailableError } from './errors.ts';
import { log } from './log.ts';

/**
 * Upstream keys, fetched once per container and cached.
 *
 * - `maxAge` (SECRETS_MAX_AGE_SECONDS, default 300): after it the next read refetches, so a rotated
 *   key reaches every warm container within minutes even if nobody saw a 401.
 * - `refetch`: refetch now, before `maxAge`, for one of two reasons, each with its own budget
 *   (`REFETCH_INTERVAL_MS`): `'rejected'`, the upstream said 401, so the key was probably rotated;
 *   `'missing'`, the value has nothing for what was asked (a nextAuth server it does not list), so
 *   it may just have been extended. Any caller can ask for an unknown server at will, so if the two
 *   shared one budget, a caller could keep spending it and a real rotation would not be picked up
 *   before `maxAge`.
 * - `staleIfError` (SECRETS_STALE_IF_ERROR_SECONDS, default 900): a refetch that fails keeps serving
 *   the cached value for that long past its age, because an old key that still works beats an outage.
 * - Concurrent reads of one secret share one request (the jobs run records concurrently).
 *
 * Why not `@middy/secrets-manager` or Powertools Parameters: neither refetches on demand while
 * serving stale on error, and the middy one is not published for middy 7 on the registry.
 *
 * Source: AWS Secrets Manager. A local run injects another with `useSecretSource` (local/secrets-file.ts
 * reads a file of the sandbox's keys), so nothing local ships here.
 */

interface CacheEntry {
  value: string;
  fetchedAt: number;
  /** After a failed refresh, the next one is not tried before this (no storm of slow calls). */
  retryAt?: number;
}

/** Why a read asks for a refetch before `maxAge`; each reason has a budget of its own. */
export type RefetchReason = 'rejected' | 'missing';

/**
 * A refetch is honoured at most this often per secret and reason: a key that really rotated is
 * picked up on the first 401, and a server just added on the first request for it, but an upstream
 * answering 401 for another reason (a missing permission) or a caller asking for unknown servers
 * must not turn every request into a Secrets Manager call. So at most two refetches per secret
 * every 30 s per container, whatever the callers do.
 */
const REFETCH_INTERVAL_MS = 30_000;

/** How long a failed refresh is not repeated while the stale value is served. */
const REFRESH_BACKOFF_MS = 30_000;

const cache = new Map<string, CacheEntry>();
const inflight = new Map<string, Promise<string>>();
/** When each secret was last refetched for each reason; kept apart from `cache`, which a refresh replaces. */
const refetchedAt = new Map<string, Partial<Record<RefetchReason, number>>>();

/** Whether a refetch for `reason` is within its budget now; if so, the budget is spent. */
function spendRefetch(secretId: string, reason: RefetchReason, now: number): boolean {
  const budgets = refetchedAt.get(secretId) ?? {};
  if (now - (budgets[reason] ?? -Infinity) < REFETCH_INTERVAL_MS) return false;
  refetchedAt.set(secretId, { ...budgets, [reason]: now });
  return true;
}

const settings = () => ({
  maxAgeMs: setting(SECRETS_MAX_AGE_SECONDS) * 1000,
  staleIfErrorMs: setting(SECRETS_STALE_IF_ERROR_SECONDS) * 1000,
});

/**
 * Bounded so that a hung Secrets Manager gives a 503 well inside the Lambda's time (and inside a
 * job's margins), not a timeout: at worst two attempts of 1.2 s each, connection included.
 */
const SECRETS_CALL_LIMITS = { maxAttempts: 2, timeoutMs: 1_200 } satisfies AwsCallLimits;

const fetchFromAws = (secretId: string): Promise<string> => getSecretValue(secretId, SECRETS_CALL_LIMITS);

/** Where secret values come from: a secret id in, its string value out. */
export type SecretSource = (secretId: string) => Promise<string>;

let fetchSecret: SecretSource = fetchFromAws;

/**
 * Replaces where secrets come from (local runs and tests); `undefined` restores Secrets Manager.
 * Returns the previous source.
 *
 * @example
 * useSecretSource(fileSecretSource('/tmp/authgate-x/secrets.json')); // local/secrets-file.ts
 */
export function useSecretSource(source: SecretSource | undefined): SecretSource {
  const previous = fetchSecret;
  fetchSecret = source ?? fetchFromAws;
  return previous;
}

async function refresh(secretId: string, cached: CacheEntry | undefined): Promise<string> {
  try {
    const value = await fetchSecret(secretId);
    // Not registered for scrubbing as a whole: a JSON secret begins with text anyone can guess
    // (`{"token":"`), which would let an echo test guesses against it (redaction.ts). Each reader
    // registers the credentials it finds in it (upstream/svix.ts, upstream/nextauth-credentials.ts).
    cache.set(secretId, { value, fetchedAt: Date.now() });
    return value;
  } catch (cause) {
    if (cause instanceof ConfigError) throw cause;
    const { maxAgeMs, staleIfErrorMs } = settings();
    // The error's name and status say enough; a message may quote what it failed on.
    const status = (cause as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const reason = cause instanceof Error ? `${cause.name}${status ? ` (HTTP ${status})` : ''}` : 'unknown error';
    if (cached && Date.now() - cached.fetchedAt <= maxAgeMs + staleIfErrorMs) {
      log.warn('secret refresh failed; serving the cached value', { secretId, reason });
      // Never past the end of the stale window: then the next read must try again (and may fail).
      cached.retryAt = Math.min(Date.now() + REFRESH_BACKOFF_MS, cached.fetchedAt + maxAgeMs + staleIfErrorMs);
      return cached.value;
    }
    log.error('secret unavailable', { secretId, reason });
    throw new SecretUnavailableError(secretId, { cause });
  }
}

/**
 * The cached value while it may be served without a fetch (younger than `maxAge`, or kept stale
 * after a failed refresh): the warm path, read without an await.
 */
export function freshSecret(secretId: string, now = Date.now()): string | undefined {
  const cached = cache.get(secretId);
  if (cached && (now - cached.fetchedAt < setting(SECRETS_MAX_AGE_SECONDS) * 1000 || (cached.retryAt ?? 0) > now)) return cached.value;
  return undefined;
}

/**
 * Returns the secret's string value.
 *
 * @example
 * const key = await getSecret(setting(SVIX_SECRET_ID));               // cached
 * const rotated = await getSecret(id, { refetch: 'rejected' });       // after an upstream 401
 * const extended = await getSecret(id, { refetch: 'missing' });       // a server the value does not list
 */
export async function getSecret(secretId: string, options: { refetch?: RefetchReason } = {}): Promise<string> {
  const now = Date.now();
  if (!options.refetch) {
    const fresh = freshSecret(secretId, now);
    if (fresh !== undefined) return fresh;
  }
  // A fetch under way is as fresh as a refetch would be, and joining it spends no budget.
  const pending = inflight.get(secretId);
  if (pending) return pending;
  if (options.refetch && !spendRefetch(secretId, options.refetch, now)) {
    const fresh = freshSecret(secretId, now);
    if (fresh !== undefined) return fresh;
  }
  const request = refresh(secretId, cache.get(secretId)).finally(() => inflight.delete(secretId));
  inflight.set(secretId, request);
  return request;
}

/** Forgets every cached secret (tests; a new container starts empty anyway). */
export function clearSecretCache(): void {
  cache.clear();
  inflight.clear();
  refetchedAt.clear();
}
