import { empty, header, httpHandler } from '#lib/http';
import { MAX_USER_CONTEXT_BYTES, Nonce, OptionalUserContext, ServerId, UserId } from '#lib/schemas/nextauth';
import { provokeLogin } from '#lib/upstream/nextauth';
import { validate } from '#lib/validation';

/** `POST /servers/{serverid}/users/{userid}/provokelogin`: pushes a login to every account of a user. Never retried. */
export const handler = httpHandler(
  async (event, { deadline }) => {
    const serverId = validate(ServerId, event.pathParameters?.serverid, ['path', 'serverid'], 'nextauth');
    const userId = validate(UserId, event.pathParameters?.userid, ['path', 'userid'], 'nextauth');
    const nonce = validate(Nonce, header(event, 'x-nonce'), ['header', 'x-nonce'], 'nextauth');
    const userContext = validate(OptionalUserContext, event.body, ['body'], 'nextauth');

    await provokeLogin({ serverId, nonce, userId }, userContext, { deadline });
    return empty(200);
  },
  {
    operation: 'nextauth.provoke-login-on-user',
    family: 'nextauth',
    body: 'optional-json',
    maxBodyBytes: MAX_USER_CONTEXT_BYTES,
    tenant: { kind: 'nextauth', pathParameter: 'serverid' },
  },
);
