import { afterEach, describe, expect, it, vi } from 'vitest';
import { authorize, loadOrCreateDevKey, mintToken } from '#local/jwt';
import { tempDir } from '../support/temp-dir.ts';

/** The local stand-in for API Gateway's JWT authorizer, including its verified-token cache. */
const route = { name: 'gatewayJwt', scopes: ['svix/app-portal-access'] };
const newKey = () => loadOrCreateDevKey(tempDir('jwt'));

afterEach(() => {
  vi.useRealTimers();
});

describe('local JWT authorizer', () => {
  it('stops accepting a cached token once it expires', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const key = await newKey();
    const token = await mintToken(key, { scopes: ['svix/app-portal-access'], expiresIn: '60s' });
    expect((await authorize(key, `Bearer ${token}`, route)).ok).toBe(true);
    expect((await authorize(key, `Bearer ${token}`, route)).ok).toBe(true);
    vi.advanceTimersByTime(61_000);
    expect(await authorize(key, `Bearer ${token}`, route)).toMatchObject({ ok: false, status: 401 });
  });

  it('does not carry a token verified under one key over to another', async () => {
    const [a, b] = [await newKey(), await newKey()];
    const token = await mintToken(a, { scopes: ['svix/app-portal-access'] });
    expect((await authorize(a, token, route)).ok).toBe(true);
    expect(await authorize(b, token, route)).toMatchObject({ ok: false, status: 401 });
  });

  it('still checks the route scopes on a cached token', async () => {
    const key = await newKey();
    const token = await mintToken(key, { scopes: ['svix/app-portal-access'] });
    expect((await authorize(key, token, route)).ok).toBe(true);
    expect(await authorize(key, token, { name: 'gatewayJwt', scopes: ['svix/expire-all'] })).toMatchObject({ ok: false, status: 403 });
  });

  it('flattens array claims the way API Gateway hands them to Lambda', async () => {
    const key = await newKey();
    const token = await mintToken(key, { scopes: ['svix/app-portal-access'], claims: { svix_app_ids: ['app_1', 'app_2'] } });
    const outcome = await authorize(key, token, route);
    expect(outcome.ok && outcome.context.jwt.claims.svix_app_ids).toBe('[app_1 app_2]');
  });
});
