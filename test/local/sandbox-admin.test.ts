import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SANDBOX_SERVER_ID } from '../../local/sandbox/nextauth.ts';
import { type Sandbox, startSandbox } from '../../local/sandbox/server.ts';

/**
 * The sandbox's control routes over real HTTP: `/_sandbox/faults/{route}` and `/_sandbox/rate-limit`
 * answer a PUT that is not JSON, or not a valid setting, with 400 and what is wrong, and a method
 * they do not take with 405 (local/sandbox/admin.ts, which both use).
 */

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ svixKey: 'sk_sandbox_admin', nextauth: { apiKey: 'admin-key', serverId: DEFAULT_SANDBOX_SERVER_ID } });
});
afterAll(() => sandbox.close());

async function call(method: string, path: string, body?: string) {
  const res = await fetch(`${sandbox.url}${path}`, { method, ...(body === undefined ? {} : { body }) });
  return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as { error?: string } };
}

describe.each([
  ['/_sandbox/faults/svix.logout', '{"status":418}', 'status must be 429, 500, 502 or 503', 'PUT /_sandbox/faults/{route}'],
  ['/_sandbox/rate-limit', '{"rate":-1}', 'rate must be a number of calls per second above 0', 'PUT {rate, burst?}'],
])('%s', (path, invalid, problem, usage) => {
  it('answers a body that is not JSON with 400', async () => {
    expect(await call('PUT', path, 'rate=5')).toEqual({ status: 400, type: 'application/json', body: { error: 'body must be JSON' } });
  });

  it('answers an invalid setting with 400 naming what is wrong, and keeps the old one', async () => {
    expect(await call('PUT', path, invalid)).toEqual({ status: 400, type: 'application/json', body: { error: problem } });
    expect(sandbox.faults.list()).toEqual({});
    expect(sandbox.rateLimit.limit).toBeUndefined();
  });

  it('answers a method it does not take with 405 and how to use it', async () => {
    const answer = await call('POST', path, '{}');
    expect(answer.status).toBe(405);
    expect(answer.body.error).toContain(usage);
  });
});
