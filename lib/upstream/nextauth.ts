import { configOnce, requireEnv } from '../config.ts';
import type { Deadline } from '../deadline.ts';
import { ApiError, type HttpError, UpstreamUnavailableError } from '../errors.ts';
import { log } from '../log.ts';
import type { LoginStatus, UserContext } from '../schemas/nextauth.ts';
import { MissingCredentialsError, withRotatingCredentials } from './credentials.ts';
import { upstreamEndpoint } from './endpoint.ts';
import { ensureOk, parseJson, retryAfterOf } from './failures.ts';
import { type Credentials, credentialsFor, sameCredentials } from './nextauth-credentials.ts';
import { callWithRetry } from './retry.ts';
import { send, type UpstreamReply } from './transport.ts';
import { preconnectAtInit, prefetchSecretAtInit } from './warm-up.ts';

/**
 * The nextAuth Sessions client (API 2.2, `https://api.nextauth.com`), a small typed client over
 * `transport.ts`, like the Svix one. Facts: `docs/upstream/nextauth-sessions.md`.
 *
 * - Credentials come from one secret, per server or one for all (nextauth-credentials.ts):
 *   `X-apikey` always, `X-su` (a role to impersonate) when set. Headers are built here from
 *   scratch, so nothing a caller sent (its own `X-apikey`, `X-su`, ...) can reach nextAuth.
 * - Reads and logout are retried on 5xx/timeouts; the three provoke calls never are, because
 *   repeating one would ring the user's phone twice.
 * - nextAuth documents no error body (facts §6): a 4xx goes back with its status and the gateway's
 *   own `{code, detail}`, never the upstream's text.
 */

const endpoint = upstreamEndpoint('NEXTAUTH_API_URL');
const secretId = configOnce(() => requireEnv('NEXTAUTH_SECRET_ID'));
// In Lambda, init opens the connection and fetches the key (warm-up.ts): every nextAuth call uses it.
preconnectAtInit('NEXTAUTH_API_URL');
void prefetchSecretAtInit('NEXTAUTH_SECRET_ID');

export interface NextAuthCallOptions {
  deadline: Deadline;
}

interface Request {
  operation: string;
  /** The virtual server acted on: picks the key (nextauth-credentials.ts). */
  serverId: string;
  method: 'GET' | 'POST';
  /** Path from the API root, already percent-encoded. */
  path: string;
  query?: URLSearchParams;
  nonce: string;
  body?: unknown;
  /** What the operation answers: the QR code is `application/octet-stream`, the rest JSON or nothing. */
  accept?: string;
  /** Whether repeating the request is harmless (see the module comment). */
  safe: boolean;
}

function attemptWith(credentials: Credentials, request: Request, options: NextAuthCallOptions): Promise<UpstreamReply> {
  const url = endpoint.url(request.path);
  if (request.query?.size) url.search = request.query.toString();
  const payload = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
  const headers: Record<string, string> = {
    accept: request.accept ?? 'application/json',
    'x-apikey': credentials.apiKey,
    'x-nonce': request.nonce,
    'user-agent': 'authgate/0.1',
  };
  if (credentials.su) headers['x-su'] = credentials.su;
  if (payload) headers['content-type'] = 'application/json';
  return callWithRetry((timeoutMs) => send({ method: request.method, url, headers, body: payload, timeoutMs }), {
    deadline: options.deadline,
    policy: endpoint.policy(request.safe),
    operation: request.operation,
  });
}

/** Calls with the server's cached credentials, surviving a key rotation (see credentials.ts). */
async function call(request: Request, options: NextAuthCallOptions): Promise<UpstreamReply> {
  const id = secretId();
  const parse = (secret: string) => credentialsFor(secret, request.serverId, id);
  const source = { upstream: 'nextauth' as const, secretId: id, operation: request.operation, parse, same: sameCredentials };
  try {
    return await withRotatingCredentials(source, (credentials) => attemptWith(credentials, request, options));
  } catch (err) {
    if (!(err instanceof MissingCredentialsError)) throw err;
    // Said in nextAuth's own words for an unknown server; the log says it is ours.
    log.warn('nextauth server has no key in the gateway secret; not called', { operation: request.operation, serverId: request.serverId, secretId: id });
    throw new ApiError(404, 'not_found', 'Server not found.');
  }
}

const PASS_THROUGH_CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  429: 'too_many_requests',
};

/**
 * A nextAuth 4xx keeps its status and gets our `{code, detail}`: the upstream documents no error
 * body, and its text (which may echo what we sent) is never passed on. `Retry-After` is kept.
 */
function nextauthPassThrough(reply: UpstreamReply): HttpError {
  const error = new ApiError(reply.status, PASS_THROUGH_CODES[reply.status] ?? 'upstream_error', `nextAuth answered HTTP ${reply.status}.`);
  const retryAfter = retryAfterOf(reply);
  if (retryAfter) error.headers['retry-after'] = retryAfter;
  return error;
}

const serverPath = (serverId: string) => `/servers/${encodeURIComponent(serverId)}`;

/**
 * `GET /servers/{serverid}/sessions/qr/login`: the login QR code, raw bytes or (`img=png`) a PNG
 * of `s` pixels. The optional UserContext goes as a JSON body on the GET, which `transport.ts`
 * sends (Node's `fetch` would refuse it).
 *
 * @example
 * const png = await getQrLogin(serverId, nonce, { img: 'png', s: 300 }, undefined, { deadline });
 */
export async function getQrLogin(
  serverId: string,
  nonce: string,
  q: { img?: 'png'; s?: number },
  userContext: UserContext | undefined,
  o: NextAuthCallOptions,
): Promise<Buffer> {
  const query = new URLSearchParams();
  if (q.img !== undefined) query.set('img', q.img);
  if (q.s !== undefined) query.set('s', String(q.s));
  const reply = await call(
    {
      operation: 'nextauth.get-qr-login',
      serverId,
      method: 'GET',
      path: `${serverPath(serverId)}/sessions/qr/login`,
      query,
      nonce,
      body: userContext,
      accept: 'application/octet-stream',
      safe: true,
    },
    o,
  );
  ensureOk(reply, nextauthPassThrough);
  return reply.body;
}

const optional = <T>(value: unknown, ok: (v: unknown) => v is T): T | undefined => (ok(value) ? value : undefined);
const isString = (v: unknown): v is string => typeof v === 'string';
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
const isInteger = (v: unknown): v is number => Number.isSafeInteger(v);

/**
 * Reads a LoginStatus loosely: the spec makes every field optional, so a missing `loggedin` is
 * false and an ill-typed optional field is dropped (and logged). Only the documented fields are
 * returned. A `loggedin` that is present but not a boolean is not guessed at: 502.
 */
function toLoginStatus(body: unknown): LoginStatus {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new UpstreamUnavailableError(502, 'nextAuth answered with an unexpected body.');
  }
  const raw = body as Record<string, unknown>;
  if (raw.loggedin !== undefined && typeof raw.loggedin !== 'boolean') {
    throw new UpstreamUnavailableError(502, 'nextAuth answered with an unexpected body.');
  }
  const fields: Omit<LoginStatus, 'loggedin'> = {
    userid: optional(raw.userid, isString),
    accountid: optional(raw.accountid, isInteger),
    pk: optional(raw.pk, isString),
    canprovoke: optional(raw.canprovoke, isBoolean),
    hsid: optional(raw.hsid, isString),
    loginqrdata: optional(raw.loginqrdata, isString),
  };
  const dropped = Object.entries(fields)
    .filter(([k, v]) => v === undefined && raw[k] !== undefined && raw[k] !== null)
    .map(([k]) => k);
  if (dropped.length) log.warn('nextauth LoginStatus had ill-typed fields; dropped', { fields: dropped });
  const status: LoginStatus = { loggedin: raw.loggedin === true };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) (status as unknown as Record<string, unknown>)[k] = v;
  return status;
}

/** `GET /servers/{serverid}/sessions/` (the upstream path has the trailing slash): the login status. */
export async function getSession(serverId: string, nonce: string, o: NextAuthCallOptions): Promise<LoginStatus> {
  const reply = await call({ operation: 'nextauth.get-session', serverId, method: 'GET', path: `${serverPath(serverId)}/sessions/`, nonce, safe: true }, o);
  ensureOk(reply, nextauthPassThrough);
  return toLoginStatus(parseJson(reply.body));
}

/**
 * `POST /servers/{serverid}/sessions/logout`: forces a logout. Retried: logging out twice is
 * logging out once. The upstream keeps the session's last account, so a push stays possible.
 *
 * @example
 * await logoutSession(serverId, nonce, { deadline: deadlineIn(5_000) });   // from a job
 */
export async function logoutSession(serverId: string, nonce: string, o: NextAuthCallOptions): Promise<void> {
  const reply = await call({ operation: 'nextauth.logout', serverId, method: 'POST', path: `${serverPath(serverId)}/sessions/logout`, nonce, safe: true }, o);
  ensureOk(reply, nextauthPassThrough);
}

/**
 * Pushes a login to the user's app, never retried:
 * - neither `accountId` nor `userId`: `POST /servers/{serverid}/sessions/provokelogin`, to the
 *   last account that logged in on the session (a 4xx when there is none);
 * - `accountId`: `POST /servers/{serverid}/accounts/{accountid}/provokelogin`;
 * - `userId`: `POST /servers/{serverid}/users/{userid}/provokelogin` (every account of the user).
 */
export async function provokeLogin(
  target: { serverId: string; nonce: string; accountId?: number; userId?: string },
  userContext: UserContext | undefined,
  o: NextAuthCallOptions,
): Promise<void> {
  const { serverId, nonce, accountId, userId } = target;
  if (accountId !== undefined && userId !== undefined) throw new Error('provokeLogin: give accountId or userId, not both');
  const [operation, path] =
    accountId !== undefined
      ? ['nextauth.provoke-login-on-account', `${serverPath(serverId)}/accounts/${accountId}/provokelogin`]
      : userId !== undefined
        ? ['nextauth.provoke-login-on-user', `${serverPath(serverId)}/users/${encodeURIComponent(userId)}/provokelogin`]
        : ['nextauth.provoke-login', `${serverPath(serverId)}/sessions/provokelogin`];
  const reply = await call({ operation, serverId, method: 'POST', path, nonce, body: userContext, safe: false }, o);
  ensureOk(reply, nextauthPassThrough);
}
