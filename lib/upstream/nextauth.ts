import type { CallContext } from '../call-context.ts';
import { NEXTAUTH_API_URL, NEXTAUTH_SECRET_ID } from '../config.ts';
import { ApiError, type HttpError } from '../errors.ts';
import { log } from '../log.ts';
import { LoginStatus, type UserContext } from '../schemas/nextauth.ts';
import { checkedAnswer, parseJson, type UpstreamRequest, upstreamClient } from './client.ts';
import { secretCredentials } from './credentials.ts';
import { type Credentials, credentialsFor, sameCredentials } from './nextauth-credentials.ts';
import type { UpstreamReply } from './transport.ts';

/**
 * The nextAuth Sessions operations (API 2.2, `https://api.nextauth.com`), over the one upstream
 * client (client.ts), like the Svix ones. Facts: `docs/upstream/nextauth-sessions.md`.
 *
 * - Credentials come from one secret, per server or one for all (nextauth-credentials.ts):
 *   `X-apikey` always, `X-su` (a role to impersonate) when set. Headers are built from scratch
 *   (client.ts), so nothing a caller sent (its own `X-apikey`, `X-su`, ...) can reach nextAuth.
 * - Reads and logout are retried on 5xx/timeouts; the three provoke calls never are, because
 *   repeating one would ring the user's phone twice.
 * - nextAuth documents no error body (docs/upstream/nextauth-sessions.md#status-codes-and-error-bodies):
 *   a 4xx goes back with its status and the gateway's
 *   own `{code, detail}`, never the upstream's text.
 */

interface NextAuthRequest extends UpstreamRequest {
  /** The virtual server acted on: picks the key (nextauth-credentials.ts). */
  serverId: string;
  nonce: string;
  /** What the operation answers: the QR code is `application/octet-stream`, the rest JSON or nothing. */
  accept?: string;
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
 * body, and its text (which may echo what we sent) is never passed on. `Retry-After` is kept (client.ts, `failureFor`).
 */
function nextauthPassThrough(reply: UpstreamReply): HttpError {
  return new ApiError(reply.status, PASS_THROUGH_CODES[reply.status] ?? 'upstream_error', `nextAuth answered HTTP ${reply.status}.`);
}

// In Lambda, init opens the connection and fetches the key (`preconnectAtInit`, transport.ts; `prefetchSecretAtInit`, credentials.ts): every nextAuth call uses it.
const client = upstreamClient<Credentials, NextAuthRequest>({
  baseUrlVariable: NEXTAUTH_API_URL,
  credentials: secretCredentials({
    upstream: 'nextauth',
    secretIdVariable: NEXTAUTH_SECRET_ID,
    parse: (secret, secretId, request) => credentialsFor(secret, request.serverId, secretId),
    same: sameCredentials,
    missing: (request, secretId) => {
      // Said in nextAuth's own words for an unknown server; the log says it is ours.
      log.warn('nextauth server has no key in the gateway secret; not called', { operation: request.operation, serverId: request.serverId, secretId });
      return new ApiError(404, 'not_found', 'Server not found.');
    },
  }),
  headers: (credentials, request) => {
    const headers: Record<string, string> = { accept: request.accept ?? 'application/json', 'x-apikey': credentials.apiKey, 'x-nonce': request.nonce };
    if (credentials.su) headers['x-su'] = credentials.su;
    return headers;
  },
  passThrough: nextauthPassThrough,
});

/** The checked LoginStatus without the fields its schema dropped, and a log line naming them (never their values). */
function withoutDropped(answer: Record<string, unknown>, status: LoginStatus): LoginStatus {
  const kept: Record<string, unknown> = {};
  const dropped: string[] = [];
  for (const [field, value] of Object.entries(status)) {
    if (value !== undefined) kept[field] = value;
    else if (answer[field] !== undefined && answer[field] !== null) dropped.push(field);
  }
  if (dropped.length) log.warn('nextauth LoginStatus had ill-typed fields; dropped', { fields: dropped });
  return kept as LoginStatus;
}

const serverPath = (serverId: string) => `/servers/${encodeURIComponent(serverId)}`;

/**
 * `GET /servers/{serverid}/sessions/qr/login`: the login QR code, raw bytes or (`img=png`) a PNG
 * of `s` pixels. The optional UserContext goes as a JSON body on the GET, which `transport.ts`
 * sends (Node's `fetch` would refuse it).
 *
 * @example
 * const png = await getQrLogin(serverId, nonce, { img: 'png', s: 300 }, undefined, call);
 */
export async function getQrLogin(
  serverId: string,
  nonce: string,
  q: { img?: 'png'; s?: number },
  userContext: UserContext | undefined,
  call: CallContext,
): Promise<Buffer> {
  const query = new URLSearchParams();
  if (q.img !== undefined) query.set('img', q.img);
  if (q.s !== undefined) query.set('s', String(q.s));
  const reply = await client.call({
    operation: 'nextauth.get-qr-login',
    serverId,
    method: 'GET',
    path: `${serverPath(serverId)}/sessions/qr/login`,
    query,
    nonce,
    body: userContext,
    accept: 'application/octet-stream',
    safe: true,
    call,
  });
  return reply.body;
}

/** `GET /servers/{serverid}/sessions/` (the upstream path has the trailing slash): the login status. */
export async function getSession(serverId: string, nonce: string, call: CallContext): Promise<LoginStatus> {
  const reply = await client.call({
    operation: 'nextauth.get-session',
    serverId,
    method: 'GET',
    path: `${serverPath(serverId)}/sessions/`,
    nonce,
    safe: true,
    call,
  });
  const answer = parseJson(reply.body);
  return withoutDropped(answer as Record<string, unknown>, checkedAnswer(answer, LoginStatus, 'nextAuth'));
}

/**
 * `POST /servers/{serverid}/sessions/logout`: forces a logout. Retried: logging out twice is
 * logging out once. The upstream keeps the session's last account, so a push stays possible.
 *
 * @example
 * await logoutSession(serverId, nonce, { deadline: deadlineIn(5_000), audit, waitOutRateLimits: false });   // from a job
 */
export async function logoutSession(serverId: string, nonce: string, call: CallContext): Promise<void> {
  await client.call({
    operation: 'nextauth.logout',
    serverId,
    method: 'POST',
    path: `${serverPath(serverId)}/sessions/logout`,
    nonce,
    safe: true,
    call,
  });
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
  call: CallContext,
): Promise<void> {
  const { serverId, nonce, accountId, userId } = target;
  if (accountId !== undefined && userId !== undefined) throw new Error('provokeLogin: give accountId or userId, not both');
  const [operation, path] =
    accountId !== undefined
      ? ['nextauth.provoke-login-on-account', `${serverPath(serverId)}/accounts/${accountId}/provokelogin`]
      : userId !== undefined
        ? ['nextauth.provoke-login-on-user', `${serverPath(serverId)}/users/${encodeURIComponent(userId)}/provokelogin`]
        : ['nextauth.provoke-login', `${serverPath(serverId)}/sessions/provokelogin`];
  await client.call({ operation, serverId, method: 'POST', path, nonce, body: userContext, safe: false, call });
}
