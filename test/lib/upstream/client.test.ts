import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as v from 'valibot';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SVIX_API_URL } from '#lib/config';
import { deadlineIn } from '#lib/deadline';
import { ApiError, UpstreamUnavailableError } from '#lib/errors';
import { answerOf } from '#lib/upstream/answer';
import { givenCredentials, type UpstreamRequest, upstreamClient } from '#lib/upstream/client';
import { thrown } from '../../support/thrown.ts';

/** What the test upstream saw, and what it answers next. */
interface Seen {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingHttpHeaders;
  body: string;
}
let seen: Seen[] = [];
let answers: Array<{ status: number; headers?: Record<string, string>; body?: string }> = [];
let server: Server;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
      const answer = answers.shift() ?? { status: 204 };
      res.writeHead(answer.status, answer.headers).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.env.SVIX_API_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/base/`;
});
afterEach(() => {
  seen = [];
  answers = [];
});
afterAll(() => {
  delete process.env.SVIX_API_URL;
  server.closeAllConnections();
  server.close();
});

interface TestRequest extends UpstreamRequest {
  key: string;
}

const client = upstreamClient<string, TestRequest>({
  baseUrlVariable: SVIX_API_URL,
  credentials: givenCredentials((request: TestRequest) => request.key),
  headers: (key, _request, attempt) => ({ accept: 'application/json', 'x-key': key, 'x-attempt': String(attempt) }),
  passThrough: (reply) => new ApiError(reply.status, 'passed', `passed ${reply.status}`),
});

const request = (over: Partial<TestRequest> = {}): TestRequest => ({
  operation: 'unit.client',
  method: 'POST',
  path: '/things/a%2Fb',
  safe: true,
  deadline: deadlineIn(5_000),
  key: 'k1',
  ...over,
});

describe('upstreamClient', () => {
  it('sends the family headers, its user agent, the query and a JSON body under the base path', async () => {
    const reply = await client.call(request({ body: { a: 1 }, query: new URLSearchParams({ s: '100' }) }));

    expect(reply.status).toBe(204);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/base/things/a%2Fb?s=100', body: '{"a":1}' });
    expect(seen[0]?.headers).toMatchObject({ 'x-key': 'k1', 'x-attempt': '1', 'user-agent': 'authgate/0.1', 'content-type': 'application/json' });
  });

  it("keeps one call's query off the next call to the same path (the parsed URL is shared)", async () => {
    await client.call(request({ query: new URLSearchParams({ img: 'png' }) }));
    await client.call(request());
    await client.call(request({ query: new URLSearchParams({ s: '5' }) }));

    expect(seen.map((s) => s.url)).toEqual(['/base/things/a%2Fb?img=png', '/base/things/a%2Fb', '/base/things/a%2Fb?s=5']);
  });

  it('sends no content-type without a body', async () => {
    await client.call(request({ method: 'GET' }));

    expect(seen[0]?.headers).not.toHaveProperty('content-type');
  });

  it('retries a safe call on a 5xx, counting attempts, and never an unsafe one', async () => {
    answers = [{ status: 500 }, { status: 200, body: '{}' }];
    expect((await client.call(request())).status).toBe(200);
    expect(seen.map((s) => s.headers['x-attempt'])).toEqual(['1', '2']);

    seen = [];
    answers = [{ status: 500 }, { status: 200 }];
    await expect(client.call(request({ safe: false }))).rejects.toBeInstanceOf(UpstreamUnavailableError);
    expect(seen).toHaveLength(1);
  });

  it("throws a 4xx through the family's pass-through, with the upstream's Retry-After", async () => {
    answers = [{ status: 429, headers: { 'retry-after': '7' } }];

    const err = (await client.call(request({ safe: false })).catch((e: unknown) => e)) as ApiError;

    expect(err.toJSON()).toEqual({ code: 'passed', detail: 'passed 429' });
    expect(err.toResponse().headers['retry-after']).toBe('7');
  });
});

describe('answerOf', () => {
  const Out = v.object({ url: v.string() });

  it('reads a 2xx answer with its schema', () => {
    expect(answerOf(Buffer.from('{"url":"u","extra":1}'), Out, 'Svix')).toEqual({ url: 'u' });
  });

  it("makes an answer that does not fit the upstream's fault, a 502 that quotes none of it", () => {
    for (const body of ['{"url":1}', '<html>', '']) {
      const err = thrown<UpstreamUnavailableError>(() => answerOf(Buffer.from(body), Out, 'Svix'));
      expect(err.toJSON()).toEqual({ code: 'bad_gateway', detail: 'Svix answered with an unexpected body.' });
    }
  });
});
