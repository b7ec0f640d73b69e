import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { SvixSandboxOptions } from '../../local/sandbox/svix.ts';
import { createSvixSandbox } from '../../local/sandbox/svix.ts';

const ORG_KEY = 'sk_sandbox_org';
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** Serves the sandbox on an ephemeral loopback port; unanswered paths get 418 so tests can see `false`. */
async function start(opts: Partial<SvixSandboxOptions> = {}): Promise<string> {
  const upstream = createSvixSandbox({ orgKey: ORG_KEY, ...opts });
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const request = { method: req.method ?? 'GET', url, headers: req.headers, body: Buffer.concat(chunks) };
    if (!(await upstream(request, res))) res.writeHead(418).end('not handled');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function post(base: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}) {
  return fetch(base + path, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function portal(base: string, appId = 'app_demo', body: unknown = {}): Promise<{ url: string; token: string }> {
  const res = await post(base, `/api/v1/auth/app-portal-access/${appId}`, ORG_KEY, body);
  expect(res.status).toBe(200);
  return (await res.json()) as { url: string; token: string };
}

interface TokenInfo {
  valid: boolean;
  reason?: string;
  appId: string | null;
  sessionId: string | null;
  expiresAt: string | null;
}
async function inspect(base: string, token: string): Promise<TokenInfo> {
  const res = await fetch(`${base}/_sandbox/svix/tokens/${token}`);
  expect(res.status).toBe(200);
  return (await res.json()) as TokenInfo;
}

describe('svix sandbox: app-portal-access', () => {
  it('issues an appsk_ token that the sandbox reports valid, with a magic link carrying the app id', async () => {
    const base = await start({ publicUrl: 'http://portal.test/p' });
    const res = await post(base, '/api/v1/auth/app-portal-access/app_demo', ORG_KEY, { sessionId: 'sess-1' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const { url, token } = (await res.json()) as { url: string; token: string };
    expect(token).toMatch(/^appsk_[A-Za-z0-9]{32}$/);

    const [prefix, fragment] = url.split('#key=');
    expect(prefix).toBe('http://portal.test/p');
    expect(JSON.parse(Buffer.from(fragment ?? '', 'base64').toString('utf8'))).toEqual({
      appId: 'app_demo',
      token,
      region: 'sandbox',
    });

    const info = await inspect(base, token);
    expect(info).toMatchObject({ valid: true, appId: 'app_demo', sessionId: 'sess-1' });
    expect(info.reason).toBeUndefined();
  });

  it('accepts the trailing-slash form of the path', async () => {
    const base = await start();
    const res = await post(base, '/api/v1/auth/app-portal-access/app_2/', ORG_KEY, {});
    expect(res.status).toBe(200);
    const { token } = (await res.json()) as { token: string };
    expect((await inspect(base, token)).appId).toBe('app_2');
  });

  it('404s an unknown app when no application is given', async () => {
    const base = await start();
    const res = await post(base, '/api/v1/auth/app-portal-access/app_nope', ORG_KEY, {});
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ code: 'not_found', detail: 'Application not found' });
  });

  it('creates the app from `application` when its uid matches the path, and rejects missing/mismatched uids', async () => {
    const base = await start();
    const path = '/api/v1/auth/app-portal-access/my-app';

    const missing = await post(base, path, ORG_KEY, { application: { name: 'Mine' } });
    expect(missing.status).toBe(422);
    expect(await missing.json()).toMatchObject({
      detail: [{ loc: ['body', 'application', 'uid'], type: 'application_uid_missing' }],
    });

    const mismatch = await post(base, path, ORG_KEY, { application: { name: 'Mine', uid: 'other' } });
    expect(mismatch.status).toBe(422);
    expect(await mismatch.json()).toMatchObject({ detail: [{ type: 'application_uid_mismatch' }] });

    await portal(base, 'my-app', { application: { name: 'Mine', uid: 'my-app' } });
    // Now it exists, so a plain request works too.
    await portal(base, 'my-app');
  });

  it('rejects a body that is not a JSON object with 422 value_error.jsondecode', async () => {
    const base = await start();
    const res = await fetch(`${base}/api/v1/auth/app-portal-access/app_demo`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ORG_KEY}`, 'content-type': 'application/json' },
      body: '[1,2',
    });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ detail: [{ type: 'value_error.jsondecode' }] });
  });

  it('forbids app tokens from issuing portal access', async () => {
    const base = await start();
    const { token } = await portal(base);
    const res = await post(base, '/api/v1/auth/app-portal-access/app_demo', token, {});
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({
      code: 'insufficient access',
      detail: 'Insufficient access for the given operation.',
    });
  });
});

describe('svix sandbox: auth and routing', () => {
  it('401s a wrong or missing bearer', async () => {
    const base = await start();
    const wrong = await post(base, '/api/v1/auth/app-portal-access/app_demo', 'sk_wrong', {});
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ code: 'authentication_failed', detail: 'Invalid token' });
    const none = await fetch(`${base}/api/v1/auth/logout`, { method: 'POST' });
    expect(none.status).toBe(401);
  });

  it('405s other methods, 404s unknown /api/v1/auth paths, and leaves foreign paths to other upstreams', async () => {
    const base = await start();
    expect((await fetch(`${base}/api/v1/auth/logout`)).status).toBe(405);
    const unknown = await post(base, '/api/v1/auth/whoami', ORG_KEY);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ code: 'not_found', detail: 'Not found' });
    expect((await fetch(`${base}/api/auth/session`)).status).toBe(418);
  });

  it('serves the magic-link target page', async () => {
    const base = await start();
    const res = await fetch(`${base}/_sandbox/svix/portal`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toContain('Svix app portal (sandbox)');
  });
});

describe('svix sandbox: logout', () => {
  it('revokes exactly the calling app token; a second logout is 401', async () => {
    const base = await start();
    const a = await portal(base);
    const b = await portal(base);
    expect((await post(base, '/api/v1/auth/logout', a.token)).status).toBe(204);
    expect(await inspect(base, a.token)).toMatchObject({ valid: false, reason: 'revoked' });
    expect((await inspect(base, b.token)).valid).toBe(true);

    const again = await post(base, '/api/v1/auth/logout/', a.token);
    expect(again.status).toBe(401);
    expect(await again.json()).toEqual({ code: 'authentication_failed', detail: 'Invalid token' });
  });

  it('refuses to log out the org key with 403', async () => {
    const base = await start();
    const res = await post(base, '/api/v1/auth/logout', ORG_KEY);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: 'insufficient access' });
  });
});

describe('svix sandbox: expire-all', () => {
  it('with expiry 0 invalidates every token of the app, but not other apps', async () => {
    const base = await start();
    const a1 = await portal(base);
    const a2 = await portal(base, 'app_demo', { sessionId: 's1' });
    const other = await portal(base, 'app_2');
    const res = await post(base, '/api/v1/auth/app/app_demo/expire-all', ORG_KEY, { expiry: 0 });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    expect(await inspect(base, a1.token)).toMatchObject({ valid: false, reason: 'expired' });
    expect((await inspect(base, a2.token)).valid).toBe(false);
    expect((await inspect(base, other.token)).valid).toBe(true);
    // An expired token can no longer log out.
    expect((await post(base, '/api/v1/auth/logout', a1.token)).status).toBe(401);
  });

  it('with sessionIds only expires those sessions', async () => {
    const base = await start();
    const s1 = await portal(base, 'app_demo', { sessionId: 's1' });
    const s2 = await portal(base, 'app_demo', { sessionId: 's2' });
    const noSession = await portal(base);
    const res = await post(base, '/api/v1/auth/app/app_demo/expire-all/', ORG_KEY, { sessionIds: ['s1'] });
    expect(res.status).toBe(204);
    expect((await inspect(base, s1.token)).valid).toBe(false);
    expect((await inspect(base, s2.token)).valid).toBe(true);
    expect((await inspect(base, noSession.token)).valid).toBe(true);
  });

  it('with expiry 3600 the token dies once the clock passes the hour', async () => {
    let now = Date.UTC(2026, 0, 1);
    const base = await start({ clock: () => now });
    const { token } = await portal(base);
    expect((await post(base, '/api/v1/auth/app/app_demo/expire-all', ORG_KEY, { expiry: 3600 })).status).toBe(204);
    const info = await inspect(base, token);
    expect(info.valid).toBe(true);
    expect(info.expiresAt).toBe(new Date(now + 3600_000).toISOString());
    now += 3601_000;
    expect(await inspect(base, token)).toMatchObject({ valid: false, reason: 'expired' });
  });

  it('404s an unknown app and 403s app tokens', async () => {
    const base = await start();
    const { token } = await portal(base);
    expect((await post(base, '/api/v1/auth/app/app_nope/expire-all', ORG_KEY, {})).status).toBe(404);
    expect((await post(base, '/api/v1/auth/app/app_demo/expire-all', token, {})).status).toBe(403);
  });
});

describe('svix sandbox: idempotency', () => {
  it('replays the first success for the same key (with or without trailing slash) and not for a new key', async () => {
    const base = await start();
    const path = '/api/v1/auth/app-portal-access/app_demo';
    const first = await post(base, path, ORG_KEY, {}, { 'idempotency-key': 'k1' });
    const firstBody = (await first.json()) as { token: string };
    expect(first.headers.get('idempotent-replayed')).toBeNull();

    const replay = await post(base, `${path}/`, ORG_KEY, { expiry: 3600 }, { 'idempotency-key': 'k1' });
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(((await replay.json()) as { token: string }).token).toBe(firstBody.token);

    const fresh = await post(base, path, ORG_KEY, {}, { 'idempotency-key': 'k2' });
    expect(((await fresh.json()) as { token: string }).token).not.toBe(firstBody.token);
  });

  it('does not cache failures, so a retry with the same key runs again', async () => {
    const base = await start();
    const path = '/api/v1/auth/app-portal-access/new-app';
    const failed = await post(base, path, ORG_KEY, {}, { 'idempotency-key': 'k' });
    expect(failed.status).toBe(404);
    const retried = await post(base, path, ORG_KEY, { application: { name: 'N', uid: 'new-app' } }, { 'idempotency-key': 'k' });
    expect(retried.status).toBe(200);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
  });
});
