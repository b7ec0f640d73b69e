import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as v from 'valibot';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetConfig, SVIX_API_URL } from '#lib/config';
import { deadlineIn } from '#lib/deadline';
import { ApiError, ConfigError, type HttpError, UpstreamUnavailableError } from '#lib/errors';
import {
  answerOf,
  ensureOk,
  failureFor,
  headerValue,
  parseJson,
  retryAfterOf,
  type UpstreamRequest,
  upstreamClient,
  upstreamEndpoint,
} from '#lib/upstream/client';
import { givenCredentials } from '#lib/upstream/credentials';
import { DEFAULT_POLICY } from '#lib/upstream/retry';
import type { UpstreamReply } from '#lib/upstream/transport';
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
  call: { deadline: deadlineIn(5_000) },
  key: 'k1',
  ...over,
});

describe('upstreamClient', () => {
  // Per test: the upstreamEndpoint tests below set SVIX_API_URL to addresses of their own.
  beforeEach(() => {
    process.env.SVIX_API_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/base/`;
  });

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

const VARIABLE = 'SVIX_API_URL';

describe('upstreamEndpoint', () => {
  afterEach(() => {
    delete process.env[VARIABLE];
    delete process.env.UPSTREAM_ATTEMPT_TIMEOUT_MS;
  });

  it('puts a path under the base URL, keeping its base path and credentials, dropping its query', () => {
    const cases: Array<[string, string]> = [
      ['https://api.eu.svix.com', 'https://api.eu.svix.com/api/v1/auth/logout'],
      ['https://api.eu.svix.com/', 'https://api.eu.svix.com/api/v1/auth/logout'],
      ['http://127.0.0.1:4010/proxy/svix/', 'http://127.0.0.1:4010/proxy/svix/api/v1/auth/logout'],
      ['https://u:p@gw.example/base?x=1#f', 'https://u:p@gw.example/base/api/v1/auth/logout'],
    ];
    for (const [base, expected] of cases) {
      process.env.SVIX_API_URL = base;
      resetConfig(); // another container
      const url = upstreamEndpoint(SVIX_API_URL).url('/api/v1/auth/logout');
      expect(url.href, base).toBe(expected);
    }
  });

  it('parses a path once (the URL is shared: the client puts a query on a copy) and has one frozen policy per kind', () => {
    process.env.SVIX_API_URL = 'https://api.nextauth.com';
    const endpoint = upstreamEndpoint(SVIX_API_URL);
    const first = endpoint.url('/servers/x/sessions/qr/login');
    expect(endpoint.url('/servers/x/sessions/qr/login')).toBe(first);
    expect(endpoint.url('/servers/y/sessions/qr/login').href).toBe('https://api.nextauth.com/servers/y/sessions/qr/login');
    expect(endpoint.policy(true)).toBe(endpoint.policy(true));
    expect(endpoint.policy(true).safe).toBe(true);
    expect(endpoint.policy(false).safe).toBe(false);
    expect(Object.isFrozen(endpoint.policy(false))).toBe(true);
  });

  it("keeps at most 256 parsed paths (ids in paths are the caller's): past that it starts again", () => {
    process.env.SVIX_API_URL = 'https://api.svix.com';
    const endpoint = upstreamEndpoint(SVIX_API_URL);
    const first = endpoint.url('/app/0');
    for (let i = 1; i < 256; i++) endpoint.url(`/app/${i}`);
    expect(endpoint.url('/app/0')).toBe(first);
    endpoint.url('/app/256');
    const again = endpoint.url('/app/0');
    expect(again).not.toBe(first);
    expect(again.href).toBe('https://api.svix.com/app/0');
  });

  it('puts paths under the base URL, keeping its base path with or without a trailing slash', () => {
    process.env[VARIABLE] = 'https://api.example.test/v2/';
    const withSlash = upstreamEndpoint(SVIX_API_URL);
    const first = withSlash.url('/api/v1/auth/logout').href;
    process.env[VARIABLE] = 'https://other.example.test/v2';
    resetConfig(); // another container
    const withoutSlash = upstreamEndpoint(SVIX_API_URL);

    expect(first).toBe('https://api.example.test/v2/api/v1/auth/logout');
    expect(withoutSlash.url('/servers/abc%2F/sessions/').href).toBe('https://other.example.test/v2/servers/abc%2F/sessions/');
  });

  it('reads its configuration once per container', () => {
    process.env[VARIABLE] = 'http://127.0.0.1:4010';
    const endpoint = upstreamEndpoint(SVIX_API_URL);
    endpoint.url('/x');

    process.env[VARIABLE] = 'http://127.0.0.1:9999';

    expect(endpoint.url('/x').href).toBe('http://127.0.0.1:4010/x');
  });

  it('gives the default policy with the deployment attempt bound and the safety asked for', () => {
    process.env[VARIABLE] = 'http://127.0.0.1:4010';
    process.env.UPSTREAM_ATTEMPT_TIMEOUT_MS = '1500';

    const endpoint = upstreamEndpoint(SVIX_API_URL);

    expect(endpoint.policy(true)).toEqual({ ...DEFAULT_POLICY, safe: true, attemptTimeoutMs: 1_500 });
    expect(endpoint.policy(false).safe).toBe(false);
  });

  it('keeps the default attempt bound when none is set', () => {
    process.env[VARIABLE] = 'http://127.0.0.1:4010';

    expect(upstreamEndpoint(SVIX_API_URL).policy(false).attemptTimeoutMs).toBe(DEFAULT_POLICY.attemptTimeoutMs);
  });

  it('fails with the variable name on a missing or bad URL or attempt bound', () => {
    const missing = upstreamEndpoint(SVIX_API_URL);
    expect(() => missing.url('/x')).toThrow(new ConfigError(VARIABLE, 'is not set'));

    process.env[VARIABLE] = 'ftp://example.test';
    expect(() => upstreamEndpoint(SVIX_API_URL).url('/x')).toThrow(`${VARIABLE} must be an http(s) URL`);

    process.env[VARIABLE] = 'http://127.0.0.1:4010';
    process.env.UPSTREAM_ATTEMPT_TIMEOUT_MS = '29001';
    expect(() => upstreamEndpoint(SVIX_API_URL).policy(true)).toThrow('UPSTREAM_ATTEMPT_TIMEOUT_MS must be an integer from 100 to 29000');
  });
});

const reply = (status: number, headers: UpstreamReply['headers'] = {}): UpstreamReply => ({ status, headers, body: Buffer.from('{"code":"x","detail":"y"}') });

/** The family's pass-through, recording what it was given. */
const passThrough = (reply: UpstreamReply): HttpError => new ApiError(reply.status, 'passed', `passed ${reply.status}`);

describe('failureFor', () => {
  it('makes a 503 ours, keeping a valid Retry-After', () => {
    const err = failureFor(reply(503, { 'retry-after': '7' }), passThrough);

    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(err.statusCode).toBe(503);
    expect(err.toResponse().headers['retry-after']).toBe('7');
  });

  it('makes any other 5xx a 502 without Retry-After', () => {
    const err = failureFor(reply(500, { 'retry-after': '7' }), passThrough);

    expect(err.statusCode).toBe(502);
    expect(err.toJSON()).toEqual({ code: 'bad_gateway', detail: 'The upstream failed (HTTP 500).' });
    expect(err.toResponse().headers).not.toHaveProperty('retry-after');
  });

  it("passes 4xx on through the family's pass-through", () => {
    expect(failureFor(reply(404), passThrough).toJSON()).toEqual({ code: 'passed', detail: 'passed 404' });
    expect(failureFor(reply(429), passThrough).statusCode).toBe(429);
  });

  it('makes a redirect or an informational status a 502 (redirects are not followed)', () => {
    expect(failureFor(reply(302), passThrough).toJSON()).toEqual({ code: 'bad_gateway', detail: 'The upstream answered an unexpected HTTP 302.' });
    expect(failureFor(reply(101), passThrough).statusCode).toBe(502);
  });
});

describe('ensureOk', () => {
  it('lets every 2xx through and throws what anything else becomes', () => {
    expect(() => ensureOk(reply(200), passThrough)).not.toThrow();
    expect(() => ensureOk(reply(204), passThrough)).not.toThrow();
    expect(() => ensureOk(reply(299), passThrough)).not.toThrow();
    expect(() => ensureOk(reply(300), passThrough)).toThrow(UpstreamUnavailableError);
    expect(() => ensureOk(reply(400), passThrough)).toThrow('passed 400');
  });
});

describe('retryAfterOf', () => {
  const of = (value: string | string[] | undefined) => retryAfterOf(reply(429, value === undefined ? {} : { 'retry-after': value as string }));

  it('passes delay-seconds on, trimmed, up to 9 digits', () => {
    expect(of('0')).toBe('0');
    expect(of(' 120 ')).toBe('120');
    expect(of('999999999')).toBe('999999999');
  });

  it('passes a valid HTTP-date on', () => {
    expect(of('Wed, 21 Oct 2015 07:28:00 GMT')).toBe('Wed, 21 Oct 2015 07:28:00 GMT');
  });

  it('keeps anything else (an echo of what we sent) to itself', () => {
    for (const value of ['', '1234567890', '-1', '1.5', 'soon', '120 sk_live_echo', 'Wed, 21 Oct 2015 07:28:00 UTC', 'Xyz, 99 Foo 2015 99:99:99 GMT']) {
      expect(of(value), value).toBeUndefined();
    }
    expect(of(undefined)).toBeUndefined();
  });

  it('reads the first of repeated headers', () => {
    expect(of(['5', 'later'])).toBe('5');
  });
});

describe('headerValue', () => {
  it('reads a header, or the first of a list', () => {
    const r = reply(200, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] });

    expect(headerValue(r, 'content-type')).toBe('application/json');
    expect(headerValue(r, 'set-cookie')).toBe('a=1');
    expect(headerValue(r, 'x-missing')).toBeUndefined();
  });
});

describe('parseJson', () => {
  it('parses JSON bytes and gives undefined for anything else', () => {
    expect(parseJson(Buffer.from('{"a":[1,2]}'))).toEqual({ a: [1, 2] });
    expect(parseJson(Buffer.from('<html>'))).toBeUndefined();
    expect(parseJson(Buffer.alloc(0))).toBeUndefined();
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
