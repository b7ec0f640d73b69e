import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SVIX_API_URL } from '#lib/config';
import { UpstreamTransportError } from '#lib/errors';
import { preconnectAtInit, send } from '#lib/upstream/transport';
import { parsedLogs } from '../../support/logs.ts';

let server: Server;
let url: URL;
let requests = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    requests++;
    if (req.url === '/huge') {
      // 7 MB, more than API Gateway could pass on.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(1024 * 1024, 1);
      for (let i = 0; i < 7; i++) res.write(chunk);
      res.end();
      return;
    }
    res.writeHead(200).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('transport', () => {
  it('refuses an answer larger than API Gateway could return, as an exchange that cannot succeed', async () => {
    const err = await send({ method: 'GET', url: new URL('/huge', url), headers: {}, timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamTransportError);
    expect((err as UpstreamTransportError).kind).toBe('invalid');
    // The connection was given up, and the next call still works.
    expect((await send({ method: 'GET', url, headers: {}, timeoutMs: 5_000 })).status).toBe(200);
  });

  it('turns a request Node refuses to send (a header with a newline) into an invalid exchange, sending nothing', async () => {
    const before = requests;
    const err = await send({ method: 'GET', url, headers: { 'x-apikey': 'a\nb' }, timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamTransportError);
    expect((err as UpstreamTransportError).kind).toBe('invalid');
    expect(String((err as Error).message)).not.toContain('a\nb');
    expect(requests).toBe(before);
  });
});

describe('preconnectAtInit', () => {
  afterEach(() => {
    for (const name of ['AWS_LAMBDA_FUNCTION_NAME', 'SVIX_API_URL']) delete process.env[name];
  });

  it('does nothing outside a Lambda execution environment, even without a URL', () => {
    preconnectAtInit(SVIX_API_URL);

    expect(parsedLogs()).toEqual([]);
  });

  it('skips a missing or malformed URL with a warning naming the variable, never failing init', () => {
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'authgate-test-svix';
    process.env.SVIX_API_URL = 'ftp://upstream.example';

    expect(() => preconnectAtInit(SVIX_API_URL)).not.toThrow();

    expect(parsedLogs()).toEqual([expect.objectContaining({ level: 'warn', msg: 'upstream pre-connect skipped', variable: 'SVIX_API_URL' })]);
  });
});
