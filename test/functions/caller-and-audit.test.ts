import { describe, expect, it } from 'vitest';
import { handler as getSession } from '#functions/nextauth-get-session';
import { handler as provokeLoginOnUser } from '#functions/nextauth-provoke-login-on-user';
import { handler as appPortalAccess } from '#functions/svix-app-portal-access';
import { handler as expireAll } from '#functions/svix-expire-all';
import { handler as logout } from '#functions/svix-logout';
import { DEFAULT_SANDBOX_SERVER_ID } from '#local/sandbox/nextauth';
import { invoke } from '../support/invoke.ts';
import { logLines, parsedLogs } from '../support/logs.ts';
import { useBothSandboxes } from '../support/upstream.ts';

const ORG_KEY = 'sk_canary_audit_org_key';
const NEXTAUTH_KEY = 'canary-audit-nextauth-key';
const SID = DEFAULT_SANDBOX_SERVER_ID;
const NONCE = 'audit-nonce-canary-0123456789';
const upstream = useBothSandboxes({ svix: ORG_KEY, nextauth: NEXTAUTH_KEY, serverId: SID });

const jwt = (claims: Record<string, unknown>) => ({ jwt: { claims, scopes: ['svix/app-portal-access'] } });
const portal = (authorizer: unknown, headers: Record<string, string> = {}) =>
  invoke(appPortalAccess, {
    method: 'POST',
    rawPath: '/api/v1/auth/app-portal-access/app_demo',
    pathParameters: { app_id: 'app_demo' },
    headers: { 'user-agent': 'billing-service/1.2', ...headers },
    body: { expiry: 3600 },
    sourceIp: '198.51.100.7',
    authorizer,
  });
const audits = () => parsedLogs().filter((l) => l.msg === 'audit');

describe('caller identity', () => {
  it.each([
    ['sub', { sub: 'billing' }, 'jwt:billing'],
    ['sub and client_id', { sub: 'billing', client_id: 'web' }, 'jwt:billing|web'],
    ['azp alone', { azp: 'batch-client' }, 'jwt:|batch-client'],
  ])('names a JWT caller by %s', async (_what, claims, id) => {
    expect((await portal(jwt(claims))).statusCode).toBe(200);
    expect(audits()[0]?.caller).toMatchObject({ id });
  });

  it('gives `sub: "billing|web"` and `sub: "billing", client_id: "web"` different ids', async () => {
    await portal(jwt({ sub: 'billing|web' }));
    await portal(jwt({ sub: 'billing', client_id: 'web' }));
    const [joined, pair] = audits().map((r) => (r.caller as { id: string }).id);
    expect(joined).toBe('jwt:billing%7Cweb');
    expect(pair).toBe('jwt:billing|web');
  });

  it('keeps the record under 2 KB when client_id, sub and user agent are 6,000 characters each', async () => {
    const long = (c: string) => c.repeat(6_000);
    expect((await portal(jwt({ sub: long('s'), client_id: long('c') }), { 'user-agent': long('u') })).statusCode).toBe(200);
    const line = logLines.find((l) => l.includes('"msg":"audit"')) ?? '';
    expect(Buffer.byteLength(line)).toBeLessThan(2_048);
    expect(audits()[0]?.caller).toMatchObject({ id: expect.stringMatching(/^jwt:s{103}…[0-9a-f]{16}\|c{103}…[0-9a-f]{16}$/) });
  });

  it('names an IAM (SigV4) caller by its ARN', async () => {
    const arn = 'arn:aws:sts::123456789012:assumed-role/billing/session-1';
    expect((await portal({ iam: { userArn: arn, accountId: '123456789012', accessKey: 'AKIAEXAMPLE' } })).statusCode).toBe(200);
    expect(audits()[0]?.caller).toEqual({ id: `iam:${arn}`, arn });
  });

  it.each([
    [
      'Svix',
      () => portal(jwt({ iss: 'https://issuer.example.com/', scope: 'svix/app-portal-access' })),
      { code: 'authentication_failed', detail: expect.any(String) },
    ],
    [
      'nextAuth',
      () =>
        invoke(getSession, {
          method: 'GET',
          rawPath: `/servers/${encodeURIComponent(SID)}/sessions`,
          pathParameters: { serverid: SID },
          headers: { 'x-nonce': NONCE },
          authorizer: jwt({ sub: '  ' }),
        }),
      { code: 'unauthorized', detail: expect.any(String) },
    ],
  ])('refuses (401, %s shape, no upstream call) a JWT that names nobody: no sub, client_id or azp', async (_family, call, body) => {
    const res = await call();
    expect(res.statusCode).toBe(401);
    expect(res.json).toEqual(body);
    expect(upstream.requests).toHaveLength(0);
  });

  it('keys the idempotency namespace by the whole identity: the same sub from two clients shares nothing', async () => {
    await portal(jwt({ sub: 'svc', client_id: 'a' }), { 'idempotency-key': 'k' });
    await portal(jwt({ sub: 'svc', client_id: 'b' }), { 'idempotency-key': 'k' });
    await portal(jwt({ sub: 'svc', client_id: 'a' }), { 'idempotency-key': 'k' });
    const [a, b, again] = upstream.requests.map((r) => r.headers['idempotency-key']);
    expect(b).not.toBe(a);
    expect(again).toBe(a);
  });
});

describe('the audit trail', () => {
  it('writes one record per operation: who, from where, on what, how it ended, and the request ids', async () => {
    const res = await portal(jwt({ sub: 'billing', client_id: 'web' }));
    expect(res.statusCode).toBe(200);
    const records = audits();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      level: 'info',
      operation: 'svix.app-portal-access',
      caller: { id: 'jwt:billing|web', sub: 'billing', clientId: 'web' },
      sourceIp: '198.51.100.7',
      userAgent: 'billing-service/1.2',
      target: { appId: 'app_demo' },
      status: 200,
      upstreamStatus: 200,
      attempts: 1,
      durationMs: expect.any(Number),
      apiRequestId: expect.any(String),
      requestId: expect.any(String),
    });
    // Never the magic link or the token the caller got.
    const { url, token } = res.json as { url: string; token: string };
    expect(logLines.join('\n')).not.toContain(token);
    expect(logLines.join('\n')).not.toContain(url);
  });

  it('records the session ids of an expire-all, and refused requests too', async () => {
    await invoke(expireAll, {
      method: 'POST',
      rawPath: '/api/v1/auth/app/app_x/expire-all',
      pathParameters: { app_id: 'app_x' },
      body: { sessionIds: ['s-1', 's-2'] },
    });
    await invoke(expireAll, { method: 'POST', rawPath: '/api/v1/auth/app/app_x/expire-all', pathParameters: { app_id: 'app_x' }, body: { expiry: 'soon' } });
    const [done, refused] = audits();
    expect(done).toMatchObject({ operation: 'svix.expire-all', target: { appId: 'app_x', sessionIds: ['s-1', 's-2'] }, upstreamStatus: 404 });
    expect(refused).toMatchObject({ operation: 'svix.expire-all', status: 422, target: { appId: 'app_x' } });
    expect(refused?.upstreamStatus).toBeUndefined();
  });

  it('keeps long user agents and session ids that differ only past the bound apart, as audit.ts bounds them', async () => {
    const long = (c: string, end: string) => `${c.repeat(6_000)}${end}`;
    for (const end of ['1', '2']) {
      await invoke(expireAll, {
        method: 'POST',
        rawPath: '/api/v1/auth/app/app_x/expire-all',
        pathParameters: { app_id: 'app_x' },
        headers: { 'user-agent': long('u', end) },
        body: { sessionIds: [long('s', end)] },
      });
    }
    const [a, b] = audits() as Array<{ userAgent: string; target: { sessionIds: string[] } }>;
    expect(a?.userAgent).toMatch(/^u{239}…[0-9a-f]{16}$/);
    expect(a?.userAgent).not.toBe(b?.userAgent);
    expect(a?.target.sessionIds[0]).toMatch(/^s{239}…[0-9a-f]{16}$/);
    expect(a?.target.sessionIds[0]).not.toBe(b?.target.sessionIds[0]);
  });

  it('names nextAuth targets by server, user and a digest of the nonce, never the nonce', async () => {
    await invoke(provokeLoginOnUser, {
      method: 'POST',
      rawPath: `/servers/${encodeURIComponent(SID)}/users/alice/provokelogin`,
      pathParameters: { serverid: SID, userid: 'alice' },
      headers: { 'x-nonce': NONCE },
    });
    expect(audits()[0]).toMatchObject({
      operation: 'nextauth.provoke-login-on-user',
      target: { serverId: SID, userId: 'alice', nonceHash: expect.stringMatching(/^[\w-]{12}$/) },
      status: 200,
      upstreamStatus: 200,
    });
    expect(logLines.join('\n')).not.toContain(NONCE);
    expect(logLines.join('\n')).not.toContain(NEXTAUTH_KEY);
  });

  it('names the Svix logout caller by a digest of its app token, never the token', async () => {
    const token = 'appsk_audit_canary_token_000';
    await invoke(logout, { method: 'POST', rawPath: '/api/v1/auth/logout', headers: { authorization: `Bearer ${token}` }, authorizer: null });
    expect(audits()[0]?.caller).toEqual({ id: expect.stringMatching(/^token:[\w-]{22}$/) });
    expect(logLines.join('\n')).not.toContain(token);
  });
});

describe('a tenant-binding refusal', () => {
  it('answers Svix’s bare 403 but says why in the audit record: the claim is missing, or does not list the app', async () => {
    process.env.SVIX_TENANT_CLAIM = 'svix_app_ids';
    try {
      const none = await portal(jwt({ sub: 'billing' }));
      const other = await portal(jwt({ sub: 'billing', svix_app_ids: '[app_2]' }));
      for (const res of [none, other]) {
        expect(res.statusCode).toBe(403);
        expect(res.body).not.toContain('svix_app_ids');
      }
      expect(audits().map((r) => r.reason)).toEqual([
        'tenant binding: the token has no claim svix_app_ids',
        'tenant binding: claim svix_app_ids does not list this app',
      ]);
      expect(upstream.requests).toHaveLength(0);
    } finally {
      delete process.env.SVIX_TENANT_CLAIM;
    }
  });
});
