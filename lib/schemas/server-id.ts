/**
 * The one spelling of a nextAuth server id, apart from its schema (`nextauth.ts`, which applies
 * it) so that the tenant guard every HTTP function runs can use it without pulling valibot and
 * the nextAuth schemas into the Svix bundles (+2 KB minified for Svix logout, measured).
 */

/** Either base64 alphabet (standard `+/`, url-safe `-_`), padding optional. */
export const SERVER_ID_CHARS = /^[A-Za-z0-9+/_-]+={0,2}$/;

/**
 * A server id in the standard base64 alphabet with its padding: what nextAuth issues (the spec
 * says "Base64 encoded server id"; its WebSocket commands use base64url, see
 * docs/upstream/nextauth-sessions.md#server-id), and so the one spelling that tenant binding, key
 * selection and the upstream path compare and send.
 *
 * Callers may spell an id in base64url (`-` for `+`, `_` for `/`, padding optional) because a
 * `/` cannot travel in a path segment through API Gateway: a `%2F` may be decoded before routing
 * and then match no route. Total on purpose: what is not base64 in either alphabet comes back
 * unchanged for the schema to refuse, so the tenant guard (which runs before validation) can
 * call it on any path parameter or claim entry.
 *
 * @example
 * normaliseServerId('c2FuZGJveC1zZXJ2ZXI_Pj4-MQ') // → 'c2FuZGJveC1zZXJ2ZXI/Pj4+MQ=='
 */
export function normaliseServerId(id: string): string {
  if (!SERVER_ID_CHARS.test(id)) return id;
  const bare = id.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
  // 4n+1 characters is no base64 at all; leave it as it came for the schema to refuse.
  if (bare.length % 4 === 1) return id;
  return bare.padEnd(Math.ceil(bare.length / 4) * 4, '=');
}
