import { operationHandler } from '#lib/contract';
import { logoutContract } from '#lib/contracts/svix';
import { empty } from '#lib/http';
import { logout } from '#lib/upstream/svix';

/**
 * `POST /api/v1/auth/logout/`: logs out the caller's own app token (`Authorization: Bearer`),
 * forwarded, never swapped for ours: this function holds no Svix key (its role reads no secret).
 */
export const handler = operationHandler(logoutContract, async ({ bearer }, { deadline, idempotencyKey }) => {
  await logout(bearer, { deadline, idempotencyKey });
  return empty(204);
});
