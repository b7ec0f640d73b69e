/**
 * In-memory emulator of the hosted Svix "Authentication" API: app-portal-access, expire-all and logout
 * (dashboard-access is gone from the current spec and SDK, so it is not emulated).
 * Facts it follows: docs/upstream/svix-auth.md (its operations, idempotency and error bodies, e.g.
 * docs/upstream/svix-auth.md#idempotency). The OSS svix-server can't stand in here because
 * it has no expire-all, answers logout with 501 and issues JWTs instead of `appsk_` tokens.
 *
 * Sandbox-only extras under /_sandbox/svix/: `GET tokens/{token}` (is this token still usable?) and
 * `GET portal` (the target of the magic link).
 */
import { randomInt } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Clock, SandboxRequest, SandboxUpstream } from './types.ts';

export interface SvixSandboxOptions {
  orgKey: string;
  clock?: Clock;
  /** Base of the magic link, default 'http://127.0.0.1:4010/_sandbox/svix/portal'. */
  publicUrl?: string;
}

const CAPABILITIES = ['ViewBase', 'ViewEndpointSecret', 'ManageEndpointSecret', 'ManageTransformations', 'CreateAttempts', 'ManageEndpoint'] as const;
const APP_ID = /^[a-zA-Z0-9\-_.]+$/;
const SESSION_ID = /^[a-zA-Z0-9@_-]+$/;
const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const IDEMPOTENCY_TTL_MS = 12 * 60 * 60 * 1000;

interface AppToken {
  appId: string;
  sessionId: string | null;
  capabilities: string[];
  featureFlags: string[];
  expiresAt: number;
  revoked: boolean;
}

/** What a handler decided; written to the socket (and maybe cached for idempotency) by the dispatcher. */
interface Reply {
  status: number;
  /** undefined means an empty body (204). */
  body?: unknown;
}

type Principal = { kind: 'org' } | { kind: 'app'; token: string; record: AppToken };
type Json = Record<string, unknown>;

const unauthorized: Reply = { status: 401, body: { code: 'authentication_failed', detail: 'Invalid token' } };
const forbidden: Reply = {
  status: 403,
  // The space in "insufficient access" is what Svix really sends.
  body: { code: 'insufficient access', detail: 'Insufficient access for the given operation.' },
};
const appNotFound: Reply = { status: 404, body: { code: 'not_found', detail: 'Application not found' } };
const notFound: Reply = { status: 404, body: { code: 'not_found', detail: 'Not found' } };
const methodNotAllowed: Reply = { status: 405, body: { code: 'method_not_allowed', detail: 'Method not allowed' } };

function invalid(loc: string[], msg: string, type = 'value_error'): Reply {
  return { status: 422, body: { detail: [{ loc, msg, type }] } };
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

/** Request bodies must be a JSON object; null means "answer with `notJsonObject`". */
function parseObject(body: Buffer): Json | null {
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    return isObject(v) ? v : null;
  } catch {
    return null;
  }
}

/** Svix's answer to a body that is not valid JSON of the right shape. */
const notJsonObject = invalid(['body'], 'request body must be a JSON object', 'value_error.jsondecode');

/** Optional integer field within bounds; returns the fallback for absent/null, or a 422. */
function optionalInt(body: Json, field: string, min: number, max: number, fallback: number): number | Reply {
  const v = body[field];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    return invalid(['body', field], `must be an integer between ${min} and ${max}`);
  }
  return v;
}

function newAppToken(): string {
  let s = 'appsk_';
  for (let i = 0; i < 32; i++) s += BASE62[randomInt(BASE62.length)];
  return s;
}

/** Decodes the {app_id} path segment; null when it is not a valid Svix app id or uid. */
function appIdFrom(segment: string): string | null {
  let id: string;
  try {
    id = decodeURIComponent(segment);
  } catch {
    return null;
  }
  return id.length <= 256 && APP_ID.test(id) ? id : null;
}

function write(res: ServerResponse, reply: Reply, extraHeaders: Record<string, string> = {}): void {
  // Svix answers every request with a wildcard CORS origin (spec intro).
  const headers: Record<string, string> = { 'access-control-allow-origin': '*', ...extraHeaders };
  if (reply.body === undefined) {
    res.writeHead(reply.status, headers).end();
    return;
  }
  headers['content-type'] = 'application/json';
  res.writeHead(reply.status, headers).end(JSON.stringify(reply.body));
}

const PORTAL_HTML = `<!doctype html>
<meta charset="utf-8">
<title>Svix app portal (sandbox)</title>
<h1>Svix app portal (sandbox)</h1>
<p>The real portal would log in with the key in this link's fragment. Decoded key:</p>
<pre id="key">(none)</pre>
<script>
  const key = new URLSearchParams(location.hash.slice(1)).get('key');
  if (key) document.getElementById('key').textContent = atob(key);
</script>
`;

export function createSvixSandbox(opts: SvixSandboxOptions): SandboxUpstream {
  const clock = opts.clock ?? Date.now;
  const publicUrl = opts.publicUrl ?? 'http://127.0.0.1:4010/_sandbox/svix/portal';
  // Apps are keyed by the id the client uses in the path (Svix accepts an id or a uid there).
  const apps = new Map<string, { name: string }>([
    ['app_demo', { name: 'Demo app' }],
    ['app_2', { name: 'Second app' }],
  ]);
  const tokens = new Map<string, AppToken>();
  const idempotent = new Map<string, { reply: Reply; expiresAt: number }>();

  function tokenState(record: AppToken | undefined): 'unknown' | 'revoked' | 'expired' | 'valid' {
    if (!record) return 'unknown';
    if (record.revoked) return 'revoked';
    return clock() < record.expiresAt ? 'valid' : 'expired';
  }

  function authenticate(req: SandboxRequest): Principal | null {
    const match = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
    const token = match?.[1]?.trim();
    if (!token) return null;
    if (token === opts.orgKey) return { kind: 'org' };
    const record = tokens.get(token);
    return record && tokenState(record) === 'valid' ? { kind: 'app', token, record } : null;
  }

  function appPortalAccess(appId: string, req: SandboxRequest, who: Principal): Reply {
    if (who.kind !== 'org') return forbidden;
    const b = parseObject(req.body);
    if (b === null) return notJsonObject;

    const expiry = optionalInt(b, 'expiry', 3600, 604800, 604800);
    if (typeof expiry !== 'number') return expiry;
    const sessionId = b.sessionId ?? null;
    if (sessionId !== null && (typeof sessionId !== 'string' || sessionId.length > 64 || !SESSION_ID.test(sessionId))) {
      return invalid(['body', 'sessionId'], 'must be 1-64 characters of [a-zA-Z0-9@_-]');
    }
    const capabilities = b.capabilities ?? null;
    if (capabilities !== null && !(isStringArray(capabilities) && capabilities.every((c) => (CAPABILITIES as readonly string[]).includes(c)))) {
      return invalid(['body', 'capabilities'], `must be a list of ${CAPABILITIES.join(', ')}`);
    }
    const featureFlags = b.featureFlags ?? null;
    // The spec says minItems 1, but its own examples send []; accept [] like the gateway will.
    if (featureFlags !== null && !(isStringArray(featureFlags) && featureFlags.length <= 25)) {
      return invalid(['body', 'featureFlags'], 'must be a list of at most 25 strings');
    }

    if (!apps.has(appId)) {
      // Same rules as the OSS server (validate_create_app_uid): create only with a matching uid.
      const application = b.application ?? null;
      if (application === null) return appNotFound;
      if (!isObject(application)) return invalid(['body', 'application'], 'must be an object', 'value_error.jsondecode');
      if (typeof application.name !== 'string' || application.name.length === 0) {
        return invalid(['body', 'application', 'name'], 'field required', 'value_error.missing');
      }
      const uid = application.uid ?? null;
      if (uid === null) {
        return invalid(['body', 'application', 'uid'], 'Application UID is required', 'application_uid_missing');
      }
      if (uid !== appId) {
        return invalid(['body', 'application', 'uid'], 'Application UID must match the app_id path parameter', 'application_uid_mismatch');
      }
      apps.set(appId, { name: application.name });
    }

    const token = newAppToken();
    tokens.set(token, {
      appId,
      sessionId,
      // Omitting capabilities grants all of them (spec).
      capabilities: capabilities ?? [...CAPABILITIES],
      featureFlags: featureFlags ?? [],
      expiresAt: clock() + expiry * 1000,
      revoked: false,
    });
    const key = Buffer.from(JSON.stringify({ appId, token, region: 'sandbox' })).toString('base64');
    return { status: 200, body: { url: `${publicUrl}#key=${key}`, token } };
  }

  function expireAll(appId: string, req: SandboxRequest, who: Principal): Reply {
    if (who.kind !== 'org') return forbidden;
    if (!apps.has(appId)) return appNotFound;
    const b = parseObject(req.body);
    if (b === null) return notJsonObject;

    // Svix documents no default for expiry; we assume absent/null means 0, i.e. expire right now.
    const expiry = optionalInt(b, 'expiry', 0, 259200, 0);
    if (typeof expiry !== 'number') return expiry;
    const sessionIds = b.sessionIds ?? null;
    if (sessionIds !== null && !(isStringArray(sessionIds) && sessionIds.length <= 1000)) {
      return invalid(['body', 'sessionIds'], 'must be a list of at most 1000 session ids');
    }

    const only = sessionIds === null ? null : new Set(sessionIds);
    const deadline = clock() + expiry * 1000;
    for (const t of tokens.values()) {
      if (t.appId !== appId) continue;
      if (only && (t.sessionId === null || !only.has(t.sessionId))) continue;
      // Never extends a token's life, only shortens it.
      t.expiresAt = Math.min(t.expiresAt, deadline);
    }
    return { status: 204 };
  }

  function logout(who: Principal): Reply {
    // Svix only says "trying to log out other tokens will fail"; we assume that failure is a 403 for the org key.
    if (who.kind !== 'app') return forbidden;
    who.record.revoked = true;
    return { status: 204 };
  }

  /** Runs an authenticated POST operation behind Svix's idempotency layer (docs/upstream/svix-auth.md#idempotency). */
  function operation(req: SandboxRequest, res: ServerResponse, path: string, run: (who: Principal) => Reply): void {
    if (req.method !== 'POST') return write(res, methodNotAllowed, { allow: 'POST' });

    const authorization = req.headers.authorization;
    const idemKey = req.headers['idempotency-key'];
    // Like the OSS server, the body is not part of the key and the layer sits in front of auth,
    // so a cached success replays even if its token has since been logged out.
    const cacheKey = typeof authorization === 'string' && typeof idemKey === 'string' ? JSON.stringify([authorization, idemKey, path]) : null;
    if (cacheKey !== null) {
      const hit = idempotent.get(cacheKey);
      if (hit && clock() < hit.expiresAt) return write(res, hit.reply, { 'idempotent-replayed': 'true' });
      idempotent.delete(cacheKey);
    }

    const who = authenticate(req);
    const reply = who ? run(who) : unauthorized;
    // Only successes are remembered; a failed request can be retried with the same key.
    if (cacheKey !== null && reply.status >= 200 && reply.status < 300) {
      idempotent.set(cacheKey, { reply, expiresAt: clock() + IDEMPOTENCY_TTL_MS });
    }
    write(res, reply);
  }

  function sandboxRoute(req: SandboxRequest, res: ServerResponse, parts: string[]): void {
    const [, , , what, token, ...rest] = parts; // '', '_sandbox', 'svix', what, …
    if (what === 'portal' && token === undefined) {
      if (req.method !== 'GET') return write(res, methodNotAllowed, { allow: 'GET' });
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PORTAL_HTML);
      return;
    }
    if (what === 'tokens' && token !== undefined && rest.length === 0) {
      if (req.method !== 'GET') return write(res, methodNotAllowed, { allow: 'GET' });
      let record: AppToken | undefined;
      try {
        record = tokens.get(decodeURIComponent(token));
      } catch {
        // malformed percent-encoding: certainly not a token we issued
      }
      const state = tokenState(record);
      return write(res, {
        status: 200,
        body: {
          valid: state === 'valid',
          ...(state === 'valid' ? {} : { reason: state }),
          appId: record?.appId ?? null,
          sessionId: record?.sessionId ?? null,
          expiresAt: record ? new Date(record.expiresAt).toISOString() : null,
          capabilities: record?.capabilities ?? null,
          featureFlags: record?.featureFlags ?? null,
        },
      });
    }
    write(res, notFound);
  }

  return (req, res) => {
    // svix-server trims one trailing slash before routing and before the idempotency layer; so do we.
    const raw = req.url.pathname;
    const path = raw.length > 1 && raw.endsWith('/') ? raw.slice(0, -1) : raw;
    const parts = path.split('/');

    if (path === '/_sandbox/svix' || path.startsWith('/_sandbox/svix/')) {
      sandboxRoute(req, res, parts);
      return true;
    }
    if (!path.startsWith('/api/v1/auth/')) return false; // someone else's path

    // parts: '', 'api', 'v1', 'auth', …
    const [, , , , op, a, b, ...rest] = parts;
    if (op === 'logout' && a === undefined) {
      operation(req, res, path, logout);
      return true;
    }
    const portalId = op === 'app-portal-access' && b === undefined && a !== undefined ? a : undefined;
    const expireId = op === 'app' && b === 'expire-all' && rest.length === 0 && a !== undefined ? a : undefined;
    const segment = portalId ?? expireId;
    if (segment === undefined) {
      write(res, notFound);
      return true;
    }
    const appId = appIdFrom(segment);
    operation(req, res, path, (who) => {
      if (appId === null) return invalid(['path', 'app_id'], 'must be 1-256 characters of [a-zA-Z0-9-_.]');
      return portalId !== undefined ? appPortalAccess(appId, req, who) : expireAll(appId, req, who);
    });
    return true;
  };
}
