import { dashboardAccessContract } from '#lib/contracts/svix';
import { json, operationHandler } from '#lib/http';
import { appPortalAccess } from '#lib/upstream/svix';

/**
 * `POST /api/v1/auth/dashboard-access/{app_id}/` (deprecated, with `Deprecation` and a `Link` to
 * app-portal-access for the same app): the seed's `DashboardAccessOut`, identical to `AppPortalAccessOut`.
 */
export const handler = operationHandler(dashboardAccessContract, async ({ path }, { call }) => {
  const { url, token } = await appPortalAccess(path.app_id, {}, call);
  return json(200, { url, token });
});
