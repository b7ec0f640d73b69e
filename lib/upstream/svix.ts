import * as v from 'valibot';
import { configOnce, requireEnv } from '../config.ts';
import type { Deadline } from '../deadline.ts';
import { type HttpError, UpstreamResponseError, UpstreamUnavailableError } from '../errors.ts';
import { log } from '../log.ts';
import { registerSecretValue } from '../redaction.ts';
import { type ApplicationTokenExpireIn, type AppPortalAccessIn, PortalAccessOut } from '../schemas/svix.ts';
import { withRotatingCredentials } from './credentials.ts';
import { upstreamEndpoint } from './endpoint.ts';
import { ensureOk, parseJson, retryAfterOf } from './failures.ts';
import { callWithRetry } from './retry.ts';
import { HEADER_TOKEN, send, type UpstreamReply } from './transport.ts';
import { preconnectAtInit, prefetchSecretAtInit } from './warm-up.ts';

/**
 * The Svix Authentication client: a small typed client over `transport.ts` rather than the
 * official `svix` SDK. Measured reasons (docs/decisions.md): the SDK's retry ignores
 * `Retry-After` and shares one timeout across attempts (no per-attempt deadline); a non-JSON 4xx
 * makes it throw a bare SyntaxError, losing the status we must pass on; and the SDK bundles to
 * 122 KB minified (17 KB zipped) for four POSTs. The SDK is still what our e2e tests drive us with.
 */

const endpoint = upstreamEndpoint('SVIX_API_URL');
const orgSecretId = configOnce(() => requireEnv('SVIX_SECRET_ID'));
// In Lambda, init opens the connection and fetches the org key (warm-up.ts). The fetch is marked pure
// so that esbuild drops it, and the AWS SDK with it, from bundles that never use the org key (Svix
// logout holds no key of ours): only `postWithOrgKey` keeps it.
preconnectAtInit('SVIX_API_URL');
const orgKeyAtInit = /* @__PURE__ */ prefetchSecretAtInit('SVIX_SECRET_ID');

export interface SvixCallOptions {
  deadline: Deadline;
  /** Forwarded as `idempotency-key`; it is also what makes our retries safe. */
  idempotencyKey: string;
}

/** The secret holds the org API key, either as the raw string or as `{"token": "..."}`. */
function orgKeyFrom(secret: string): string {
  const isJson = secret.trimStart().startsWith('{');
  // A JSON secret that does not parse must not fall back to the raw text: that text is the secret.
  const key = isJson ? (parseJson(Buffer.from(secret)) as { token?: unknown } | undefined)?.token : secret.trim();
  if (typeof key !== 'string' || !HEADER_TOKEN.test(key)) {
    log.error('svix secret has no usable key', { secretId: orgSecretId() });
    throw new UpstreamUnavailableError(503, 'The gateway has no usable Svix credentials.');
  }
  registerSecretValue(key);
  return key;
}

async function post(operation: string, path: string, token: string, body: unknown, options: SvixCallOptions): Promise<UpstreamReply> {
  const url = endpoint.url(path);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = {
    accept: 'application/json',
    authorization: `Bearer ${token}`,
    'idempotency-key': options.idempotencyKey,
    'user-agent': 'authgate/0.1',
  };
  if (payload) headers['content-type'] = 'application/json';
  // Every Svix POST carries an idempotency key, so repeating it is safe.
  const policy = endpoint.policy(true);
  const reply = await callWithRetry(
    (timeoutMs, attempt) =>
      send({ method: 'POST', url, headers: attempt > 1 ? { ...headers, 'svix-retry-count': String(attempt - 1) } : headers, body: payload, timeoutMs }),
    { deadline: options.deadline, policy, operation },
  );
  // Should the upstream (or a proxy before it) echo our key, in any escaping, lib/http.ts scrubs
  // the decoded answer of it before it leaves (redaction.ts).
  return reply;
}

const sameKey = (a: string, b: string) => a === b;

/** Calls with the org key, surviving a key rotation (see credentials.ts). */
function postWithOrgKey(operation: string, path: string, body: unknown, options: SvixCallOptions): Promise<UpstreamReply> {
  void orgKeyAtInit;
  const source = { upstream: 'svix' as const, secretId: orgSecretId(), operation, parse: orgKeyFrom, same: sameKey };
  return withRotatingCredentials(source, (key) => post(operation, path, key, body, options));
}

const HttpErrorOut = v.object({ code: v.string(), detail: v.string() });
const HTTPValidationError = v.object({
  detail: v.array(v.object({ loc: v.array(v.union([v.string(), v.number()])), msg: v.string(), type: v.string() })),
});

/** Svix 4xx answers go back as Svix sent them, re-serialised from their documented fields only. */
function svixPassThrough(reply: UpstreamReply): HttpError {
  const body = parseJson(reply.body);
  const retryAfter = retryAfterOf(reply);
  const headers = retryAfter ? { 'retry-after': retryAfter } : undefined;
  const asError = v.safeParse(HttpErrorOut, body);
  if (asError.success) return new UpstreamResponseError(reply.status, asError.output, headers);
  const asValidation = v.safeParse(HTTPValidationError, body);
  if (asValidation.success) return new UpstreamResponseError(reply.status, asValidation.output, headers);
  return new UpstreamResponseError(reply.status, { code: 'upstream_error', detail: `Svix answered HTTP ${reply.status}.` }, headers);
}

const appPath = (appId: string) => encodeURIComponent(appId);

/**
 * `POST /api/v1/auth/app-portal-access/{app_id}`: a magic link and token for the app portal.
 *
 * @example
 * const { url, token } = await appPortalAccess('app_123', { expiry: 3600 }, { deadline, idempotencyKey });
 */
export async function appPortalAccess(appId: string, body: AppPortalAccessIn, options: SvixCallOptions): Promise<PortalAccessOut> {
  const reply = await postWithOrgKey('svix.app-portal-access', `/api/v1/auth/app-portal-access/${appPath(appId)}`, body, options);
  ensureOk(reply, svixPassThrough);
  const out = v.safeParse(PortalAccessOut, parseJson(reply.body));
  if (!out.success) throw new UpstreamUnavailableError(502, 'Svix answered with an unexpected body.');
  return out.output;
}

/** `POST /api/v1/auth/app/{app_id}/expire-all`: expires the app's portal tokens (204). */
export async function expireAll(appId: string, body: ApplicationTokenExpireIn, options: SvixCallOptions): Promise<void> {
  const reply = await postWithOrgKey('svix.expire-all', `/api/v1/auth/app/${appPath(appId)}/expire-all`, body, options);
  ensureOk(reply, svixPassThrough);
}

/**
 * `POST /api/v1/auth/logout` with the caller's own app token: our org key is never involved, so a
 * caller cannot log out anything but the token it holds.
 */
export async function logout(appToken: string, options: SvixCallOptions): Promise<void> {
  const reply = await post('svix.logout', '/api/v1/auth/logout', appToken, undefined, options);
  ensureOk(reply, svixPassThrough);
}
