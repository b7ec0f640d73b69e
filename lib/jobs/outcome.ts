import { ConfigError, HttpError, UpstreamTransportError } from '../errors.ts';
import { retryAfterMs } from '../upstream/retry.ts';
import type { Target } from './schema.ts';

/**
 * What became of one target, and so of its message:
 *
 * | outcome       | when                                                     | the message          |
 * |---------------|----------------------------------------------------------|----------------------|
 * | `done`        | the upstream said yes (2xx)                              | deleted              |
 * | `transient`   | 408, 409, 425, 5xx, timeouts, anything unexpected        | retried by SQS       |
 * | `rate-limited`| 429, or no pacing slot before the invocation's deadline  | continued (deferred) |
 * | `permanent`   | 404: the app or server does not exist (a typo, an        | dead-lettered by us  |
 * |               | off-boarding aimed at nothing); any other 4xx (400, 401, |                      |
 * |               | 403, 422, ...); an exchange that cannot succeed          |                      |
 * | `not-started` | the Lambda's time ran low before it could start          | retried by SQS       |
 *
 * What is genuinely already gone is a success, not a 404: Svix's expire-all answers 204 for
 * session ids it no longer has and 404 only for an unknown *app*; nextAuth's logout answers 200 for
 * a session already logged out, and 404 only for an unknown *server* (or one the gateway holds no
 * key for). So a 404 means the job aimed at something that does not exist, and an off-boarding must
 * not report that as done (docs/jobs.md).
 *
 * An unexpected error (a bug, a missing variable) is transient on purpose: it is retried and, if
 * it persists, reaches the dead-letter queue through the redrive policy, so nothing is lost while
 * someone fixes it. Repeating a permanent 4xx cannot change its answer, so it is not retried.
 */
export type TargetOutcome =
  | { kind: 'done'; status?: number }
  | { kind: 'transient'; status?: number; reason: string }
  /** The upstream (429) or our own pacing said "not now": `retryAfterMs` is when to come back, if known. */
  | { kind: 'rate-limited'; status?: 429; reason: string; retryAfterMs?: number }
  | { kind: 'permanent'; status: number; reason: string }
  | { kind: 'not-started'; reason: string };

/** Statuses that may answer differently later: timeouts, conflicts with a request in flight. (429 is `rate-limited`.) */
const TRANSIENT_4XX = new Set([408, 409, 425]);

/** What a 404 means for each kind of target (see the table above). */
const UNKNOWN_TARGET: Record<Target['op'], string> = {
  'svix.expire-all': 'no such Svix app',
  'nextauth.logout': 'no such nextAuth server (or no key for it in the gateway secret)',
};

/**
 * Classifies what an upstream call for `op` threw (`undefined`: it did not throw).
 *
 * @example
 * classify(new UpstreamUnavailableError(503, '...'), 'svix.expire-all') // → { kind: 'transient', status: 503, reason: '503: ...' }
 */
export function classify(error: unknown, op: Target['op']): TargetOutcome {
  if (error === undefined) return { kind: 'done' };
  if (error instanceof HttpError) {
    const status = error.statusCode;
    const reason = `${status}: ${error.message}`;
    if (status === 429) {
      const after = retryAfterMs(error.headers['retry-after']);
      return { kind: 'rate-limited', status, reason, ...(after === undefined ? {} : { retryAfterMs: after }) };
    }
    if (status === 404) return { kind: 'permanent', status, reason: `404: ${UNKNOWN_TARGET[op]}` };
    // An exchange that can never succeed (Node refused the request, the answer is too large):
    // redelivery would only repeat it.
    if (error.cause instanceof UpstreamTransportError && error.cause.kind === 'invalid') return { kind: 'permanent', status, reason };
    if (status >= 500 || TRANSIENT_4XX.has(status)) return { kind: 'transient', status, reason };
    if (status >= 400) return { kind: 'permanent', status, reason };
    return { kind: 'transient', status, reason };
  }
  if (error instanceof ConfigError) return { kind: 'transient', reason: `configuration: ${error.message}` };
  return { kind: 'transient', reason: `unexpected ${error instanceof Error ? error.name : 'error'}` };
}
