import { httpHandler, json } from '#lib/http';
import { upstreamIdempotencyKey } from '#lib/idempotency';
import { AppId, AppPortalAccessIn } from '#lib/schemas/svix';
import { appPortalAccess } from '#lib/upstream/svix';
import { validate } from '#lib/validation';

/** `POST /api/v1/auth/app-portal-access/{app_id}/`: a magic link and token for the app portal. */
export const handler = httpHandler(
  async (event, { deadline, caller, operation }) => {
    const appId = validate(AppId, event.pathParameters?.app_id, ['path', 'app_id'], 'svix');
    const body = validate(AppPortalAccessIn, event.body, ['body'], 'svix');
    const idempotencyKey = upstreamIdempotencyKey(event.headers['idempotency-key'], { caller, operation, target: [appId] });

    const access = await appPortalAccess(appId, body, { deadline, idempotencyKey });
    return json(200, access);
  },
  { operation: 'svix.app-portal-access', family: 'svix', body: 'json', tenant: { kind: 'svix', pathParameter: 'app_id' } },
);
