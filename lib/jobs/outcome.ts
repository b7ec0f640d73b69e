import { ConfigError, HttpError, UpstreamTransportError } from '../errors.ts';

/**
 * What became of one target, and so of its message:
 *
 * | outcome       | when                                                     | the message          |
 * |---------------|----------------------------------------------------------|----------------------|
 * | `done`        | the upstream said yes, or 404 (session/app already gone) | deleted              |
 * | `transient`   | 408, 409, 425, 429, 5xx, timeouts, anything unexpected   | retried by SQS       |
 * | `permanent`   | any other 4xx (400, 401, 403, 422, ...); an upstream     | dead-lettered by us  |
 * |               | exchange that cannot succeed (refused header, too large) |                      |
 * | `not-started` | the Lambda's time ran low before it could start          | retried by SQS       |
 *
 * An unexpected error (a bug, a missing variable) is transient on purpose: it is retried and, if
 * it persists, reaches the dead-letter queue through the redrive policy, so nothing is lost while
 * someone fixes it. Repeating a permanent 4xx cannot change its answer, so it is not retried.
 */
export type TargetOutcome =
  | { kind: 'done'; status?: number; gone?: true }
  | { kind: 'transient'; status?: number; reason: string }
  | { kind: 'permanent'; status: number; reason: string }
  | { kind: 'not-started'; reason: string };

/** Statuses that may answer differently later: timeouts, conflicts with a request in flight, throttling. */
const TRANSIENT_4XX = new Set([408, 409, 425, 429]);

/**
 * Classifies what an upstream call threw (`undefined`: it did not throw).
 *
 * @example
 * classify(new UpstreamUnavailableError(503, '...')) // → { kind: 'transient', status: 503, reason: '503: ...' }
 */
export function classify(error: unknown): TargetOutcome {
  if (error === undefined) return { kind: 'done' };
  if (error instanceof HttpError) {
    const status = error.statusCode;
    const reason = `${status}: ${error.message}`;
    if (status === 404) return { kind: 'done', status, gone: true };
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
