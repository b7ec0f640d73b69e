import { hash } from 'node:crypto';

/**
 * SHA-256 of `text` (UTF-8): the one digest the gateway takes of ids, tokens and nonces
 * (idempotency.ts, caller.ts, audit.ts, jobs/targets.ts, edge-origin.ts). Node's one-shot
 * `crypto.hash`: cheaper per call than a `createHash` object, and the same digest.
 *
 * @example
 * sha256('n-1')          // 43 base64url characters
 * sha256('n-1', 'hex')   // 64 hex digits
 */
export const sha256 = (text: string, encoding: 'base64url' | 'hex' = 'base64url'): string => hash('sha256', text, encoding);
