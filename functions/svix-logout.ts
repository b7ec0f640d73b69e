import { ApiError } from '#lib/errors';
import { empty, httpHandler } from '#lib/http';
import { upstreamIdempotencyKey } from '#lib/idempotency';
import { BearerHeader } from '#lib/schemas/svix';
import { logout } from '#lib/upstream/svix';
import { issuesOf } from '#lib/validation';

/**
 * `POST /api/v1/auth/logout/`: logs out the caller's own app token, sent as
 * `Authorization: Bearer`. The token is forwarded, never swapped for ours: this function holds
 * no Svix key at all (its IAM role cannot read any secret).
 */
export const handler = httpHandler(
  async (event, { deadline, caller, operation }) => {
    const authorization = issuesOf(BearerHeader, event.headers.authorization, ['header', 'authorization']);
    // Svix answers a missing or malformed bearer with 401 authentication_failed; so do we, locally.
    if (!authorization.ok) throw new ApiError(401, 'authentication_failed', 'Invalid token');
    const appToken = authorization.value.slice('Bearer '.length);
    const idempotencyKey = upstreamIdempotencyKey(event.headers['idempotency-key'], { caller, operation, target: [] });

    await logout(appToken, { deadline, idempotencyKey });
    return empty(204);
  },
  { operation: 'svix.logout', family: 'svix', body: 'none', anonymous: true },
);
