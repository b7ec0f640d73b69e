import { sha256 } from './digest.ts';

/**
 * Who is calling, as API Gateway vouches for it. Every caller is its own tenant: the identity keys
 * its idempotency namespace (idempotency.ts) and names it in the audit trail (audit.ts).
 *
 * - JWT authorizer: the token's `sub`, plus `client_id` (OAuth client credentials, Cognito) or
 *   `azp` (OIDC) when present, so two clients of one subject stay apart. A token with none of the
 *   three cannot be told from any other caller and is refused (401) by `lib/http.ts`.
 * - IAM authorizer (`callerAuth=iam`): the signing principal's ARN.
 * - No authorizer (Svix logout): the caller is whoever holds the app token it sends; the identity
 *   is a digest of that token, never the token.
 */
export interface Caller {
  /** For people (logs, audit): `jwt:<sub>`, `jwt:<sub>|<client>`, `iam:<arn>`, `token:<digest>`. */
  id: string;
  sub?: string;
  clientId?: string;
  arn?: string;
}

interface AuthorizerContext {
  authorizer?: {
    jwt?: { claims?: Record<string, unknown> };
    iam?: { userArn?: unknown };
  };
}

/** Claims are strings in API Gateway's payload 2.0; anything else (or blank) does not name anyone. */
const claim = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() !== '' ? value : undefined);

/**
 * The identity API Gateway's authorizer established, or `undefined` when it names nobody (no
 * authorizer on the route, or a JWT without `sub`, `client_id` and `azp`).
 *
 * @example
 * callerOf({ authorizer: { jwt: { claims: { sub: 'billing', client_id: 'web' } } } })
 * // → { id: 'jwt:billing|web', sub: 'billing', clientId: 'web' }
 */
export function callerOf(requestContext: unknown): Caller | undefined {
  const authorizer = (requestContext as AuthorizerContext | undefined)?.authorizer;
  const arn = claim(authorizer?.iam?.userArn);
  if (arn) return { id: `iam:${arn}`, arn };
  const claims = authorizer?.jwt?.claims;
  if (!claims) return undefined;
  const sub = claim(claims.sub);
  const clientId = claim(claims.client_id) ?? claim(claims.azp);
  if (!sub && !clientId) return undefined;
  // `id` is for people; keys are derived from all fields (idempotency.ts), so no `sub` holding a
  // `|` can pass for another pair.
  const id = `jwt:${sub ?? ''}${clientId ? `|${clientId}` : ''}`;
  return { id, ...(sub ? { sub } : {}), ...(clientId ? { clientId } : {}) };
}

/** The holder of a bearer credential the gateway forwards (Svix logout), named without the credential. */
export function tokenHolder(token: string): Caller {
  return { id: `token:${sha256(token).slice(0, 22)}` };
}
