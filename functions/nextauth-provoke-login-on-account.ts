import { provokeLoginOnAccountContract } from '#lib/contracts/nextauth';
import { empty, operationHandler } from '#lib/http';
import { provokeLogin } from '#lib/upstream/nextauth';

/** `POST /servers/{serverid}/accounts/{accountid}/provokelogin`: pushes a login to one account (app instance). Never retried. */
export const handler = operationHandler(provokeLoginOnAccountContract, async ({ path, headers, body }, { call }) => {
  await provokeLogin({ serverId: path.serverid, nonce: headers['x-nonce'], accountId: path.accountid }, body, call);
  return empty(200);
});
