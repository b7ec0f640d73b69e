import { operationHandler } from '#lib/contract';
import { dashboardAccessContract } from '#lib/contracts/svix';
import { json } from '#lib/http';
import { appPortalAccess } from '#lib/upstream/svix';

/**
 * `POST /api/v1/auth/dashboard-access/{app_id}/` (deprecated, with `Deprecation` and a `Link` to
 * app-portal-access for the same app): the seed's `DashboardAccessOut`, identical to `AppPortalAccessOut`.
 */
export const handler = operationHandler(dashboardAccessContract, async ({ path }, { deadline, idempotencyKey }) => {
  const { url, token } = await appPortalAccess(path.app_id, {}, { deadline, idempotencyKey });
  return json(200, { url, token });
});
