import { expireAllContract } from '#lib/contracts/svix';
import { empty, operationHandler } from '#lib/http';
import { expireAll } from '#lib/upstream/svix';

/** `POST /api/v1/auth/app/{app_id}/expire-all/`: expires the app's portal tokens. */
export const handler = operationHandler(expireAllContract, async ({ path, body }, { call }) => {
  await expireAll(path.app_id, body, call);
  return empty(204);
});
