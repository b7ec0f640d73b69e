import { appPortalAccessContract } from '#lib/contracts/svix';
import { json, operationHandler } from '#lib/http';
import { appPortalAccess } from '#lib/upstream/svix';

/** `POST /api/v1/auth/app-portal-access/{app_id}/`: a magic link and token for the app portal. */
export const handler = operationHandler(appPortalAccessContract, async ({ path, body }, { call }) => json(200, await appPortalAccess(path.app_id, body, call)));
