import { NEXTAUTH_TENANT_CLAIM, SVIX_TENANT_CLAIM, setting } from './config.ts';
import { ApiError, type Family } from './errors.ts';
import { normaliseServerId } from './schemas/server-id.ts';

/**
 * Tenant binding. When the stage names a JWT claim (SVIX_TENANT_CLAIM, NEXTAUTH_TENANT_CLAIM), a
 * caller may act only on the Svix app ids / nextAuth server ids that claim lists: one customer's
 * back end cannot mint portal links for another's app. Checked before any upstream call, and
 * closed by default: binding on and no such claim in the token means no access.
 */

const CLAIM_VARIABLE = { svix: SVIX_TENANT_CLAIM, nextauth: NEXTAUTH_TENANT_CLAIM };

/**
 * One spelling per id before comparing. A nextAuth server id may come in base64url or standard
 * base64, in the path (the guard runs before validation, on the raw parameter) and in the claim
 * alike; both sides go through the schema's own normalisation.
 */
const SAME_ID: Record<Family, (id: string) => string> = { svix: (id) => id, nextauth: normaliseServerId };

interface JwtAuthorizerContext {
  authorizer?: { jwt?: { claims?: Record<string, unknown> } };
}

/**
 * API Gateway HTTP API hands array claims to Lambda flattened to a string, `"[app_1 app_2]"`;
 * the local API (and a custom issuer) may give a real array or a comma-separated string.
 */
export function parseClaimList(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (typeof value !== 'string') return [];
  return value
    .replace(/^\[|\]$/g, '')
    .split(/[\s,]+/)
    .filter(Boolean);
}

/**
 * The 403 of tenant binding: Svix's own body (nextAuth documents none, so ours), which says nothing
 * of tenants, and `reason`, which says why for the audit record and the local log line only.
 */
export class TenantRefusal extends ApiError {
  constructor(
    kind: Family,
    readonly reason: string,
  ) {
    super(403, ...REFUSAL_BODY[kind]);
    this.name = 'TenantRefusal';
  }
}

const REFUSAL_BODY: Record<Family, [code: string, detail: string]> = {
  svix: ['insufficient access', 'Insufficient access for the given operation.'],
  nextauth: ['forbidden', 'This caller may not act on this server.'],
};

/** Throws `TenantRefusal` (403) unless tenant binding is off or the caller's token lists `id`. */
export function assertTenant(requestContext: unknown, kind: Family, id: string | undefined): void {
  const claim = setting(CLAIM_VARIABLE[kind]);
  if (!claim) return;
  const claims = (requestContext as JwtAuthorizerContext | undefined)?.authorizer?.jwt?.claims;
  const same = SAME_ID[kind];
  const allowed = parseClaimList(claims?.[claim]).map(same);
  // No wildcard: a `*` in a claim is an id like any other, so an identity provider's mapping
  // mistake cannot grant every tenant (the local API's development token expands its own `*`).
  const what = kind === 'svix' ? 'app' : 'server';
  if (claims?.[claim] === undefined) throw new TenantRefusal(kind, `tenant binding: the token has no claim ${claim}`);
  if (id === undefined || !allowed.includes(same(id))) throw new TenantRefusal(kind, `tenant binding: claim ${claim} does not list this ${what}`);
}
