import { randomBytes } from 'node:crypto';
import type { SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventBridgeBody, sqsEvent } from '#local/events';
import { packagedRuleArn } from '#local/packaged/start';
import { decodeQrPng } from '../../scripts/smoke/qr.ts';
import { type PackagedStack, startPackagedStack } from '../support/packaged-stack.ts';

/**
 * What ships, run: every one of the twelve functions served from the zip `serverless package`
 * wrote, loaded as the nodejs22.x runtime loads it, with only the environment the template gives
 * it, reading its upstream key from (fake) Secrets Manager. HTTP functions over real HTTP through
 * the local API; job functions on real SQS events.
 */

let stack: PackagedStack;

beforeAll(async () => {
  stack = await startPackagedStack();
});
afterAll(() => stack?.close());

const auth = () => ({ authorization: `Bearer ${stack.devToken}` });
const sid = () => encodeURIComponent(stack.serverId);
const nonce = () => randomBytes(16).toString('hex');

async function post(path: string, body?: unknown, headers: Record<string, string> = auth()) {
  return fetch(`${stack.api.url}${path}`, {
    method: 'POST',
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

const tokenIsValid = async (token: string) => ((await (await fetch(`${stack.sandbox.url}/_sandbox/svix/tokens/${token}`)).json()) as { valid: boolean }).valid;
const phone = (action: string, body: unknown) => fetch(`${stack.sandbox.url}/_sandbox/nextauth/${action}`, { method: 'POST', body: JSON.stringify(body) });
const session = async (n: string) =>
  (await (await fetch(`${stack.api.url}/servers/${sid()}/sessions/`, { headers: { ...auth(), 'x-nonce': n } })).json()) as Record<string, unknown>;

describe('every function from its zip', () => {
  it('loads all twelve handlers, each in its own runtime with only its template variables', async () => {
    expect([...stack.packaged.functions.keys()].sort()).toHaveLength(12);
    await Promise.all([...stack.packaged.functions.values()].map((f) => f.ready));
    const logout = stack.packaged.functions.get('svixLogout')!;
    // No Secrets Manager and no key for the function that holds none; the parent's env never leaks in.
    expect(Object.keys(logout.env)).toContain('SVIX_API_URL');
    expect(Object.keys(logout.env).filter((k) => /SECRET_ID|^SECRETS_|DLQ_URL/.test(k))).toEqual([]);
    expect(logout.env.AWS_LAMBDA_FUNCTION_NAME).toMatch(/-svixLogout$/);
  });

  it('svixAppPortalAccess and svixDashboardAccess mint working portal tokens', async () => {
    const portal = await post('/api/v1/auth/app-portal-access/app_demo/', { expiry: 3600, sessionId: 'packaged-1' });
    expect(portal.status).toBe(200);
    const { url, token } = (await portal.json()) as { url: string; token: string };
    expect(token).toMatch(/^appsk_/);
    expect(url).toContain('/_sandbox/svix/portal#key=');
    expect(await tokenIsValid(token)).toBe(true);

    const dashboard = await post('/api/v1/auth/dashboard-access/app_demo/');
    expect(dashboard.status).toBe(200);
    expect(dashboard.headers.get('deprecation')).toBe('true');
    expect(await dashboard.json()).toEqual({ url: expect.any(String), token: expect.stringMatching(/^appsk_/) });
    // Read from (fake) Secrets Manager under the name the template gives, once per container.
    expect(stack.packaged.fakeAws.secretReads).toContain('authgate/test/svix');
  });

  it('svixLogout logs out the caller’s app token, and svixExpireAll expires the app’s tokens', async () => {
    const a = (await (await post('/api/v1/auth/app-portal-access/app_2/', {})).json()) as { token: string };
    const out = await post('/api/v1/auth/logout/', undefined, { authorization: `Bearer ${a.token}` });
    expect(out.status).toBe(204);
    expect(await tokenIsValid(a.token)).toBe(false);

    const b = (await (await post('/api/v1/auth/app-portal-access/app_2/', {})).json()) as { token: string };
    const expired = await post('/api/v1/auth/app/app_2/expire-all/', { expiry: 0 });
    expect(expired.status).toBe(204);
    expect(await tokenIsValid(b.token)).toBe(false);
  });

  it('answers bad input with the upstream’s error shape and a missing token as API Gateway does', async () => {
    const invalid = await post('/api/v1/auth/app-portal-access/app_demo/', { expiry: 1 });
    expect(invalid.status).toBe(422);
    expect(((await invalid.json()) as { detail: Array<{ loc: string[] }> }).detail[0]?.loc).toEqual(['body', 'expiry']);
    expect((await post('/api/v1/auth/app/app_demo/expire-all/', {}, {})).status).toBe(401);
  });

  it('nextauthGetSession and nextauthGetQrLogin: a QR login seen through the zips', async () => {
    const n = nonce();
    const before = await session(n);
    expect(before).toMatchObject({ loggedin: false, hsid: expect.any(String), loginqrdata: expect.any(String) });

    const png = await fetch(`${stack.api.url}/servers/${sid()}/sessions/qr/login?img=png&s=200`, { headers: { ...auth(), 'x-nonce': n } });
    expect(png.status).toBe(200);
    expect(png.headers.get('content-type')).toBe('application/octet-stream');
    expect(decodeQrPng(Buffer.from(await png.arrayBuffer()))).toEqual(Buffer.from(before.loginqrdata as string, 'base64'));

    await phone('scan', { serverid: stack.serverId, nonce: n, accountid: 1 });
    expect(await session(n)).toMatchObject({ loggedin: true, userid: 'alice', accountid: 1 });
    expect(stack.packaged.fakeAws.secretReads).toContain('authgate/test/nextauth');
  });

  it('nextauthLogout and nextauthProvokeLogin: log out, then push to the last account', async () => {
    const n = nonce();
    await phone('scan', { serverid: stack.serverId, nonce: n, accountid: 2 });
    const out = await post(`/servers/${sid()}/sessions/logout`, undefined, { ...auth(), 'x-nonce': n });
    expect(out.status).toBe(200);
    expect(await out.text()).toBe('');
    expect(await session(n)).toMatchObject({ loggedin: false });

    const provoke = await post(`/servers/${sid()}/sessions/provokelogin`, { announceinfo: { info: { text: 'Log in?' } } }, { ...auth(), 'x-nonce': n });
    expect(provoke.status).toBe(200);
    await phone('push/confirm', { serverid: stack.serverId, nonce: n });
    expect(await session(n)).toMatchObject({ loggedin: true, accountid: 2 });
  });

  it('nextauthProvokeLoginOnAccount and nextauthProvokeLoginOnUser push to phones; unknown ones are 404', async () => {
    const n = nonce();
    expect((await post(`/servers/${sid()}/accounts/3/provokelogin`, undefined, { ...auth(), 'x-nonce': n })).status).toBe(200);
    expect((await post(`/servers/${sid()}/users/alice/provokelogin`, undefined, { ...auth(), 'x-nonce': n })).status).toBe(200);
    const pushes = (await (await fetch(`${stack.sandbox.url}/_sandbox/nextauth/pushes`)).json()) as Array<{ nonce: string; via: string }>;
    expect(pushes.filter((p) => p.nonce === n).map((p) => p.via)).toEqual(['account', 'user']);
    const unknown = await post(`/servers/${sid()}/users/mallory/provokelogin`, undefined, { ...auth(), 'x-nonce': n });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ code: 'not_found', detail: 'nextAuth answered HTTP 404.' });
  });
});

describe('the job functions from their zips, on real SQS events', () => {
  it('jobLogout logs out a nextAuth session and expires Svix sessions', async () => {
    const n = nonce();
    await phone('scan', { serverid: stack.serverId, nonce: n, accountid: 1 });
    const { token } = (await (await post('/api/v1/auth/app-portal-access/app_demo/', { sessionId: 'job-laptop' })).json()) as { token: string };
    // As the stack's rule delivers it: wrapped with the ARN the function has as JOB_RULE_ARN.
    const body = eventBridgeBody(
      'authgate.logout.requested',
      {
        targets: [
          { serverid: stack.serverId, nonce: n },
          { appId: 'app_demo', sessionIds: ['job-laptop'] },
        ],
      },
      { rule: packagedRuleArn('LogoutRequestedRule') },
    );
    const response = (await stack.packaged.invoke('jobLogout', sqsEvent([body], { queueName: 'authgate-test-logout' }))) as SQSBatchResponse;
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await session(n)).toMatchObject({ loggedin: false });
    expect(await tokenIsValid(token)).toBe(false);
  });

  it('jobExpireAll expires an app’s tokens, and dead-letters an invalid message to the DLQ the template names', async () => {
    const { token } = (await (await post('/api/v1/auth/app-portal-access/app_demo/', {})).json()) as { token: string };
    const event = sqsEvent([JSON.stringify({ appId: 'app_demo', expiry: 0 }), JSON.stringify({ appId: 'not an id!' })], {
      queueName: 'authgate-test-expire-all',
    });
    const response = (await stack.packaged.invoke('jobExpireAll', event)) as SQSBatchResponse;
    // The invalid one is not retried: the function sent it to the DLQ itself.
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await tokenIsValid(token)).toBe(false);
    expect(stack.packaged.fakeAws.sentMessages).toEqual([
      {
        queueUrl: expect.stringMatching(/\/123456789012\/authgate-test-expire-all-dlq$/),
        body: JSON.stringify({ appId: 'not an id!' }),
        attributes: expect.objectContaining({ 'authgate.job': 'expire-all', 'authgate.reason': expect.stringContaining('invalid message') }),
      },
    ]);
  });
});

describe('after the suite', () => {
  it('has invoked every function of the template at least once', () => {
    const notRun = [...stack.packaged.functions.values()].filter((f) => f.invocations === 0).map((f) => f.fn.name);
    expect(notRun).toEqual([]);
  });

  it('found no upstream key in any log line', () => {
    expect(stack.logs.length).toBeGreaterThan(0);
    for (const line of stack.logs) {
      expect(line).not.toContain(stack.keys.svix);
      expect(line).not.toContain(stack.keys.nextauth);
    }
  });
});
