import { empty, header, httpHandler } from '#lib/http';
import { AccountId, MAX_USER_CONTEXT_BYTES, Nonce, OptionalUserContext, ServerId } from '#lib/schemas/nextauth';
import { provokeLogin } from '#lib/upstream/nextauth';
import { validate } from '#lib/validation';

/**
 * `POST /servers/{serverid}/accounts/{accountid}/provokelogin`: pushes a login to one account
 * (app instance). The upstream declares no request content type here, so the body is read as
 * JSON whatever its `Content-Type`. Never retried.
 */
export const handler = httpHandler(
  async (event, { deadline }) => {
    const serverId = validate(ServerId, event.pathParameters?.serverid, ['path', 'serverid'], 'nextauth');
    const accountId = validate(AccountId, event.pathParameters?.accountid, ['path', 'accountid'], 'nextauth');
    const nonce = validate(Nonce, header(event, 'x-nonce'), ['header', 'x-nonce'], 'nextauth');
    const userContext = validate(OptionalUserContext, event.body, ['body'], 'nextauth');

    await provokeLogin({ serverId, nonce, accountId }, userContext, { deadline });
    return empty(200);
  },
  {
    operation: 'nextauth.provoke-login-on-account',
    family: 'nextauth',
    body: 'optional-json',
    maxBodyBytes: MAX_USER_CONTEXT_BYTES,
    tenant: { kind: 'nextauth', pathParameter: 'serverid' },
  },
);
