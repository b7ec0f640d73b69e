import { createHash, randomUUID } from 'node:crypto';
import type { Caller } from './caller.ts';

/**
 * The `idempotency-key` the gateway sends to Svix. Svix scopes replays per org key, and every
 * caller shares ours, so a caller's key is never forwarded as is: two callers sending the same key
 * would get each other's answers (a portal token with another caller's scopes and lifetime, or an
 * expire-all that silently does nothing). docs/isolation.md has the scheme; in short:
 *
 *   authgate_ + base64url(SHA-256(["authgate/1", caller, operation, target, caller's key]))
 *
 * - The same caller repeating a request with the same key gets the same upstream key: Svix replays.
 * - Another caller, another operation or another target never does, whatever key it sends.
 * - Without a caller key the gateway makes one per request, so its own retries replay.
 * Jobs derive theirs from the message instead (jobs/targets.ts). Svix reserves the `auto_` prefix
 * for its client libraries; ours is `authgate_`.
 */
export interface IdempotencyScope {
  caller: Caller;
  /** The route's operation, `svix.app-portal-access`. */
  operation: string;
  /** What the call acts on: the app id, for the Svix operations that name one. */
  target: readonly string[];
}

/**
 * @example
 * upstreamIdempotencyKey(validatedHeader, { caller, operation: 'svix.expire-all', target: [appId] })
 * // → 'authgate_Xq3…' (52 characters)
 */
export function upstreamIdempotencyKey(callerKey: string | undefined, scope: IdempotencyScope): string {
  // A JSON array, so no choice of key or id can make two different inputs hash alike.
  const input = JSON.stringify(['authgate/1', scope.caller, scope.operation, scope.target, callerKey ?? randomUUID()]);
  return `authgate_${createHash('sha256').update(input).digest('base64url')}`;
}
