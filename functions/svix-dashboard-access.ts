import { operationHandler } from '#lib/contract';
import { dashboardAccessContract } from '#lib/contracts/svix';
import { json } from '#lib/http';
import { appPortalAccess } from '#lib/upstream/svix';

/**
 * `Deprecation` and a `Link` to the successor for the same app (RFC 5829's `successor-version`):
 * a client that follows it must land on a real route, so it names the app, percent-encoded as a
 * path segment must be.
 */
export function deprecationHeaders(appId: string): Record<string, string> {
  return { deprecation: 'true', link: `</api/v1/auth/app-portal-access/${encodeURIComponent(appId)}/>; rel="successor-version"` };
}

/**
 * `POST /api/v1/auth/dashboard-access/{app_id}/` (deprecated): left the Svix API in 2025, so it is
 * served through app-portal-access with no options, as the OSS server still does; the answer has
 * the seed's `DashboardAccessOut` shape, identical to `AppPortalAccessOut`.
 */
export const handler = operationHandler(dashboardAccessContract, async ({ path }, { deadline, idempotencyKey }) => {
  const { url, token } = await appPortalAccess(path.app_id, {}, { deadline, idempotencyKey });
  return json(200, { url, token }, deprecationHeaders(path.app_id));
});
