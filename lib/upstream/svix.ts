import * as v from 'valibot';
import type { KeyedCallContext } from '../call-context.ts';
import { SVIX_API_URL, SVIX_SECRET_ID } from '../config.ts';
import { type HttpError, UpstreamResponseError, UpstreamUnavailableError } from '../errors.ts';
import { log } from '../log.ts';
import { registerSecretValue } from '../redaction.ts';
import { type ApplicationTokenExpireIn, type AppPortalAccessIn, PortalAccessOut } from '../schemas/svix.ts';
import { answerOf, parseJson, type UpstreamRequest, upstreamClient } from './client.ts';
import { type CredentialSource, givenCredentials, HEADER_TOKEN, secretCredentials } from './credentials.ts';
import type { UpstreamReply } from './transport.ts';

/**
 * The Svix Authentication operations, over the one upstream client (client.ts), rather than the
 * official `svix` SDK. Measured reasons (docs/decisions.md): the SDK's retry ignores
 * `Retry-After` and shares one timeout across attempts (no per-attempt deadline); a non-JSON 4xx
 * makes it throw a bare SyntaxError, losing the status we must pass on; and the SDK bundles to
 * 122 KB minified (17 KB zipped) for four POSTs. The SDK is still what our e2e tests drive us with.
 */

interface SvixRequest extends UpstreamRequest {
  /** Its `idempotencyKey` is forwarded as `idempotency-key`; it is also what makes our retries safe. */
  call: KeyedCallContext;
  /** The caller's own app token (logout); the other operations use the org key. */
  token?: string;
}

/** The key read from the secret's current value, so it is read once per value, not per call. */
let orgKeyMemo: { secret: string; key: string } | undefined;

/** The secret holds the org API key, either as the raw string or as `{"token": "..."}`. */
function orgKeyFrom(secret: string, secretId: string): string {
  if (orgKeyMemo?.secret === secret) return orgKeyMemo.key;
  const isJson = secret.trimStart().startsWith('{');
  // A JSON secret that does not parse must not fall back to the raw text: that text is the secret.
  const key = isJson ? (parseJson(Buffer.from(secret)) as { token?: unknown } | undefined)?.token : secret.trim();
  if (typeof key !== 'string' || !HEADER_TOKEN.test(key)) {
    log.error('svix secret has no usable key', { secretId });
    throw new UpstreamUnavailableError(503, 'The gateway has no usable Svix credentials.');
  }
  registerSecretValue(key);
  orgKeyMemo = { secret, key };
  return key;
}

const HttpErrorOut = v.object({ code: v.string(), detail: v.string() });
const HTTPValidationError = v.object({
  detail: v.array(v.object({ loc: v.array(v.union([v.string(), v.number()])), msg: v.string(), type: v.string() })),
});

/** Svix 4xx answers go back as Svix sent them, re-serialised from their documented fields only. */
function svixPassThrough(reply: UpstreamReply): HttpError {
  const body = parseJson(reply.body);
  const asError = v.safeParse(HttpErrorOut, body);
  if (asError.success) return new UpstreamResponseError(reply.status, asError.output);
  const asValidation = v.safeParse(HTTPValidationError, body);
  if (asValidation.success) return new UpstreamResponseError(reply.status, asValidation.output);
  return new UpstreamResponseError(reply.status, { code: 'upstream_error', detail: `Svix answered HTTP ${reply.status}.` });
}

/** A Svix client whose bearer token comes from `credentials`. */
const svixClient = (credentials: CredentialSource<string, SvixRequest>) =>
  upstreamClient<string, SvixRequest>({
    baseUrlVariable: SVIX_API_URL,
    credentials,
    headers: (token, request, attempt) => {
      const headers: Record<string, string> = {
        accept: 'application/json',
        authorization: `Bearer ${token}`,
        'idempotency-key': request.call.idempotencyKey,
      };
      if (attempt > 1) headers['svix-retry-count'] = String(attempt - 1);
      return headers;
    },
    passThrough: svixPassThrough,
  });

// Both marked pure so that esbuild drops the one a bundle does not use: Svix logout holds no key
// of ours, and its bundle must not carry the org key's fetch at init, nor the Secrets Manager client (lib/aws/) with it.
/** With the org key, surviving a key rotation (credentials.ts). */
const withOrgKey = /* @__PURE__ */ svixClient(
  /* @__PURE__ */ secretCredentials<string, SvixRequest>({ upstream: 'svix', secretIdVariable: SVIX_SECRET_ID, parse: orgKeyFrom, same: (a, b) => a === b }),
);
/** With the caller's own app token. */
const withCallerToken = /* @__PURE__ */ svixClient(/* @__PURE__ */ givenCredentials((request: SvixRequest) => request.token ?? ''));

// Every Svix POST carries an idempotency key, so repeating it is safe.
const post = (operation: string, path: string, body: unknown, call: KeyedCallContext): SvixRequest => ({
  operation,
  method: 'POST',
  path,
  body,
  safe: true,
  call,
});

const appPath = (appId: string) => encodeURIComponent(appId);

/**
 * `POST /api/v1/auth/app-portal-access/{app_id}`: a magic link and token for the app portal.
 *
 * @example
 * const { url, token } = await appPortalAccess('app_123', { expiry: 3600 }, { deadline, audit, idempotencyKey });
 */
export async function appPortalAccess(appId: string, body: AppPortalAccessIn, call: KeyedCallContext): Promise<PortalAccessOut> {
  const reply = await withOrgKey.call(post('svix.app-portal-access', `/api/v1/auth/app-portal-access/${appPath(appId)}`, body, call));
  return answerOf(reply.body, PortalAccessOut, 'Svix');
}

/** `POST /api/v1/auth/app/{app_id}/expire-all`: expires the app's portal tokens (204). */
export async function expireAll(appId: string, body: ApplicationTokenExpireIn, call: KeyedCallContext): Promise<void> {
  await withOrgKey.call(post('svix.expire-all', `/api/v1/auth/app/${appPath(appId)}/expire-all`, body, call));
}

/**
 * `POST /api/v1/auth/logout` with the caller's own app token: our org key is never involved, so a
 * caller cannot log out anything but the token it holds.
 */
export async function logout(appToken: string, call: KeyedCallContext): Promise<void> {
  await withCallerToken.call({ ...post('svix.logout', '/api/v1/auth/logout', undefined, call), token: appToken });
}
