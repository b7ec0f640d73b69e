import { afterEach, describe, expect, it } from 'vitest';
import { handler as appPortalAccess } from '#functions/svix-app-portal-access';
import { handler as logout } from '#functions/svix-logout';
import { EDGE_ORIGIN_HEADER } from '#lib/edge-origin';
import { clearSecretCache } from '#lib/secrets';
import { createSvixSandbox } from '#local/sandbox/svix';
import { invoke } from '../support/invoke.ts';
import { mockSecrets } from '../support/secrets.ts';
import { useTestUpstream } from '../support/upstream.ts';

/** The edge guard (lib/edge-origin.ts, docs/limits.md) in the real handlers' shared stack. */

const ORG_KEY = 'sk_canary_edge_org_key_5eed';
const SECRET_ID = 'test/svix-edge';
const EDGE_SECRET = 'edge-canary-handlers-9b8a7c6d';
const sm = mockSecrets({ [SECRET_ID]: ORG_KEY });
const upstream = useTestUpstream(
  () => [createSvixSandbox({ orgKey: ORG_KEY })],
  (url) => ({ SVIX_API_URL: url, SVIX_SECRET_ID: SECRET_ID, UPSTREAM_ATTEMPT_TIMEOUT_MS: '400' }),
);

const portal = (headers: Record<string, string>) =>
  invoke(appPortalAccess, {
    method: 'POST',
    rawPath: '/api/v1/auth/app-portal-access/app_demo/',
    pathParameters: { app_id: 'app_demo' },
    headers,
    body: {},
  });

afterEach(() => {
  delete process.env.EDGE_ORIGIN_SECRET;
});

describe('edge guard in the handlers (edge=on)', () => {
  it('refuses a request that went around CloudFront: 403, no secret read, no upstream call', async () => {
    process.env.EDGE_ORIGIN_SECRET = EDGE_SECRET;
    // Nothing cached, so "no secret read" is the guard's doing, not the cache's.
    clearSecretCache();
    sm.resetHistory();
    const direct = await portal({});
    expect(direct.statusCode).toBe(403);
    expect(direct.json).toEqual({ message: 'Forbidden' });
    const anonymous = await invoke(logout, { method: 'POST', rawPath: '/api/v1/auth/logout/', headers: { Authorization: 'Bearer appsk_x' } });
    expect(anonymous.statusCode).toBe(403);
    expect(upstream.requests).toHaveLength(0);
    expect(sm.commandCalls('GetSecretValue')).toHaveLength(0);
  });

  it('serves what CloudFront forwarded, and never passes its header upstream', async () => {
    process.env.EDGE_ORIGIN_SECRET = EDGE_SECRET;
    const res = await portal({ [EDGE_ORIGIN_HEADER]: EDGE_SECRET });
    expect(res.statusCode).toBe(200);
    expect(upstream.requests).toHaveLength(1);
    expect(JSON.stringify(upstream.requests[0]?.headers)).not.toContain(EDGE_SECRET);
  });

  it('is off without EDGE_ORIGIN_SECRET (the default)', async () => {
    expect((await portal({})).statusCode).toBe(200);
  });
});
