import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mintToken, TENANT_CLAIMS } from '#local/jwt';
import { type LocalStack, startLocalStack } from '../support/local-stack.ts';

/**
 * Caller authorization over real HTTP through the local API, which enforces the authorizers and
 * scopes declared in serverless.yml the way API Gateway does, plus tenant binding in the handlers.
 * Every refusal must happen before any upstream call.
 */

let stack: LocalStack;
let upstreamCalls = 0;

beforeAll(async () => {
  stack = await startLocalStack();
  stack.sandbox.server.on('request', () => {
    upstreamCalls++;
  });
});
afterAll(() => stack.close());
beforeEach(() => {
  upstreamCalls = 0;
});

const portal = (appId: string, authorization?: string) =>
  fetch(`${stack.api.url}/api/v1/auth/app-portal-access/${appId}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: '{}',
  });

describe('JWT authorizer', () => {
  it('lets a valid token with the scope in', async () => {
    expect((await portal('app_demo', `Bearer ${stack.devToken}`)).status).toBe(200);
    expect(upstreamCalls).toBe(1);
  });

  it('accepts the token without the Bearer prefix, as API Gateway does', async () => {
    expect((await portal('app_demo', stack.devToken)).status).toBe(200);
  });

  const refusals: Array<[string, () => Promise<string | undefined>, number]> = [
    ['no Authorization header', async () => undefined, 401],
    ['garbage', async () => 'Bearer not-a-jwt', 401],
    ['an expired token', async () => `Bearer ${await stack.token({ expiresIn: '-1m' })}`, 401],
    ['a wrong issuer', async () => `Bearer ${await stack.token({ issuer: 'https://evil.example/' })}`, 401],
    ['a wrong audience', async () => `Bearer ${await stack.token({ audience: 'someone-else' })}`, 401],
    [
      'a token signed by another key',
      async () => {
        const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
        const other = { privateJwk: await exportJWK(privateKey), publicJwk: await exportJWK(publicKey) };
        return `Bearer ${await mintToken(other, { scopes: ['svix/app-portal-access'] })}`;
      },
      401,
    ],
    ['a token without the scope', async () => `Bearer ${await stack.token({ scopes: ['svix/expire-all'] })}`, 403],
  ];
  it.each(refusals)('refuses %s with %i and no upstream call', async (_name, authorization, status) => {
    const res = await portal('app_demo', await authorization());
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual({ message: status === 401 ? 'Unauthorized' : 'Forbidden' });
    expect(upstreamCalls).toBe(0);
  });

  it('leaves Svix logout open to the caller app token (Svix checks it)', async () => {
    const res = await fetch(`${stack.api.url}/api/v1/auth/logout/`, { method: 'POST', headers: { authorization: 'Bearer appsk_unknown' } });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ code: 'authentication_failed', detail: 'Invalid token' });
    expect(upstreamCalls).toBe(1);
  });
});

describe('hardened edges of the local API (as API Gateway answers them)', () => {
  it("refuses oversized headers with 431 in API Gateway's shape, before any handler", async () => {
    const res = await fetch(`${stack.api.url}/api/v1/auth/app-portal-access/app_demo/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.devToken}`, 'x-padding': 'p'.repeat(20_000) },
      body: '{}',
    });
    expect(res.status).toBe(431);
    expect(await res.json()).toEqual({ message: 'Request Header Fields Too Large' });
    expect(upstreamCalls).toBe(0);
  });

  it("does not take a nextAuth client's own X-apikey for the gateway token", async () => {
    const path = `/servers/${encodeURIComponent(stack.serverId)}/sessions/`;
    const res = await fetch(`${stack.api.url}${path}`, { headers: { 'x-apikey': stack.keys.nextauth, 'x-nonce': 'abcdef0123456789' } });
    expect(res.status).toBe(401);
    const ok = await fetch(`${stack.api.url}${path}`, { headers: { authorization: `Bearer ${stack.devToken}`, 'x-nonce': 'abcdef0123456789' } });
    expect(ok.status).toBe(200);
    expect(upstreamCalls).toBe(1);
  });

  it('answers a wrong method with 404 before any handler, as HTTP API does', async () => {
    const res = await fetch(`${stack.api.url}/api/v1/auth/app-portal-access/app_demo/`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${stack.devToken}` },
    });
    expect(res.status).toBe(404);
    expect(upstreamCalls).toBe(0);
  });
});

describe('tenant binding', () => {
  const onlyApp2 = () => stack.token({ claims: { [TENANT_CLAIMS.svix]: ['app_2'], [TENANT_CLAIMS.nextauth]: [] } });

  it('lets a caller act on its own app', async () => {
    expect((await portal('app_2', `Bearer ${await onlyApp2()}`)).status).toBe(200);
  });

  it("refuses another tenant's app with Svix's 403 before any upstream call", async () => {
    const res = await portal('app_demo', `Bearer ${await onlyApp2()}`);
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ code: 'insufficient access', detail: 'Insufficient access for the given operation.' });
    expect(upstreamCalls).toBe(0);
  });

  it('closes by default: a token without the tenant claim gets nothing', async () => {
    const res = await portal('app_2', `Bearer ${await stack.token({ claims: {} })}`);
    expect(res.status).toBe(403);
    expect(upstreamCalls).toBe(0);
  });

  it('binds expire-all and dashboard-access too', async () => {
    const token = await onlyApp2();
    const expire = await fetch(`${stack.api.url}/api/v1/auth/app/app_demo/expire-all/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: '{}',
    });
    expect(expire.status).toBe(403);
    const dashboard = await fetch(`${stack.api.url}/api/v1/auth/dashboard-access/app_demo/`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(dashboard.status).toBe(403);
    expect(upstreamCalls).toBe(0);
  });
});
