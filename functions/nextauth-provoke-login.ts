import { empty, header, httpHandler } from '#lib/http';
import { MAX_USER_CONTEXT_BYTES, Nonce, OptionalUserContext, ServerId } from '#lib/schemas/nextauth';
import { provokeLogin } from '#lib/upstream/nextauth';
import { validate } from '#lib/validation';

/**
 * `POST /servers/{serverid}/sessions/provokelogin`: pushes a login to the app of the last account
 * that logged in on this session (nextAuth answers a 4xx when none ever did). Never retried.
 */
export const handler = httpHandler(
  async (event, { deadline }) => {
    const serverId = validate(ServerId, event.pathParameters?.serverid, ['path', 'serverid'], 'nextauth');
    const nonce = validate(Nonce, header(event, 'x-nonce'), ['header', 'x-nonce'], 'nextauth');
    const userContext = validate(OptionalUserContext, event.body, ['body'], 'nextauth');

    await provokeLogin({ serverId, nonce }, userContext, { deadline });
    return empty(200);
  },
  {
    operation: 'nextauth.provoke-login',
    family: 'nextauth',
    body: 'optional-json',
    maxBodyBytes: MAX_USER_CONTEXT_BYTES,
    tenant: { kind: 'nextauth', pathParameter: 'serverid' },
  },
);
