import { operationHandler } from '#lib/contract';
import { provokeLoginOnUserContract } from '#lib/contracts/nextauth';
import { empty } from '#lib/http';
import { provokeLogin } from '#lib/upstream/nextauth';

/** `POST /servers/{serverid}/users/{userid}/provokelogin`: pushes a login to every account of a user. Never retried. */
export const handler = operationHandler(provokeLoginOnUserContract, async ({ path, headers, body }, { deadline }) => {
  await provokeLogin({ serverId: path.serverid, nonce: headers['x-nonce'], userId: path.userid }, body, { deadline });
  return empty(200);
});
