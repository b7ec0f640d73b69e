import { httpHandler, json } from '#lib/http';
import { upstreamIdempotencyKey } from '#lib/idempotency';
import { AppId } from '#lib/schemas/svix';
import { appPortalAccess } from '#lib/upstream/svix';
import { validate } from '#lib/validation';

/**
 * `POST /api/v1/auth/dashboard-access/{app_id}/` (deprecated): left the Svix API in 2025, so it
 * is served through app-portal-access with no options, which is what the OSS server still does.
 * The answer has the seed's `DashboardAccessOut` shape, identical to `AppPortalAccessOut`.
 */
const DEPRECATION = {
  deprecation: 'true',
  link: '</api/v1/auth/app-portal-access/>; rel="successor-version"',
};

export const handler = httpHandler(
  async (event, { deadline, caller, operation }) => {
    const appId = validate(AppId, event.pathParameters?.app_id, ['path', 'app_id'], 'svix');
    const idempotencyKey = upstreamIdempotencyKey(event.headers['idempotency-key'], { caller, operation, target: [appId] });

    const { url, token } = await appPortalAccess(appId, {}, { deadline, idempotencyKey });
    return json(200, { url, token }, DEPRECATION);
  },
  // The deprecated operation takes no body (the 1.x SDK sends none).
  { operation: 'svix.dashboard-access', family: 'svix', body: 'none', tenant: { kind: 'svix', pathParameter: 'app_id' } },
);
