import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

/**
 * The real Secrets Manager client (no mock) against an endpoint that accepts and never answers:
 * the gateway must give up in bounded time and answer 503, not run into the Lambda's timeout.
 */
let hanging: Server;
let received = 0;

beforeAll(async () => {
  hanging = createServer(() => {
    received++;
  });
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'test-secret-access-key',
  });
});
afterAll(() => {
  delete process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
  hanging.closeAllConnections();
  hanging.close();
});

describe('a Secrets Manager that hangs', () => {
  it('costs at most two bounded attempts, then a 503', async () => {
    vi.resetModules();
    const { getSecret } = await import('#lib/secrets');
    const started = Date.now();
    const err = await getSecret('hang/test').catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect((err as { statusCode?: number }).statusCode).toBe(503);
    expect(received).toBe(2);
    // Two attempts of 1.2 s plus the SDK's back-off; far from a 10 s Lambda timeout.
    expect(elapsed).toBeGreaterThanOrEqual(2_000);
    expect(elapsed).toBeLessThan(6_000);
  });
});
