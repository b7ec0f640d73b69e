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

/**
 * The most characters a string keeps in an audit record (audit.ts, caller.ts): claims, user agent,
 * sender, source, reasons, target ids. A record is a log line, and what a caller sends must not decide its size: with every
 * value at most this long, a record of ASCII values stays under 2 KB (test/lib/audit.test.ts).
 */
export const MAX_VALUE_CHARS = 256;
/** Hex digits of the digest that ends a shortened value: 64 bits, enough to keep long values apart. */
const DIGEST_CHARS = 16;

/**
 * `value`, or when longer than `max` its first characters, `…` and a digest of the whole, `max`
 * characters in all: distinct long values stay distinct, and a shortened value says so.
 *
 * @example
 * bounded('x'.repeat(6000)) // 'xxx…x…3f1c9a0b5e7d2c44' (256 characters)
 */
export function bounded(value: string, max = MAX_VALUE_CHARS): string {
  if (value.length <= max) return value;
  let head = value.slice(0, max - 1 - DIGEST_CHARS);
  // Never end on half a surrogate pair: JSON would write it as an escape, and it means nothing.
  if (/[\ud800-\udbff]$/.test(head)) head = head.slice(0, -1);
  return `${head}…${sha256(value, 'hex').slice(0, DIGEST_CHARS)}`;
}
