import { getSessionContract } from '#lib/contracts/nextauth';
import { json, operationHandler } from '#lib/http';
import { getSession } from '#lib/upstream/nextauth';

/**
 * `GET /servers/{serverid}/sessions/`: whether the session (`X-Nonce`) is logged in, as which user
 * and account, whether a push is possible, and the login QR data (LoginStatus's documented fields).
 */
export const handler = operationHandler(getSessionContract, async ({ path, headers }, { call }) =>
  json(200, await getSession(path.serverid, headers['x-nonce'], call)),
);
