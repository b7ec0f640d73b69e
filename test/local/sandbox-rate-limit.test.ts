import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SANDBOX_SERVER_ID, SECOND_SANDBOX_SERVER_ID } from '#local/sandbox/nextauth';
import { rateLimitFromArgs } from '#local/sandbox/rate-limit-flags';
import { type Sandbox, type SandboxOptions, startSandbox } from '#local/sandbox/server';

/**
 * The sandbox's rate limit over real HTTP: a token bucket per upstream credential (the Svix org
 * key; each nextAuth server's key), 429 with `Retry-After` and `RateLimit-*` once it is empty, off
 * unless asked for, and switched at run time through `/_sandbox/rate-limit`. The clock is the
 * sandbox's injected one, so nothing here depends on how fast the machine is.
 */

const SVIX_KEY = 'sk_sandbox_rate_limit';
const NEXTAUTH_KEY = 'rate-limit-nextauth-key';
const SECOND_KEY = 'rate-limit-second-key';

let sandbox: Sandbox | undefined;
let now = 1_800_000_000_000;

async function start(extra: Partial<SandboxOptions> = {}): Promise<Sandbox> {
  sandbox = await startSandbox({
    svixKey: SVIX_KEY,
    nextauth: { apiKey: NEXTAUTH_KEY, serverId: DEFAULT_SANDBOX_SERVER_ID, servers: [{ id: SECOND_SANDBOX_SERVER_ID, apiKey: SECOND_KEY }] },
    clock: () => now,
    ...extra,
  });
  return sandbox;
}
afterEach(async () => {
  await sandbox?.close();
  sandbox = undefined;
});

const expireAll = (s: Sandbox, key = SVIX_KEY) =>
  fetch(`${s.url}/api/v1/auth/app/app_demo/expire-all`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ expiry: 0 }),
  });
const nextauthLogout = (s: Sandbox, serverId: string, key: string) =>
  fetch(`${s.url}/servers/${encodeURIComponent(serverId)}/sessions/logout`, { method: 'POST', headers: { 'x-apikey': key, 'x-nonce': 'n-1' } });

describe('the sandbox rate limit', () => {
  it('is off by default: fifty calls in the same instant all pass', async () => {
    const s = await start();
    const statuses = await Promise.all(Array.from({ length: 50 }, () => expireAll(s).then((r) => r.status)));
    expect(new Set(statuses)).toEqual(new Set([204]));
  });

  it('answers 429 with Retry-After and RateLimit-* once a credential has spent its burst, then refills at the rate', async () => {
    const s = await start({ rateLimit: { rate: 5, burst: 2 } });
    const first = await expireAll(s);
    expect(first.status).toBe(204);
    expect(first.headers.get('ratelimit-limit')).toBe('5');
    expect(first.headers.get('ratelimit-remaining')).toBe('1');
    expect((await expireAll(s)).status).toBe(204);
    const refused = await expireAll(s);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');
    expect(refused.headers.get('ratelimit-reset')).toBe('1');
    expect(await refused.json()).toEqual({ code: 'rate_limit_exceeded', detail: expect.stringContaining('rate limit') });
    // One token comes back every 200 ms (5 per second).
    now += 199;
    expect((await expireAll(s)).status).toBe(429);
    now += 1;
    expect((await expireAll(s)).status).toBe(204);
    expect((await expireAll(s)).status).toBe(429);
  });

  it('gives every credential a bucket of its own: each nextAuth server key, the Svix org key', async () => {
    const s = await start({ rateLimit: { rate: 1, burst: 1 } });
    expect((await expireAll(s)).status).toBe(204);
    expect((await expireAll(s)).status).toBe(429);
    expect((await nextauthLogout(s, DEFAULT_SANDBOX_SERVER_ID, NEXTAUTH_KEY)).status).toBe(200);
    expect((await nextauthLogout(s, DEFAULT_SANDBOX_SERVER_ID, NEXTAUTH_KEY)).status).toBe(429);
    expect((await nextauthLogout(s, SECOND_SANDBOX_SERVER_ID, SECOND_KEY)).status).toBe(200);
    // A refused call spends nothing: the bucket is as empty as before, not deeper in debt.
    now += 1_000;
    expect((await expireAll(s)).status).toBe(204);
  });

  it('is switched at run time through /_sandbox/rate-limit, and counts what it refused per credential and route', async () => {
    const s = await start();
    const put = await fetch(`${s.url}/_sandbox/rate-limit`, { method: 'PUT', body: JSON.stringify({ rate: 2, burst: 1 }) });
    expect(put.status).toBe(200);
    expect((await expireAll(s)).status).toBe(204);
    expect((await expireAll(s)).status).toBe(429);
    const state = (await (await fetch(`${s.url}/_sandbox/rate-limit`)).json()) as { limit: unknown; credentials: Record<string, unknown> };
    expect(state.limit).toEqual({ rate: 2, burst: 1 });
    const [label, counts] = Object.entries(state.credentials)[0] ?? [];
    // Named without the key itself.
    expect(label).toMatch(/^svix:[0-9a-f]{10}$/);
    expect(JSON.stringify(state)).not.toContain(SVIX_KEY);
    expect(counts).toEqual({ allowed: 1, refused: 1, routes: { 'svix.expire-all': { allowed: 1, refused: 1 } } });

    expect((await fetch(`${s.url}/_sandbox/rate-limit`, { method: 'PUT', body: JSON.stringify({ rate: 0 }) })).status).toBe(400);
    expect((await fetch(`${s.url}/_sandbox/rate-limit`, { method: 'PUT', body: JSON.stringify({ rate: 2, burst: 1, extra: 1 }) })).status).toBe(400);
    expect((await fetch(`${s.url}/_sandbox/rate-limit`, { method: 'DELETE' })).status).toBe(200);
    const statuses = await Promise.all(Array.from({ length: 10 }, () => expireAll(s).then((r) => r.status)));
    expect(new Set(statuses)).toEqual(new Set([204]));
  });
});

describe('npm start -- --rate-limit=R --rate-burst=B', () => {
  it('reads the flags, defaults the burst to the rate, and names a bad flag', () => {
    expect(rateLimitFromArgs(['--strict'])).toBeUndefined();
    expect(rateLimitFromArgs(['--rate-limit=20', '--rate-burst=40'])).toEqual({ rate: 20, burst: 40 });
    expect(rateLimitFromArgs(['--rate-limit=20'])).toEqual({ rate: 20, burst: 20 });
    expect(() => rateLimitFromArgs(['--rate-limit=fast'])).toThrow(/--rate-limit.*rate must be/);
    expect(() => rateLimitFromArgs(['--rate-burst=4'])).toThrow(/--rate-burst needs --rate-limit/);
  });
});
