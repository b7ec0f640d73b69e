import { logoutContract } from '#lib/contracts/svix';
import { empty, operationHandler } from '#lib/http';
import { logout } from '#lib/upstream/svix';

/**
 * `POST /api/v1/auth/logout/`: logs out the caller's own app token (`Authorization: Bearer`),
 * forwarded, never swapped for ours: this function holds no Svix key (its role reads no secret).
 */
export const handler = operationHandler(logoutContract, async ({ bearer }, { call }) => {
  await logout(bearer, call);
  return empty(204);
});
