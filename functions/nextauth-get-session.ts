import { header, httpHandler, json } from '#lib/http';
import { Nonce, ServerId } from '#lib/schemas/nextauth';
import { getSession } from '#lib/upstream/nextauth';
import { validate } from '#lib/validation';

/**
 * `GET /servers/{serverid}/sessions/`: whether the session (`X-Nonce`) is logged in, as which
 * user and account, whether a push is possible, and the login QR data. Only LoginStatus's
 * documented fields are returned; a missing `loggedin` is false.
 */
export const handler = httpHandler(
  async (event, { deadline }) => {
    const serverId = validate(ServerId, event.pathParameters?.serverid, ['path', 'serverid'], 'nextauth');
    const nonce = validate(Nonce, header(event, 'x-nonce'), ['header', 'x-nonce'], 'nextauth');

    return json(200, await getSession(serverId, nonce, { deadline }));
  },
  {
    operation: 'nextauth.get-session',
    family: 'nextauth',
    body: 'none',
    tenant: { kind: 'nextauth', pathParameter: 'serverid' },
  },
);
