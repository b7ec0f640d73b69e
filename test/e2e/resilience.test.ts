import type { IncomingMessage } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../support/local-stack.ts';

/**
 * Upstream faults injected in the sandbox at run time (`/_sandbox/faults`), observed through the
 * local API over real HTTP: what a caller of the gateway sees when Svix misbehaves.
 */

let stack: LocalStack;

beforeAll(async () => {
  // A short attempt bound keeps the hang cases quick; the Lambda deadline still applies on top.
  process.env.UPSTREAM_ATTEMPT_TIMEOUT_MS = '300';
  stack = await startLocalStack();
});
afterAll(() => stack.close());
afterEach(async () => {
  await fetch(`${stack.sandbox.url}/_sandbox/faults`, { method: 'DELETE' });
});

const setFault = async (route: string, fault: object) => {
  const res = await fetch(`${stack.sandbox.url}/_sandbox/faults/${route}`, { method: 'PUT', body: JSON.stringify(fault) });
  expect(res.status).toBe(200);
};

const portal = () =>
  fetch(`${stack.api.url}/api/v1/auth/app-portal-access/app_demo/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.devToken}` },
    body: '{}',
  });

/** The requests the sandbox receives on a path while `call` runs: the attempts, whatever the clock says. */
async function counted<T>(path: string, call: () => Promise<T>): Promise<{ out: T; calls: number }> {
  let calls = 0;
  const count = (req: IncomingMessage) => {
    if (req.url?.startsWith(path)) calls += 1;
  };
  stack.sandbox.server.on('request', count);
  try {
    return { out: await call(), calls };
  } finally {
    stack.sandbox.server.off('request', count);
  }
}

async function timed(call: () => Promise<Response>) {
  const started = performance.now();
  const res = await call();
  return { res, ms: performance.now() - started, body: (await res.json()) as Record<string, unknown> };
}

describe('resilience to upstream faults (Svix app-portal-access)', () => {
  it('adds only the injected latency on a slow but healthy upstream', async () => {
    await setFault('svix.app-portal-access', { latencyMs: 150 });
    const { out, calls } = await counted('/api/v1/auth/app-portal-access/app_demo', () => timed(portal));
    expect(out.res.status).toBe(200);
    expect(out.ms).toBeGreaterThanOrEqual(150);
    // No retry was triggered by a slow but healthy answer: one call reached the upstream. (Counted,
    // not timed: a retry costs less than a loaded machine's stall, so no clock bound can tell.)
    expect(calls).toBe(1);
  });

  it('honours Retry-After on a 503 and then succeeds', async () => {
    await setFault('svix.app-portal-access', { status: 503, retryAfter: 1, times: 1 });
    const { res, ms } = await timed(portal);
    expect(res.status).toBe(200);
    expect(ms).toBeGreaterThanOrEqual(1000);
  });

  it('retries a 429 that says when, and passes a bare 429 straight back', async () => {
    await setFault('svix.app-portal-access', { status: 429, retryAfter: 0, times: 1 });
    expect((await portal()).status).toBe(200);
    await setFault('svix.app-portal-access', { status: 429 });
    const { res, body } = await timed(portal);
    expect(res.status).toBe(429);
    expect(body).toEqual({ code: 'rate_limit_exceeded', detail: expect.any(String) });
  });

  it.each([
    [500, 502],
    [502, 502],
    [503, 503],
  ])('answers a persistent %i with a clean %i {code, detail}', async (status, expected) => {
    await setFault('svix.app-portal-access', { status });
    const { res, body } = await timed(portal);
    expect(res.status).toBe(expected);
    expect(Object.keys(body).sort()).toEqual(['code', 'detail']);
  });

  it('rides out one 500 by retrying with the same idempotency key', async () => {
    await setFault('svix.app-portal-access', { status: 500, times: 1 });
    expect((await portal()).status).toBe(200);
  });

  it('answers 503 when the upstream resets every connection', async () => {
    await setFault('svix.app-portal-access', { reset: true });
    const { res, body } = await timed(portal);
    expect(res.status).toBe(503);
    expect(body.code).toBe('service_unavailable');
  });

  it('answers 504 in time when the upstream hangs', async () => {
    await setFault('svix.app-portal-access', { hang: true });
    const { out, calls } = await counted('/api/v1/auth/app-portal-access/app_demo', () => timed(portal));
    expect(out.res.status).toBe(504);
    expect(out.body.code).toBe('gateway_timeout');
    // Three attempts, each bounded (300 ms here): an unbounded one would hang until the deadline,
    // the only one. Counted, not timed against a guess of the machine's speed.
    expect(calls).toBe(3);
    expect(out.ms).toBeLessThan(10_000);
  });

  it('faults can be set for every route at once and listed', async () => {
    await setFault('*', { status: 500, times: 2 });
    const table = (await (await fetch(`${stack.sandbox.url}/_sandbox/faults`)).json()) as { faults: Record<string, unknown> };
    expect(Object.keys(table.faults)).toEqual(['*']);
    const bad = await fetch(`${stack.sandbox.url}/_sandbox/faults/svix.nope`, { method: 'PUT', body: '{"status":500}' });
    expect(bad.status).toBe(404);
  });
});

describe('resilience to upstream faults (nextAuth)', () => {
  const nonce = () => `nonce${Math.random().toString(16).slice(2)}`;
  const sessionPath = () => `/servers/${encodeURIComponent(stack.serverId)}/sessions`;
  const nextauth = (method: string, path: string, n: string) =>
    fetch(`${stack.api.url}${path}`, { method, headers: { authorization: `Bearer ${stack.devToken}`, 'x-nonce': n } });
  const pushesFor = async (n: string) =>
    ((await (await fetch(`${stack.sandbox.url}/_sandbox/nextauth/pushes`)).json()) as Array<{ nonce: string }>).filter((p) => p.nonce === n);

  it('retries a read through a passing 503', async () => {
    await setFault('nextauth.get-session', { status: 503, times: 1 });
    expect((await nextauth('GET', `${sessionPath()}/`, nonce())).status).toBe(200);
  });

  it('never repeats a provoke-login: one 500 is one 502 and no second push', async () => {
    const n = nonce();
    // A session that can be provoked: log in with the sandbox phone, then log out.
    await fetch(`${stack.sandbox.url}/_sandbox/nextauth/scan`, { method: 'POST', body: JSON.stringify({ serverid: stack.serverId, nonce: n, accountid: 1 }) });
    expect((await nextauth('POST', `${sessionPath()}/logout`, n)).status).toBe(200);
    await setFault('nextauth.provoke-login', { status: 500, times: 1 });
    const res = await nextauth('POST', `${sessionPath()}/provokelogin`, n);
    expect(res.status).toBe(502);
    expect(await pushesFor(n)).toHaveLength(0);
    // The fault was used up by the one attempt: the next provoke pushes exactly once.
    expect((await nextauth('POST', `${sessionPath()}/provokelogin`, n)).status).toBe(200);
    expect(await pushesFor(n)).toHaveLength(1);
  });

  it('answers 504 in time when nextAuth hangs on logout (retried, each attempt bounded)', async () => {
    await setFault('nextauth.logout', { hang: true });
    const { out: res, calls } = await counted(`${sessionPath()}/logout`, () => nextauth('POST', `${sessionPath()}/logout`, nonce()));
    expect(res.status).toBe(504);
    // As for Svix: three bounded attempts, counted.
    expect(calls).toBe(3);
  });
});
