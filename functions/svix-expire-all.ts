import { operationHandler } from '#lib/contract';
import { expireAllContract } from '#lib/contracts/svix';
import { empty } from '#lib/http';
import { expireAll } from '#lib/upstream/svix';

/** `POST /api/v1/auth/app/{app_id}/expire-all/`: expires the app's portal tokens. */
export const handler = operationHandler(expireAllContract, async ({ path, body }, { deadline, idempotencyKey }) => {
  await expireAll(path.app_id, body, { deadline, idempotencyKey });
  return empty(204);
});
