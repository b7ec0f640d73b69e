import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpEvent, lambdaContext } from '#local/events';
import { httpRoutes, PROJECT_ROOT, type RouteSpec } from '#local/routes';
import { createNextAuthSandbox } from '#local/sandbox/nextauth';
import { createSvixSandbox } from '#local/sandbox/svix';
import { mockSecrets } from '../support/secrets.ts';
import { startTestUpstream, type TestUpstream } from '../support/upstream.ts';

/**
 * Property-based fuzzing of every HTTP route's path, query, headers and body, straight through the
 * handlers with API Gateway's event shape. Properties:
 *  - never a 5xx (the upstream is healthy here: any 5xx would be ours);
 *  - every error answer is in the upstream family's shape;
 *  - input that is invalid by construction (a path parameter with a character no id of its kind
 *    may hold: a control character, or "/" except in a base64 server id) never reaches the upstream.
 * FUZZ_RUNS sets the cases per route and property (CI: 150; `npm run fuzz`: 334 × 30 properties ≈ 10,000).
 */

type Lambda = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2>;

const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const SERVER_ID = 'ZnV6ei1zZXJ2ZXI=';
const counts: Record<string, number> = {};
let upstream: TestUpstream;

mockSecrets({ 'fuzz/svix': 'sk_fuzz_org_key', 'fuzz/nextauth': JSON.stringify({ apiKey: 'fuzz-nextauth-key' }) });

beforeAll(async () => {
  upstream = await startTestUpstream([
    createSvixSandbox({ orgKey: 'sk_fuzz_org_key' }),
    createNextAuthSandbox({ apiKey: 'fuzz-nextauth-key', serverId: SERVER_ID }).upstream,
  ]);
  Object.assign(process.env, {
    AWS_REGION: 'eu-west-1',
    SVIX_API_URL: upstream.url,
    SVIX_SECRET_ID: 'fuzz/svix',
    NEXTAUTH_API_URL: upstream.url,
    NEXTAUTH_SECRET_ID: 'fuzz/nextauth',
    UPSTREAM_ATTEMPT_TIMEOUT_MS: '2000',
  });
  delete process.env.SVIX_TENANT_CLAIM;
  delete process.env.NEXTAUTH_TENANT_CLAIM;
});
afterAll(async () => {
  await upstream.close();
  process.stdout.write(`fuzz cases per route: ${JSON.stringify(counts)} (total ${Object.values(counts).reduce((a, b) => a + b, 0)})\n`);
});

const params = (route: RouteSpec) => [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);

/** Plausible values (so some cases reach deep validation and the upstream) mixed with anything. */
const paramValue = (name: string) =>
  fc.oneof(
    name === 'app_id'
      ? fc.constantFrom('app_demo', 'app_2', 'app_x.y', '..')
      : name === 'serverid'
        ? fc.constant(SERVER_ID)
        : name === 'accountid'
          ? fc.constantFrom('1', '3', '99', '-1', '1e3')
          : fc.constantFrom('alice', 'bob', 'nobody'),
    fc.string({ maxLength: 300, unit: 'binary' }),
  );

const headerValue = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ maxLength: 600, unit: 'binary' }));
/** A header sent twice, as API Gateway hands it on: joined with a comma. */
const repeated = (value: fc.Arbitrary<string>) => fc.tuple(value, value).map(([x, y]) => `${x},${y}`);
const nonce = fc.stringMatching(/^[0-9a-f]{1,64}$/);
const headers = fc.record(
  {
    'content-type': fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8', 'application/x-www-form-urlencoded', ''),
    'x-nonce': fc.oneof(nonce, repeated(nonce), headerValue),
    'idempotency-key': fc.oneof(headerValue, repeated(fc.stringMatching(/^[a-z0-9-]{1,20}$/))),
    authorization: fc.oneof(fc.constant('Bearer appsk_fuzz'), repeated(fc.constant('Bearer appsk_fuzz')), headerValue),
    'x-apikey': headerValue,
    'X-Su': headerValue,
  },
  { requiredKeys: [] },
);

const body = fc.oneof(
  fc.constant(undefined),
  fc.json({ maxDepth: 3 }),
  fc.string({ maxLength: 200, unit: 'binary' }),
  fc
    .record(
      {
        expiry: fc.oneof(fc.integer(), fc.double(), fc.string()),
        sessionIds: fc.array(fc.string(), { maxLength: 5 }),
        featureFlags: fc.array(fc.string({ maxLength: 10 }), { maxLength: 30 }),
      },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o)),
  fc
    .record({ sessioninfo: fc.record({ ip: fc.anything(), logo: fc.string(), info: fc.anything() }, { requiredKeys: [] }) }, { requiredKeys: [] })
    .map((o) => JSON.stringify(o)),
);

const query = fc.dictionary(fc.constantFrom('img', 's', 'x'), fc.oneof(fc.constantFrom('png', '50', '500', '2001', 'abc'), fc.string({ maxLength: 20 })), {
  maxKeys: 3,
});

function isFamilyShape(route: RouteSpec, status: number, text: string): boolean {
  if (status < 300) return true;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return false;
  }
  const o = json as Record<string, unknown>;
  if (typeof o.code === 'string' && typeof o.detail === 'string') return true;
  // Svix's HTTPValidationError.
  return (
    route.path.startsWith('/api/') &&
    Array.isArray(o.detail) &&
    o.detail.every((d: { loc?: unknown; msg?: unknown; type?: unknown }) => Array.isArray(d.loc) && typeof d.msg === 'string' && typeof d.type === 'string')
  );
}

async function call(
  handler: Lambda,
  route: RouteSpec,
  pathParameters: Record<string, string>,
  h: Record<string, string>,
  q: Record<string, string>,
  b: string | undefined,
) {
  const rawPath = route.path.replace(/\{(\w+)\}/g, (_, n: string) => encodeURIComponent(pathParameters[n] ?? ''));
  const event = httpEvent({
    method: route.method,
    rawPath,
    rawQueryString: new URLSearchParams(q).toString(),
    headers: h,
    routeKey: `${route.method} ${route.path}`,
    pathParameters,
    ...(b === undefined ? {} : { body: b }),
    // What the JWT authorizer hands on (the route without one gets none).
    ...(route.authorizer ? { authorizer: { jwt: { claims: { sub: 'fuzz-caller' }, scopes: [] } } } : {}),
  });
  const result = (await handler(event, lambdaContext({ timeoutMs: 6000 }))) as { statusCode: number; body?: string; isBase64Encoded?: boolean };
  const text = result.isBase64Encoded ? '' : (result.body ?? '');
  return { status: result.statusCode, text };
}

describe.each(httpRoutes().map((r) => [`${r.method} ${r.path}`, r] as const))('fuzz %s', (_key, route) => {
  const names = params(route);
  const load = async () =>
    ((await import(/* @vite-ignore */ pathToFileURL(join(PROJECT_ROOT, `${route.modulePath}.ts`)).href)) as Record<string, Lambda>)[route.exportName] as Lambda;

  it('never answers 5xx, always in the family error shape', async () => {
    const handler = await load();
    const pathParams = fc.record(Object.fromEntries(names.map((n) => [n, paramValue(n)])) as Record<string, fc.Arbitrary<string>>);
    await fc.assert(
      fc.asyncProperty(pathParams, headers, query, body, async (p, h, q, b) => {
        counts[_key] = (counts[_key] ?? 0) + 1;
        const { status, text } = await call(handler, route, p, h as Record<string, string>, q, b);
        expect(status).toBeLessThan(500);
        expect(isFamilyShape(route, status, text)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  // Svix logout has no path parameter; its invalid input is a credential that is no bearer token.
  const poisonedInput = names.length === 0 ? 'an Authorization that is no "Bearer <token>"' : 'a path parameter no id can hold';
  it(`never calls the upstream for ${poisonedInput}`, async () => {
    const handler = await load();
    // A base64 server id may hold "/" (API Gateway decodes %2F for us), so it gets other poison.
    const poison = (name: string) => (name === 'serverid' ? ['%', ' ', '\u0000', '\n'] : ['/', '\u0000', '\n', '\u007f']);
    const bad = (name: string) =>
      fc.oneof(
        fc.tuple(fc.string({ maxLength: 20 }), fc.constantFrom(...poison(name)), fc.string({ maxLength: 20 })).map(([a, c, z]) => `${a}${c}${z}`),
        // Dot segments: a URL would resolve them and aim the call at another path.
        fc.constantFrom(...(name === 'serverid' || name === 'accountid' ? ['', 'x y'] : ['.', '..'])),
      );
    const pathParams = fc.record(
      Object.fromEntries(names.map((n, i) => [n, i === names.length - 1 ? bad(n) : paramValue(n)])) as Record<string, fc.Arbitrary<string>>,
    );
    const notBearer = fc.oneof(
      fc.constant(undefined),
      fc.string({ maxLength: 40 }).filter((v) => !/^Bearer [\x21-\x7e]+$/i.test(v)),
    );
    const inputHeaders =
      names.length === 0 ? fc.tuple(headers, notBearer).map(([h, auth]) => ({ ...h, authorization: auth }) as Record<string, string | undefined>) : headers;
    await fc.assert(
      fc.asyncProperty(pathParams, inputHeaders, query, body, async (p, rawHeaders, q, b) => {
        const h = Object.fromEntries(Object.entries(rawHeaders).filter(([, v]) => v !== undefined)) as Record<string, string>;
        counts[_key] = (counts[_key] ?? 0) + 1;
        const before = upstream.requests.length;
        const { status, text } = await call(handler, route, p, h as Record<string, string>, q, b);
        expect(status).toBeGreaterThanOrEqual(400);
        expect(status).toBeLessThan(500);
        expect(isFamilyShape(route, status, text)).toBe(true);
        expect(upstream.requests.length).toBe(before);
      }),
      { numRuns: RUNS },
    );
  });
  it('never calls the upstream for a header no request may carry', async () => {
    const handler = await load();
    // Every Svix route takes an idempotency-key, every nextAuth route requires an X-Nonce.
    const poisonedName = route.path.startsWith('/api/') ? 'idempotency-key' : 'x-nonce';
    // An idempotency-key may hold spaces and commas (it only seeds our own key); a nonce may not.
    const poisonChars = poisonedName === 'idempotency-key' ? ['\u0000', '\n', '\u007f'] : [' ', '\u0000', '\n', '\u007f', ','];
    const poisoned = fc.oneof(
      fc.tuple(fc.string({ maxLength: 20 }), fc.constantFrom(...poisonChars), fc.string({ maxLength: 20 })).map(([a, c, z]) => `${a}${c}${z}`),
      fc.constant('x'.repeat(600)),
    );
    const pathParams = fc.record(Object.fromEntries(names.map((n) => [n, paramValue(n)])) as Record<string, fc.Arbitrary<string>>);
    await fc.assert(
      fc.asyncProperty(pathParams, headers, poisoned, query, body, async (p, h, bad, q, b) => {
        counts[_key] = (counts[_key] ?? 0) + 1;
        const before = upstream.requests.length;
        const { status, text } = await call(handler, route, p, { ...(h as Record<string, string>), [poisonedName]: bad }, q, b);
        expect(status).toBeGreaterThanOrEqual(400);
        expect(status).toBeLessThan(500);
        expect(isFamilyShape(route, status, text)).toBe(true);
        expect(upstream.requests.length).toBe(before);
      }),
      { numRuns: RUNS },
    );
  });
});
