import { operationHandler } from '#lib/contract';
import { logoutContract } from '#lib/contracts/svix';
import { ApiError } from '#lib/errors';
import { empty } from '#lib/http';
import { BearerHeader } from '#lib/schemas/svix';
import { logout } from '#lib/upstream/svix';
import { issuesOf } from '#lib/validation';

/**
 * `POST /api/v1/auth/logout/`: logs out the caller's own app token (`Authorization: Bearer`),
 * forwarded, never swapped for ours: this function holds no Svix key (its role reads no secret).
 */
export const handler = operationHandler(logoutContract, async ({ headers }, { deadline, idempotencyKey }) => {
  const authorization = issuesOf(BearerHeader, headers.authorization, ['header', 'authorization']);
  // Svix answers a missing or malformed bearer with 401 authentication_failed; so do we, locally.
  if (!authorization.ok) throw new ApiError(401, 'authentication_failed', 'Invalid token');
  await logout(authorization.value.slice('Bearer '.length), { deadline, idempotencyKey });
  return empty(204);
});
