import { logoutSessionContract } from '#lib/contracts/nextauth';
import { empty, operationHandler } from '#lib/http';
import { logoutSession } from '#lib/upstream/nextauth';

/** `POST /servers/{serverid}/sessions/logout`: forces a logout of the session (`X-Nonce`); 200, empty. */
export const handler = operationHandler(logoutSessionContract, async ({ path, headers }, { call }) => {
  await logoutSession(path.serverid, headers['x-nonce'], call);
  return empty(200);
});
