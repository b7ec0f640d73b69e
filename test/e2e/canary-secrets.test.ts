import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../support/local-stack.ts';
import { logLines } from '../support/logs.ts';

/**
 * Canary secrets: every operation runs, healthy and under upstream faults, with known strings as
 * upstream keys, caller token, app tokens, magic links and nonces; none of them may appear in
 * a log line or an error body.
 */

let stack: LocalStack;
const NONCE = 'CANARYNONCE7f3a9c0e1d2b4a6f';
const errorBodies: string[] = [];
const issued: string[] = [];

beforeAll(async () => {
  stack = await startLocalStack();
});
afterAll(() => stack.close());

async function call(method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}) {
  const res = await fetch(`${stack.api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.devToken}`, 'x-nonce': NONCE, ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers },
    ...(init.body ? { body: init.body } : {}),
  });
  const text = await res.text();
  if (res.status >= 400) errorBodies.push(text);
  return { status: res.status, text };
}

const sid = () => encodeURIComponent(stack.serverId);

async function everyOperation() {
  const portal = await call('POST', '/api/v1/auth/app-portal-access/app_demo/', { body: '{"sessionId":"canary"}' });
  if (portal.status === 200) {
    const { url, token } = JSON.parse(portal.text) as { url: string; token: string };
    issued.push(token, new URL(url).hash.slice(1));
    await call('POST', '/api/v1/auth/logout/', { headers: { authorization: `Bearer ${token}` } });
    await call('POST', '/api/v1/auth/logout/', { headers: { authorization: `Bearer ${token}` } });
  }
  await call('POST', '/api/v1/auth/dashboard-access/app_demo/');
  await call('POST', '/api/v1/auth/app/app_demo/expire-all/', { body: '{"expiry":0,"sessionIds":["canary"]}' });
  await call('POST', '/api/v1/auth/logout/', { headers: { authorization: 'Bearer appsk_CANARY_unknown_app_token' } });
  await call('GET', `/servers/${sid()}/sessions/qr/login?img=png&s=100`);
  await call('GET', `/servers/${sid()}/sessions/`);
  await call('POST', `/servers/${sid()}/sessions/provokelogin`);
  await call('POST', `/servers/${sid()}/accounts/1/provokelogin`);
  await call('POST', `/servers/${sid()}/users/alice/provokelogin`);
  await call('POST', `/servers/${sid()}/sessions/logout`);
}

const setFault = (fault: object) => fetch(`${stack.sandbox.url}/_sandbox/faults/*`, { method: 'PUT', body: JSON.stringify(fault) });

describe('canary secrets', () => {
  it('never appear in logs or error bodies, healthy or failing', async () => {
    process.env.UPSTREAM_ATTEMPT_TIMEOUT_MS = '200';
    await everyOperation();
    for (const fault of [{ status: 500 }, { status: 503, retryAfter: 0 }, { status: 429 }, { reset: true }, { hang: true }]) {
      await setFault(fault);
      await everyOperation();
    }
    await fetch(`${stack.sandbox.url}/_sandbox/faults`, { method: 'DELETE' });

    const canaries = [stack.keys.svix, stack.keys.nextauth, stack.devToken, NONCE, 'appsk_CANARY_unknown_app_token', ...issued];
    expect(issued.length).toBeGreaterThan(0);
    expect(errorBodies.length).toBeGreaterThan(20);
    expect(logLines.length).toBeGreaterThan(20);
    const logs = logLines.join('\n');
    const bodies = errorBodies.join('\n');
    for (const canary of canaries) {
      expect(logs.includes(canary), `log holds ${canary.slice(0, 12)}…`).toBe(false);
      expect(bodies.includes(canary), `error body holds ${canary.slice(0, 12)}…`).toBe(false);
    }
  });
});
