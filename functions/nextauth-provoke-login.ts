import { provokeLoginContract } from '#lib/contracts/nextauth';
import { empty, operationHandler } from '#lib/http';
import { provokeLogin } from '#lib/upstream/nextauth';

/**
 * `POST /servers/{serverid}/sessions/provokelogin`: pushes a login to the app of the last account
 * that logged in on this session (nextAuth answers a 4xx when none ever did). Never retried.
 */
export const handler = operationHandler(provokeLoginContract, async ({ path, headers, body }, { call }) => {
  await provokeLogin({ serverId: path.serverid, nonce: headers['x-nonce'] }, body, call);
  return empty(200);
});
