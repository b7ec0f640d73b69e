import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeAws } from '../support/fake-aws.ts';
import { invoke } from '../support/invoke.ts';

/**
 * A fresh container, as Lambda makes one: the function module is loaded anew for each test (the
 * init), with AWS_LAMBDA_FUNCTION_NAME set, so the secret's fetch and the upstream connection
 * start during init (`prefetchSecretAtInit` in lib/upstream/credentials.ts, `preconnectAtInit` in
 * lib/upstream/transport.ts). Whatever Secrets Manager does then, init must not
 * fail, and the first request must answer as it did before: the secret, or a bounded 503.
 */

const ORG_KEY = 'sk_cold_start_org_key_0123';
const SECRET_ID = 'cold/svix';
type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2>;

/** The Svix app-portal-access upstream, counting the connections it is opened. */
let upstream: Server;
let connections = 0;
let upstreamRequests = 0;
beforeAll(async () => {
  upstream = createServer((req, res) => {
    upstreamRequests++;
    const ok = req.headers.authorization === `Bearer ${ORG_KEY}`;
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
    res.end(JSON.stringify(ok ? { url: 'https://portal.example/#key=x', token: 'appsk_cold' } : { code: 'authentication_failed', detail: 'no' }));
  });
  upstream.on('connection', () => connections++);
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
});
afterAll(() => {
  upstream.closeAllConnections();
  upstream.close();
});

const mockSecretsManager = fakeAws;
let sm: ReturnType<typeof mockSecretsManager> | undefined;
const lines: string[] = [];
beforeEach(() => {
  connections = 0;
  upstreamRequests = 0;
  lines.length = 0;
  Object.assign(process.env, {
    AWS_LAMBDA_FUNCTION_NAME: 'svixAppPortalAccess',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDCOLDSTART',
    AWS_SECRET_ACCESS_KEY: 'cold-start-secret-access-key',
    SVIX_SECRET_ID: SECRET_ID,
    SVIX_API_URL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
  });
});
afterEach(() => {
  sm?.restore();
  sm = undefined;
  delete process.env.AWS_LAMBDA_FUNCTION_NAME;
  delete process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
  upstream.closeAllConnections();
});

/** Loads the function as a new container would, its log lines captured. */
async function init(): Promise<Handler> {
  vi.resetModules();
  const { setLogSink } = await import('#lib/log');
  setLogSink((line) => lines.push(line));
  const { handler } = await import('#functions/svix-app-portal-access');
  return handler as unknown as Handler;
}

const firstRequest = (handler: Handler) =>
  invoke(handler, { method: 'POST', rawPath: '/api/v1/auth/app-portal-access/app_demo/', pathParameters: { app_id: 'app_demo' }, body: {} });

describe('a cold start', () => {
  it('fetches the secret and opens the upstream connection during init; the first request uses both', async () => {
    sm = mockSecretsManager();
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).resolves({ SecretString: ORG_KEY });
    const connected = once(upstream, 'connection');
    const handler = await init();
    // Started by init; over HTTP it reaches the fake a moment later.
    await vi.waitFor(() => expect(sm?.commandCalls('GetSecretValue')).toHaveLength(1));
    await connected;

    const res = await firstRequest(handler);
    expect(res.statusCode).toBe(200);
    expect(sm.commandCalls('GetSecretValue')).toHaveLength(1);
    expect({ connections, upstreamRequests }).toEqual({ connections: 1, upstreamRequests: 1 });
    expect(lines.join('\n')).not.toContain(ORG_KEY);
  });

  it('lets a first request that comes before the secret wait for that same fetch, not start another', async () => {
    sm = mockSecretsManager();
    // The secret comes when the test says, after the request has started: a timer (150 ms) could
    // run out first on a loaded machine, and the test would pass without a request that waited.
    let answer = () => {};
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).callsFake(async () => {
      await answered;
      return { SecretString: ORG_KEY };
    });
    const handler = await init();
    const pending = firstRequest(handler);
    await vi.waitFor(() => expect(sm?.commandCalls('GetSecretValue')).toHaveLength(1));
    // A few turns of the event loop: the request reaches the secret while the fetch still waits.
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    answer();
    const res = await pending;
    expect(res.statusCode).toBe(200);
    expect(sm.commandCalls('GetSecretValue')).toHaveLength(1);
  });

  it('survives a failing Secrets Manager: init completes, the first request answers 503, a later one recovers', async () => {
    sm = mockSecretsManager();
    sm.on('GetSecretValue').rejects(Object.assign(new Error('User is not authorized'), { name: 'AccessDeniedException' }));
    const handler = await init();
    // Started by init; over HTTP it reaches the fake a moment later.
    await vi.waitFor(() => expect(sm?.commandCalls('GetSecretValue')).toHaveLength(1));

    const first = await firstRequest(handler);
    expect(first.statusCode).toBe(503);
    expect(first.json).toMatchObject({ code: 'service_unavailable' });
    expect(upstreamRequests).toBe(0);
    const prefetch = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'secret prefetch at init failed; the first request fetches it again');
    expect(prefetch).toMatchObject({ level: 'warn', secretId: SECRET_ID });

    sm.on('GetSecretValue', { SecretId: SECRET_ID }).resolves({ SecretString: ORG_KEY });
    expect((await firstRequest(handler)).statusCode).toBe(200);
  });

  it('survives a Secrets Manager that never answers (the real client): the first request joins the bounded fetch and answers 503', async () => {
    let received = 0;
    const hanging = createServer(() => {
      received++;
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
    try {
      const handler = await init();
      const first = await firstRequest(handler);
      expect(first.statusCode).toBe(503);
      expect(first.json).toMatchObject({ code: 'service_unavailable' });
      // The two bounded attempts of the fetch begun at init, not two more for the request.
      expect(received).toBe(2);
      expect(upstreamRequests).toBe(0);
    } finally {
      hanging.closeAllConnections();
      hanging.close();
    }
  });

  it('does nothing at load outside Lambda (tests, the local API): no secret fetch, no connection', async () => {
    delete process.env.AWS_LAMBDA_FUNCTION_NAME;
    sm = mockSecretsManager();
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).resolves({ SecretString: ORG_KEY });
    const handler = await init();
    expect(sm.commandCalls('GetSecretValue')).toHaveLength(0);
    expect((await firstRequest(handler)).statusCode).toBe(200);
    expect(sm.commandCalls('GetSecretValue')).toHaveLength(1);
    expect(connections).toBe(1);
  });
});
