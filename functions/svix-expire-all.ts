import { empty, httpHandler } from '#lib/http';
import { upstreamIdempotencyKey } from '#lib/idempotency';
import { AppId, ApplicationTokenExpireIn } from '#lib/schemas/svix';
import { expireAll } from '#lib/upstream/svix';
import { validate } from '#lib/validation';

/** `POST /api/v1/auth/app/{app_id}/expire-all/`: expires the app's portal tokens. */
export const handler = httpHandler(
  async (event, { deadline, caller, operation }) => {
    const appId = validate(AppId, event.pathParameters?.app_id, ['path', 'app_id'], 'svix');
    const body = validate(ApplicationTokenExpireIn, event.body, ['body'], 'svix');
    const idempotencyKey = upstreamIdempotencyKey(event.headers['idempotency-key'], { caller, operation, target: [appId] });

    await expireAll(appId, body, { deadline, idempotencyKey });
    return empty(204);
  },
  { operation: 'svix.expire-all', family: 'svix', body: 'json', tenant: { kind: 'svix', pathParameter: 'app_id' } },
);
