import { defineContract } from '../contract.ts';
import { AccountId, MAX_USER_CONTEXT_BYTES, Nonce, OptionalUserContext, QrLoginQuery, ServerId, UserId } from '../schemas/nextauth.ts';

/**
 * The six nextAuth Sessions operations (docs/upstream/nextauth-sessions.md). Every one acts on a
 * server (the tenant) and a browser session (`X-Nonce`). The provoke operations take an optional
 * UserContext; nextAuth declares no request content type on them, so none is required.
 */

const serverPath = { serverid: ServerId };
const nonceHeader = { 'x-nonce': Nonce };
const userContext = { schema: OptionalUserContext, presence: 'optional', maxBytes: MAX_USER_CONTEXT_BYTES } as const;
/** The server and the session (by its nonce's digest, never the nonce), as the audit trail names them. */
const sessionAudit = { path: { serverid: 'serverId' }, nonceHeader: 'x-nonce' } as const;
const session = { family: 'nextauth', headers: nonceHeader, tenant: 'serverid', audit: sessionAudit } as const;
/** A push to the user's app: POST, an optional UserContext, never retried (lib/upstream/nextauth.ts). */
const provoke = { ...session, method: 'POST', body: userContext } as const;

/** Raw bytes or (`img=png`) a PNG; the optional UserContext travels as a body on the GET. */
export const getQrLoginContract = defineContract({
  ...session,
  operation: 'nextauth.get-qr-login',
  method: 'GET',
  path: '/servers/{serverid}/sessions/qr/login',
  pathParameters: serverPath,
  query: QrLoginQuery,
  body: userContext,
});

export const getSessionContract = defineContract({
  ...session,
  operation: 'nextauth.get-session',
  method: 'GET',
  path: '/servers/{serverid}/sessions',
  pathParameters: serverPath,
});

export const logoutSessionContract = defineContract({
  ...session,
  operation: 'nextauth.logout',
  method: 'POST',
  path: '/servers/{serverid}/sessions/logout',
  pathParameters: serverPath,
});

export const provokeLoginContract = defineContract({
  ...provoke,
  operation: 'nextauth.provoke-login',
  path: '/servers/{serverid}/sessions/provokelogin',
  pathParameters: serverPath,
});

export const provokeLoginOnAccountContract = defineContract({
  ...provoke,
  operation: 'nextauth.provoke-login-on-account',
  path: '/servers/{serverid}/accounts/{accountid}/provokelogin',
  pathParameters: { ...serverPath, accountid: AccountId },
  audit: { ...sessionAudit, path: { ...sessionAudit.path, accountid: 'accountId' } },
});

export const provokeLoginOnUserContract = defineContract({
  ...provoke,
  operation: 'nextauth.provoke-login-on-user',
  path: '/servers/{serverid}/users/{userid}/provokelogin',
  pathParameters: { ...serverPath, userid: UserId },
  audit: { ...sessionAudit, path: { ...sessionAudit.path, userid: 'userId' } },
});
