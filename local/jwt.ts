import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type JWK, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { PROJECT_ROOT } from './routes.ts';

/**
 * The local stand-in for API Gateway's JWT authorizer: the same checks (signature, issuer,
 * audience, expiry, one of the route's scopes) and the same answers (401/403 `{"message": …}`),
 * with a development signing key kept in `.local/` (git-ignored) so `npm start` and
 * `npm run token` agree on it.
 */

export const LOCAL_ISSUER = 'https://authgate.local/';
export const LOCAL_AUDIENCE = 'authgate';
const ALG = 'ES256';

export interface RouteAuthorizer {
  name: string;
  scopes?: string[];
}

export interface DevKey {
  privateJwk: JWK;
  publicJwk: JWK;
}

export async function loadOrCreateDevKey(dir = join(PROJECT_ROOT, '.local')): Promise<DevKey> {
  const file = join(dir, 'jwt-dev-key.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DevKey;
  const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
  const key: DevKey = { privateJwk: await exportJWK(privateKey), publicJwk: await exportJWK(publicKey) };
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, JSON.stringify(key), { mode: 0o600 });
  return key;
}

export interface MintOptions {
  scopes: string[];
  claims?: Record<string, unknown>;
  /** `null`: no `sub` claim at all (a token naming nobody, refused by the functions). */
  subject?: string | null;
  /** e.g. '12h', '-1m' for an expired token. */
  expiresIn?: string;
  issuer?: string;
  audience?: string;
}

export async function mintToken(key: DevKey, options: MintOptions): Promise<string> {
  const privateKey = await importJWK(key.privateJwk, ALG);
  const jwt = new SignJWT({ ...options.claims, scope: options.scopes.join(' ') })
    .setProtectedHeader({ alg: ALG, typ: 'JWT' })
    .setIssuer(options.issuer ?? LOCAL_ISSUER)
    .setAudience(options.audience ?? LOCAL_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '12h');
  if (options.subject !== null) jwt.setSubject(options.subject ?? 'local-developer');
  return jwt.sign(privateKey);
}

export type AuthorizerOutcome =
  | { ok: true; context: { jwt: { claims: Record<string, string>; scopes: string[] } } }
  | { ok: false; status: 401 | 403; body: { message: string } };

/** API Gateway hands claims to Lambda as strings, arrays flattened to `"[a b]"`. */
function flattenClaims(payload: JWTPayload): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(payload)) {
    out[k] = Array.isArray(v) ? `[${v.join(' ')}]` : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
  }
  return out;
}

const UNAUTHORIZED = { ok: false, status: 401, body: { message: 'Unauthorized' } } as const;

/** Importing a JWK costs more than verifying with it: once per key, not per request. */
const publicKeys = new WeakMap<DevKey, ReturnType<typeof importJWK>>();
function publicKeyOf(key: DevKey) {
  let imported = publicKeys.get(key);
  if (!imported) {
    imported = importJWK(key.publicJwk, ALG);
    publicKeys.set(key, imported);
  }
  return imported;
}

/**
 * Verified tokens, by their text, until their `exp`: the ES256 signature check was the largest
 * single cost of the local API under load (~17 % of its CPU, `npm run bench`), and the same token
 * arrives on every request. API Gateway does this work natively in AWS.
 */
const verifiedByKey = new WeakMap<DevKey, Map<string, JWTPayload>>();
const MAX_VERIFIED = 1_000;

async function verify(key: DevKey, token: string): Promise<JWTPayload | undefined> {
  let verified = verifiedByKey.get(key);
  if (!verified) {
    verified = new Map();
    verifiedByKey.set(key, verified);
  }
  const known = verified.get(token);
  if (known && (known.exp ?? 0) * 1000 > Date.now()) return known;
  verified.delete(token);
  try {
    const { payload } = await jwtVerify(token, await publicKeyOf(key), {
      issuer: LOCAL_ISSUER,
      audience: LOCAL_AUDIENCE,
      algorithms: [ALG],
      requiredClaims: ['exp'],
    });
    if (verified.size >= MAX_VERIFIED) verified.clear();
    verified.set(token, payload);
    return payload;
  } catch {
    return undefined;
  }
}

export async function authorize(key: DevKey, authorization: string | undefined, route: RouteAuthorizer): Promise<AuthorizerOutcome> {
  if (!authorization) return UNAUTHORIZED;
  // API Gateway accepts the token with or without the Bearer prefix.
  const token = authorization.replace(/^Bearer\s+/i, '').trim();
  const payload = await verify(key, token);
  if (!payload) return UNAUTHORIZED;
  const scopes = scopesOf(payload);
  if (route.scopes?.length && !route.scopes.some((s) => scopes.includes(s))) {
    return { ok: false, status: 403, body: { message: 'Forbidden' } };
  }
  return { ok: true, context: { jwt: { claims: flattenClaims(payload), scopes } } };
}

/** The claims the local API binds tenants with (the stage parameters name them in AWS). */
export const TENANT_CLAIMS = { svix: 'svix_app_ids', nextauth: 'nextauth_server_ids' } as const;

/** Every scope some route in serverless.yml asks for: what the development token carries. */
export function allScopes(routes: Array<{ authorizer?: RouteAuthorizer }>): string[] {
  return [...new Set(routes.flatMap((r) => r.authorizer?.scopes ?? []))].sort();
}

/** The scopes a token's payload claims, `scope` (space-separated) or `scp` (a list), as API Gateway reads them. */
export function scopesOf(payload: Record<string, unknown>): string[] {
  const raw = payload.scope ?? payload.scp;
  return (Array.isArray(raw) ? raw.map(String) : String(raw ?? '').split(' ')).filter(Boolean);
}
