import { empty, header, httpHandler } from '#lib/http';
import { Nonce, ServerId } from '#lib/schemas/nextauth';
import { logoutSession } from '#lib/upstream/nextauth';
import { validate } from '#lib/validation';

/** `POST /servers/{serverid}/sessions/logout`: forces a logout of the session (`X-Nonce`); 200, empty. */
export const handler = httpHandler(
  async (event, { deadline }) => {
    const serverId = validate(ServerId, event.pathParameters?.serverid, ['path', 'serverid'], 'nextauth');
    const nonce = validate(Nonce, header(event, 'x-nonce'), ['header', 'x-nonce'], 'nextauth');

    await logoutSession(serverId, nonce, { deadline });
    return empty(200);
  },
  {
    operation: 'nextauth.logout',
    family: 'nextauth',
    body: 'none',
    tenant: { kind: 'nextauth', pathParameter: 'serverid' },
  },
);
