import { httpHandler, json } from '#lib/http';
import { idempotencyKeyFor } from '#lib/idempotency';
import { AppId } from '#lib/schemas/svix';
import { appPortalAccess } from '#lib/upstream/svix';
import { validate } from '#lib/validation';

/**
 * `Deprecation` and a `Link` to the successor for the same app (RFC 5829's `successor-version`):
 * a client that follows it must land on a real route, so it names the app, percent-encoded as a
 * path segment must be.
 */
export function deprecationHeaders(appId: string): Record<string, string> {
  return { deprecation: 'true', link: `</api/v1/auth/app-portal-access/${encodeURIComponent(appId)}/>; rel="successor-version"` };
}

/**
 * `POST /api/v1/auth/dashboard-access/{app_id}/` (deprecated): left the Svix API in 2025, so it
 * is served through app-portal-access with no options, which is what the OSS server still does.
 * The answer has the seed's `DashboardAccessOut` shape, identical to `AppPortalAccessOut`.
 */
export const handler = httpHandler(
  async (event, { deadline }) => {
    const appId = validate(AppId, event.pathParameters?.app_id, ['path', 'app_id'], 'svix');
    const idempotencyKey = idempotencyKeyFor(event.headers['idempotency-key']);

    const { url, token } = await appPortalAccess(appId, {}, { deadline, idempotencyKey });
    return json(200, { url, token }, deprecationHeaders(appId));
  },
  // The deprecated operation takes no body (the 1.x SDK sends none).
  { operation: 'svix.dashboard-access', family: 'svix', body: 'none', tenant: { kind: 'svix', pathParameter: 'app_id' } },
);
