import { ApiException, AppPortalCapability, Svix } from 'svix';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../support/local-stack.ts';

/**
 * The official `svix` SDK, pointed at the local API by `serverUrl` alone, against the sandbox:
 * what a Svix customer's back end does when it moves behind the gateway.
 */

let stack: LocalStack;
let svix: Svix;

beforeAll(async () => {
  stack = await startLocalStack();
  // The gateway, not the caller, holds the Svix key: the SDK's token is the gateway's JWT.
  svix = new Svix(stack.devToken, { serverUrl: stack.api.url });
});
afterAll(() => stack.close());

const tokenIsValid = async (token: string) => ((await (await fetch(`${stack.sandbox.url}/_sandbox/svix/tokens/${token}`)).json()) as { valid: boolean }).valid;

const asAppToken = (token: string) => new Svix(token, { serverUrl: stack.api.url });

async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
}

describe('Svix through the local API, driven by the svix SDK', () => {
  it('portal access returns a usable token and a magic link naming the app', async () => {
    const out = await svix.authentication.appPortalAccess('app_demo', { expiry: 3600, sessionId: 'web-1' });
    expect(out.token).toMatch(/^appsk_/);
    expect(await tokenIsValid(out.token)).toBe(true);
    const fragment = new URL(out.url).hash.replace(/^#key=/, '');
    expect(JSON.parse(Buffer.from(fragment, 'base64').toString('utf8'))).toMatchObject({ appId: 'app_demo' });
  });

  it('logout with that token succeeds once, then the token is dead', async () => {
    const { token } = await svix.authentication.appPortalAccess('app_demo', {});
    await asAppToken(token).authentication.logout();
    expect(await tokenIsValid(token)).toBe(false);
    expect(await statusOf(asAppToken(token).authentication.logout())).toBe(401);
  });

  it('expire-all with expiry 0 makes every token of the app fail', async () => {
    const a = await svix.authentication.appPortalAccess('app_2', {});
    const b = await svix.authentication.appPortalAccess('app_2', { sessionId: 'other' });
    await svix.authentication.expireAll('app_2', { expiry: 0 });
    expect(await tokenIsValid(a.token)).toBe(false);
    expect(await tokenIsValid(b.token)).toBe(false);
    expect(await statusOf(asAppToken(a.token).authentication.logout())).toBe(401);
  });

  it('replays an idempotent request', async () => {
    const first = await svix.authentication.appPortalAccess('app_demo', {}, { idempotencyKey: 'e2e-replay-1' });
    const again = await svix.authentication.appPortalAccess('app_demo', {}, { idempotencyKey: 'e2e-replay-1' });
    expect(again.token).toBe(first.token);
  });

  it('passes Svix validation errors back as the SDK expects them', async () => {
    const err = await svix.authentication.appPortalAccess('app_demo', { expiry: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiException);
    expect((err as ApiException<{ detail: Array<{ loc: string[] }> }>).code).toBe(422);
    expect((err as ApiException<{ detail: Array<{ loc: string[] }> }>).body.detail[0]?.loc).toEqual(['body', 'expiry']);
  });
});

describe('the seed paths, with their trailing slash', () => {
  const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${stack.api.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.devToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  it.each([
    ['/api/v1/auth/app-portal-access/app_demo/', {}, 200],
    ['/api/v1/auth/app-portal-access/app_demo', {}, 200],
    ['/api/v1/auth/dashboard-access/app_demo/', undefined, 200],
    ['/api/v1/auth/dashboard-access/app_demo', undefined, 200],
    ['/api/v1/auth/app/app_demo/expire-all/', { expiry: 60 }, 204],
    ['/api/v1/auth/app/app_demo/expire-all', { expiry: 60 }, 204],
  ])('POST %s answers %i', async (path, body, status) => {
    expect((await post(path, body)).status).toBe(status);
  });

  it('logout/ with and without the slash', async () => {
    for (const path of ['/api/v1/auth/logout/', '/api/v1/auth/logout']) {
      const { token } = await svix.authentication.appPortalAccess('app_demo', {});
      expect((await post(path, undefined, { authorization: `Bearer ${token}` })).status).toBe(204);
    }
  });

  it('dashboard-access is marked deprecated, with a Link to the same app that leads somewhere', async () => {
    const res = await post('/api/v1/auth/dashboard-access/app_demo/');
    expect(res.headers.get('deprecation')).toBe('true');
    expect(res.headers.get('link')).toBe('</api/v1/auth/app-portal-access/app_demo/>; rel="successor-version"');
  });

  it('names the decoded app id in the Link, encoded again, and the link is a working route', async () => {
    expect((await post('/api/v1/auth/app-portal-access/app-demo.v2/', { application: { name: 'Demo v2', uid: 'app-demo.v2' } })).status).toBe(200);
    // Sent percent-encoded (`app-demo.v2`); API Gateway hands the handler the decoded id.
    const res = await post('/api/v1/auth/dashboard-access/app%2Ddemo%2Ev2/');
    expect(res.status).toBe(200);
    const link = res.headers.get('link') ?? '';
    expect(link).toBe('</api/v1/auth/app-portal-access/app-demo.v2/>; rel="successor-version"');
    const successor = /^<([^>]+)>/.exec(link)?.[1] ?? '';
    const followed = await post(successor, {});
    expect(followed.status).toBe(200);
    const { url } = (await followed.json()) as { url: string };
    expect(JSON.parse(Buffer.from(new URL(url).hash.replace(/^#key=/, ''), 'base64').toString('utf8'))).toMatchObject({ appId: 'app-demo.v2' });
  });

  it('unknown routes and wrong methods answer 404 as API Gateway does', async () => {
    expect((await post('/api/v1/auth/nope')).status).toBe(404);
    expect((await fetch(`${stack.api.url}/api/v1/auth/logout`)).status).toBe(404);
  });
});

describe('every caller is its own tenant (npm run token --sub)', () => {
  it("never replays one caller's answer to another sending the same idempotency-key", async () => {
    const asCaller = async (sub: string) => new Svix(await stack.token({ subject: sub }), { serverUrl: stack.api.url });
    const a = await (await asCaller('tenant-a')).authentication.appPortalAccess(
      'app_demo',
      { expiry: 604800, capabilities: [AppPortalCapability.ManageEndpoint, AppPortalCapability.ManageEndpointSecret] },
      { idempotencyKey: 'onboard-42' },
    );
    const b = await (await asCaller('tenant-b')).authentication.appPortalAccess(
      'app_demo',
      { expiry: 3600, capabilities: [AppPortalCapability.ViewBase] },
      { idempotencyKey: 'onboard-42' },
    );
    expect(b.token).not.toBe(a.token);
    // A's own retry still replays.
    const again = await (await asCaller('tenant-a')).authentication.appPortalAccess('app_demo', {}, { idempotencyKey: 'onboard-42' });
    expect(again.token).toBe(a.token);
  });

  it("does B's expire-all even when A used the same key before", async () => {
    const holder = await svix.authentication.appPortalAccess('app_demo', { sessionId: 'leaver-b' });
    expect(await tokenIsValid(holder.token)).toBe(true);
    const a = await stack.token({ subject: 'tenant-a' });
    const b = await stack.token({ subject: 'tenant-b' });
    await new Svix(a, { serverUrl: stack.api.url }).authentication.expireAll('app_demo', { sessionIds: ['leaver-a'] }, { idempotencyKey: 'offboard-1' });
    await new Svix(b, { serverUrl: stack.api.url }).authentication.expireAll('app_demo', { sessionIds: ['leaver-b'] }, { idempotencyKey: 'offboard-1' });
    expect(await tokenIsValid(holder.token)).toBe(false);
  });

  it('answers 401 to a token that names nobody (no sub, client_id or azp), which API Gateway would let through', async () => {
    const anonymous = new Svix(await stack.token({ subject: null }), { serverUrl: stack.api.url });
    expect(await statusOf(anonymous.authentication.appPortalAccess('app_demo', {}))).toBe(401);
  });
});
