import { provokeLoginOnUserContract } from '#lib/contracts/nextauth';
import { empty, operationHandler } from '#lib/http';
import { provokeLogin } from '#lib/upstream/nextauth';

/** `POST /servers/{serverid}/users/{userid}/provokelogin`: pushes a login to every account of a user. Never retried. */
export const handler = operationHandler(provokeLoginOnUserContract, async ({ path, headers, body }, { call }) => {
  await provokeLogin({ serverId: path.serverid, nonce: headers['x-nonce'], userId: path.userid }, body, call);
  return empty(200);
});
