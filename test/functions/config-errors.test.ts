import { describe, expect, it } from 'vitest';
import { handler as appPortalAccess } from '#functions/svix-app-portal-access';
import { invoke } from '../support/invoke.ts';
import { parsedLogs } from '../support/logs.ts';
import { mockSecrets } from '../support/secrets.ts';

mockSecrets({ 'config-test/svix': 'sk_config_test_key' });
process.env.AWS_REGION = 'eu-west-1';

const portalAccess = () =>
  invoke(appPortalAccess, { method: 'POST', rawPath: '/api/v1/auth/app-portal-access/app_demo', pathParameters: { app_id: 'app_demo' }, body: {} });

/** A fresh container whose environment lacks what the function needs. */
describe('missing configuration', () => {
  it('answers a generic 500 and logs the name of the missing variable, never a value', async () => {
    delete process.env.SVIX_API_URL;
    process.env.SVIX_SECRET_ID = 'config-test/svix';
    const res = await portalAccess();
    expect(res.statusCode).toBe(500);
    expect(res.json).toEqual({ code: 'internal_server_error', detail: 'Internal server error.' });
    expect(parsedLogs().find((l) => l.msg === 'configuration error')).toMatchObject({ variable: 'SVIX_API_URL', level: 'error' });
  });

  it('names a malformed variable too', async () => {
    process.env.SVIX_API_URL = 'not a url';
    const res = await portalAccess();
    expect(res.statusCode).toBe(500);
    expect(parsedLogs().find((l) => l.msg === 'configuration error')).toMatchObject({ variable: 'SVIX_API_URL' });
  });
});
