import { operationHandler } from '#lib/contract';
import { provokeLoginOnAccountContract } from '#lib/contracts/nextauth';
import { empty } from '#lib/http';
import { provokeLogin } from '#lib/upstream/nextauth';

/** `POST /servers/{serverid}/accounts/{accountid}/provokelogin`: pushes a login to one account (app instance). Never retried. */
export const handler = operationHandler(provokeLoginOnAccountContract, async ({ path, headers, body }, { deadline }) => {
  await provokeLogin({ serverId: path.serverid, nonce: headers['x-nonce'], accountId: path.accountid }, body, { deadline });
  return empty(200);
});
