import { existsSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corsFromServerless } from '#local/cors';
import { type LocalStack, startLocalStack } from '../support/local-stack.ts';

/**
 * Browser callers through the local API, which applies serverless.yml's CORS configuration as
 * HTTP API does: preflights over plain HTTP, then a single-page app on another origin calling the
 * gateway with its JWT in headless Chromium (skipped, saying so, where no Chromium is installed).
 */

const CHROMIUM_CANDIDATES = process.env.CHROMIUM_PATH ? [process.env.CHROMIUM_PATH] : ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
const executablePath = CHROMIUM_CANDIDATES.find((path) => existsSync(path));
if (!executablePath) console.warn(`CORS browser e2e SKIPPED: no Chromium at ${CHROMIUM_CANDIDATES.join(', ')}; run scripts/install-browser.sh`);

const PORTAL = '/api/v1/auth/app-portal-access/app_demo/';
const DASHBOARD = '/api/v1/auth/dashboard-access/app_demo/';

/** The single-page app's own server: a blank page on its own port, so on an origin of its own. */
let spa: Server;
let spaOrigin: string;
/** CORS on for the SPA's origin only, as `--param="cors=on" --param="corsAllowedOrigins=…"` does. */
let withCors: LocalStack;
/** The default: CORS off. */
let withoutCors: LocalStack;
/** What reached the CORS-on local API, in order ("OPTIONS /path"). */
const seen: string[] = [];

beforeAll(async () => {
  spa = createServer((_, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>single-page app</title><p>SPA</p>');
  });
  await new Promise<void>((resolve) => spa.listen(0, '127.0.0.1', resolve));
  spaOrigin = `http://127.0.0.1:${(spa.address() as AddressInfo).port}`;
  const cors = corsFromServerless({ cors: 'on', corsAllowedOrigins: spaOrigin });
  expect(cors).toBeDefined();
  withCors = await startLocalStack({
    ...(cors ? { cors } : {}),
    extra: (req) => {
      seen.push(`${req.method} ${req.url}`);
      return false;
    },
  });
  withoutCors = await startLocalStack();
});
afterAll(async () => {
  await Promise.all([withCors?.close(), withoutCors?.close(), new Promise((resolve) => spa?.close(resolve))]);
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** node:http, because fetch outside a browser may not set `Origin` as a browser would. */
function call(base: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const corsHeadersOf = (answer: Answer) => Object.keys(answer.headers).filter((name) => name.startsWith('access-control-'));
const preflight = (base: string, origin: string, path = PORTAL) =>
  call(base, 'OPTIONS', path, {
    origin,
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'authorization,content-type,idempotency-key',
  });

describe('CORS on (local API, plain HTTP)', () => {
  it('answers a preflight itself: 204 with the configured headers, no token needed', async () => {
    const res = await preflight(withCors.api.url, spaOrigin);
    expect(res.status).toBe(204);
    expect(res.body).toBe('');
    expect(res.headers['access-control-allow-origin']).toBe(spaOrigin);
    expect(res.headers['access-control-allow-methods']).toBe('GET,POST');
    expect(res.headers['access-control-allow-headers']).toBe('authorization,content-type,idempotency-key,svix-req-id,svix-retry-count,x-nonce');
    expect(res.headers['access-control-max-age']).toBe('600');
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('answers a preflight on any path (API Gateway needs no OPTIONS route), a nextAuth one too', async () => {
    const path = `/servers/${encodeURIComponent(withCors.serverId)}/sessions/`;
    const res = await call(withCors.api.url, 'OPTIONS', path, {
      origin: spaOrigin,
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'x-nonce',
    });
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(spaOrigin);
  });

  it('gives an origin it does not allow a 204 without CORS headers', async () => {
    const res = await preflight(withCors.api.url, 'https://evil.example');
    expect(res.status).toBe(204);
    expect(corsHeadersOf(res)).toEqual([]);
  });

  it('routes an OPTIONS that is no preflight (no Access-Control-Request-Method): 404', async () => {
    const res = await call(withCors.api.url, 'OPTIONS', PORTAL, { origin: spaOrigin });
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toEqual({ message: 'Not Found' });
  });

  it('adds Allow-Origin and the exposed headers to a real answer, and to the authorizer’s 401', async () => {
    const ok = await call(withCors.api.url, 'POST', DASHBOARD, { origin: spaOrigin, authorization: `Bearer ${withCors.devToken}` });
    expect(ok.status).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe(spaOrigin);
    expect(ok.headers['access-control-expose-headers']).toBe('deprecation,link,retry-after');
    expect(ok.headers.link).toContain('app_demo');

    const refused = await call(withCors.api.url, 'POST', PORTAL, { origin: spaOrigin, 'content-type': 'application/json' }, '{}');
    expect(refused.status).toBe(401);
    expect(refused.headers['access-control-allow-origin']).toBe(spaOrigin);
  });

  it('adds nothing for a caller without Origin (a back end) or with another origin', async () => {
    const auth = { authorization: `Bearer ${withCors.devToken}` };
    expect(corsHeadersOf(await call(withCors.api.url, 'POST', DASHBOARD, auth))).toEqual([]);
    expect(corsHeadersOf(await call(withCors.api.url, 'POST', DASHBOARD, { ...auth, origin: 'https://evil.example' }))).toEqual([]);
  });
});

describe('CORS off, the default (local API, plain HTTP)', () => {
  it('has no preflight answer: OPTIONS is an unrouted method, 404, and no CORS header anywhere', async () => {
    const res = await preflight(withoutCors.api.url, spaOrigin);
    expect(res.status).toBe(404);
    expect(corsHeadersOf(res)).toEqual([]);
    const real = await call(withoutCors.api.url, 'POST', DASHBOARD, { origin: spaOrigin, authorization: `Bearer ${withoutCors.devToken}` });
    expect(real.status).toBe(200);
    expect(corsHeadersOf(real)).toEqual([]);
  });
});

describe.skipIf(!executablePath)('a single-page app on another origin, in headless Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: executablePath as string, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
  }, 30_000);
  afterAll(() => browser?.close());

  /** Opens the SPA at `pageUrl` and has it call the gateway with fetch, as its own code would. */
  async function fromPage(pageUrl: string, api: string, token: string) {
    const page = await browser.newPage();
    try {
      await page.goto(pageUrl);
      return await page.evaluate(
        async ({ api, token, path }) => {
          try {
            const res = await fetch(`${api}${path}`, {
              method: 'POST',
              // As the official Svix SDK sends a retry: without both svix-* headers allowed, the
              // browser refuses the preflight.
              headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'spa-1', 'svix-req-id': '42', 'svix-retry-count': '1' },
            });
            const body = (await res.json()) as { token?: string };
            return { ok: true, status: res.status, token: body.token, link: res.headers.get('link'), deprecation: res.headers.get('deprecation') };
          } catch (err) {
            return { ok: false, error: String(err) };
          }
        },
        { api, token, path: DASHBOARD },
      );
    } finally {
      await page.close();
    }
  }

  it('calls the gateway with its JWT: preflight, then the POST, and reads the exposed headers', async () => {
    seen.length = 0;
    const result = await fromPage(`${spaOrigin}/`, withCors.api.url, withCors.devToken);
    expect(result).toMatchObject({ ok: true, status: 200, deprecation: 'true', link: '</api/v1/auth/app-portal-access/app_demo/>; rel="successor-version"' });
    expect(result.token).toMatch(/^appsk_/);
    expect(seen).toEqual([`OPTIONS ${DASHBOARD}`, `POST ${DASHBOARD}`]);
  });

  it('is blocked by the browser from an origin not allowed (the same page as http://localhost)', async () => {
    const result = await fromPage(spaOrigin.replace('127.0.0.1', 'localhost'), withCors.api.url, withCors.devToken);
    expect(result).toMatchObject({ ok: false, error: expect.stringContaining('Failed to fetch') });
  });

  it('is blocked by the browser when CORS is off', async () => {
    const result = await fromPage(`${spaOrigin}/`, withoutCors.api.url, withoutCors.devToken);
    expect(result).toMatchObject({ ok: false, error: expect.stringContaining('Failed to fetch') });
  });
});
