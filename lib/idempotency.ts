import { randomFillSync } from 'node:crypto';
import type { Caller } from './caller.ts';
import { sha256 } from './digest.ts';

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
  if (callerKey === undefined) return `authgate_${randomKey()}`;
  // A JSON array, so no choice of key or id can make two different inputs hash alike.
  const input = JSON.stringify(['authgate/1', scope.caller, scope.operation, scope.target, callerKey]);
  return `authgate_${sha256(input)}`;
}

/**
 * 32 random bytes in base64url, the shape of a derived key. A request without a key has nothing to
 * derive from, so its key is random, from a pool filled 128 keys at a time (as Node's `randomUUID`
 * does): hashing a random value adds nothing, and the hash measured 10 µs of a warm request in the
 * bench (docs/performance-warm.md).
 */
const POOL = Buffer.alloc(32 * 128);
let poolOffset = POOL.length;
function randomKey(): string {
  if (poolOffset === POOL.length) {
    randomFillSync(POOL);
    poolOffset = 0;
  }
  const key = POOL.toString('base64url', poolOffset, poolOffset + 32);
  poolOffset += 32;
  return key;
}
