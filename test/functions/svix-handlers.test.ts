import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { handler as appPortalAccess } from '#functions/svix-app-portal-access';
import { handler as dashboardAccess } from '#functions/svix-dashboard-access';
import { handler as expireAll } from '#functions/svix-expire-all';
import { handler as logout } from '#functions/svix-logout';
import { successorLink } from '#lib/contract';
import { clearSecretCache } from '#lib/secrets';
import { createSvixSandbox } from '#local/sandbox/svix';
import { invoke } from '../support/invoke.ts';
import { logLines } from '../support/logs.ts';
import { mockSecrets } from '../support/secrets.ts';
import { useTestUpstream } from '../support/upstream.ts';

// A '/' and a '+' so that its percent-encoded spelling differs from it (the link row below).
const ORG_KEY = 'sk_canary_org/key+f00d';
const SECRET_ID = 'test/svix';
const sm = mockSecrets({ [SECRET_ID]: ORG_KEY });
const upstream = useTestUpstream(
  () => [createSvixSandbox({ orgKey: ORG_KEY })],
  (url) => ({ SVIX_API_URL: url, SVIX_SECRET_ID: SECRET_ID, UPSTREAM_ATTEMPT_TIMEOUT_MS: '400' }),
);

const portal = (appId: string, body: unknown, headers: Record<string, string> = {}, remainingMs?: number) =>
  invoke(appPortalAccess, {
    method: 'POST',
    rawPath: `/api/v1/auth/app-portal-access/${appId}/`,
    pathParameters: { app_id: appId },
    headers,
    body,
    ...(remainingMs ? { remainingMs } : {}),
  });

const expire = (appId: string, body: unknown) =>
  invoke(expireAll, { method: 'POST', rawPath: `/api/v1/auth/app/${appId}/expire-all/`, pathParameters: { app_id: appId }, body });

const logoutWith = (authorization?: string) =>
  invoke(logout, { method: 'POST', rawPath: '/api/v1/auth/logout/', headers: authorization ? { Authorization: authorization } : {} });

const tokenState = async (token: string) => (await fetch(`${upstream.url}/_sandbox/svix/tokens/${token}`)).json() as Promise<{ valid: boolean }>;

describe('app-portal-access', () => {
  it('answers 200 {url, token} from Svix, calling it with the org key and an idempotency key of its own', async () => {
    const res = await portal('app_demo', { expiry: 3600, sessionId: 'sess-1' });
    expect(res.statusCode).toBe(200);
    const body = res.json as { url: string; token: string };
    expect(body.token).toMatch(/^appsk_/);
    expect(body.url).toContain('#key=');
    expect(Object.keys(body).sort()).toEqual(['token', 'url']);
    expect(upstream.requests).toHaveLength(1);
    const sent = upstream.requests[0];
    expect(sent?.path).toBe('/api/v1/auth/app-portal-access/app_demo');
    expect(sent?.headers.authorization).toBe(`Bearer ${ORG_KEY}`);
    expect(sent?.headers['idempotency-key']).toMatch(/^authgate_[A-Za-z0-9_-]{43}$/);
    expect(JSON.parse(sent?.body ?? '')).toEqual({ expiry: 3600, sessionId: 'sess-1' });
  });

  it('derives the upstream key from the caller and its idempotency-key, so its own repeat replays the first token', async () => {
    const first = await portal('app_demo', {}, { 'Idempotency-Key': 'order-42' });
    const again = await portal('app_demo', {}, { 'Idempotency-Key': 'order-42' });
    const other = await portal('app_demo', {}, { 'Idempotency-Key': 'order-43' });
    const keys = upstream.requests.map((r) => r.headers['idempotency-key']);
    expect(keys[0]).toMatch(/^authgate_[A-Za-z0-9_-]{43}$/);
    expect(keys[1]).toBe(keys[0]);
    expect(keys[2]).not.toBe(keys[0]);
    expect(keys).not.toContain('order-42');
    expect((again.json as { token: string }).token).toBe((first.json as { token: string }).token);
    expect((other.json as { token: string }).token).not.toBe((first.json as { token: string }).token);
  });

  it("never hands one caller another caller's replay for the same idempotency-key", async () => {
    const asCaller = (sub: string, body: unknown) =>
      invoke(appPortalAccess, {
        method: 'POST',
        rawPath: '/api/v1/auth/app-portal-access/app_demo/',
        pathParameters: { app_id: 'app_demo' },
        headers: { 'idempotency-key': 'onboard-42' },
        body,
        authorizer: { jwt: { claims: { sub }, scopes: [] } },
      });
    const a = await asCaller('caller-a', { expiry: 604800, capabilities: ['ManageEndpoint', 'ManageEndpointSecret'] });
    const b = await asCaller('caller-b', { expiry: 3600, capabilities: ['ViewBase'] });
    expect(a.statusCode).toBe(200);
    expect(b.statusCode).toBe(200);
    expect((b.json as { token: string }).token).not.toBe((a.json as { token: string }).token);
    const [keyA, keyB] = upstream.requests.map((r) => r.headers['idempotency-key']);
    expect(keyB).not.toBe(keyA);
    // The same key from the same caller on another operation or app is another request too.
    await expire('app_demo', {});
    await invoke(expireAll, {
      method: 'POST',
      rawPath: '/api/v1/auth/app/app_demo/expire-all/',
      pathParameters: { app_id: 'app_demo' },
      headers: { 'idempotency-key': 'onboard-42' },
      body: {},
      authorizer: { jwt: { claims: { sub: 'caller-a' } } },
    });
    expect(new Set(upstream.requests.map((r) => r.headers['idempotency-key'])).size).toBe(4);
  });

  it('drops fields it does not know instead of forwarding them', async () => {
    await portal('app_demo', { expiry: 3600, injected: 'x' });
    expect(JSON.parse(upstream.requests[0]?.body ?? '')).toEqual({ expiry: 3600 });
  });

  const invalid: Array<[string, string, unknown, (string | number)[]]> = [
    ['app_id with a space', 'app 1', {}, ['path', 'app_id']],
    ['app_id of 257 chars', 'a'.repeat(257), {}, ['path', 'app_id']],
    ['app_id ".." (a dot segment)', '..', {}, ['path', 'app_id']],
    ['app_id with an encoded slash, decoded by API Gateway', 'a/b', {}, ['path', 'app_id']],
    ['expiry below 3600', 'app_demo', { expiry: 3599 }, ['body', 'expiry']],
    ['expiry above 604800', 'app_demo', { expiry: 604_801 }, ['body', 'expiry']],
    ['expiry not an integer', 'app_demo', { expiry: 3600.5 }, ['body', 'expiry']],
    ['expiry as a string', 'app_demo', { expiry: '3600' }, ['body', 'expiry']],
    ['26 featureFlags', 'app_demo', { featureFlags: Array.from({ length: 26 }, (_, i) => `f${i}`) }, ['body', 'featureFlags']],
    ['duplicate featureFlags', 'app_demo', { featureFlags: ['a', 'a'] }, ['body', 'featureFlags']],
    ['featureFlag with a slash', 'app_demo', { featureFlags: ['a/b'] }, ['body', 'featureFlags', 0]],
    ['featureFlag of 257 chars', 'app_demo', { featureFlags: ['f'.repeat(257)] }, ['body', 'featureFlags', 0]],
    ['unknown capability', 'app_demo', { capabilities: ['ViewBase', 'Admin'] }, ['body', 'capabilities', 1]],
    ['duplicate capabilities', 'app_demo', { capabilities: ['ViewBase', 'ViewBase'] }, ['body', 'capabilities']],
    ['empty sessionId', 'app_demo', { sessionId: '' }, ['body', 'sessionId']],
    ['sessionId of 65 chars', 'app_demo', { sessionId: 's'.repeat(65) }, ['body', 'sessionId']],
    ['sessionId with a dot', 'app_demo', { sessionId: 'a.b' }, ['body', 'sessionId']],
    ['application without name', 'app_new', { application: { uid: 'app_new' } }, ['body', 'application', 'name']],
    ['application throttleRate 0', 'app_new', { application: { name: 'n', throttleRate: 0 } }, ['body', 'application', 'throttleRate']],
    ['application uid pattern', 'app_new', { application: { name: 'n', uid: 'a b' } }, ['body', 'application', 'uid']],
    ['application metadata value not a string', 'app_new', { application: { name: 'n', metadata: { a: 1 } } }, ['body', 'application', 'metadata', 'a']],
    ['readOnly not a boolean', 'app_demo', { readOnly: 'yes' }, ['body', 'readOnly']],
    ['body is an array', 'app_demo', [], ['body']],
    ['body is null', 'app_demo', null, ['body']],
  ];
  it.each(invalid)('answers 422 for %s, at the right loc, without calling Svix', async (_name, appId, body, loc) => {
    const res = await portal(appId, body);
    expect(res.statusCode).toBe(422);
    const detail = (res.json as { detail: Array<{ loc: unknown[]; msg: string; type: string }> }).detail;
    expect(detail[0]?.loc).toEqual(loc);
    expect(typeof detail[0]?.msg).toBe('string');
    expect(detail[0]?.type).toMatch(/^(value_error|type_error)/);
    expect(upstream.requests).toHaveLength(0);
  });

  it('accepts every documented field at its bounds', async () => {
    const res = await portal('app_bounds', {
      application: { name: 'Bounds', uid: 'app_bounds', throttleRate: 1, metadata: { team: 'a' } },
      capabilities: ['ViewBase', 'ManageEndpoint'],
      featureFlags: Array.from({ length: 25 }, (_, i) => `f${i}`),
      expiry: 604_800,
      sessionId: 's'.repeat(64),
      readOnly: null,
    });
    expect(res.statusCode).toBe(200);
  });

  it('answers malformed JSON with 422 value_error.jsondecode', async () => {
    const res = await portal('app_demo', '{"expiry":', { 'content-type': 'application/json' });
    expect(res.statusCode).toBe(422);
    expect(res.json).toEqual({ detail: [{ loc: ['body'], msg: expect.any(String), type: 'value_error.jsondecode' }] });
    expect(upstream.requests).toHaveLength(0);
  });

  it('answers a wrong content type with 415 in the {code, detail} shape', async () => {
    const res = await portal('app_demo', '{}', { 'content-type': 'text/plain' });
    expect(res.statusCode).toBe(415);
    expect(res.json).toEqual({ code: 'unsupported_media_type', detail: expect.any(String) });
    expect(upstream.requests).toHaveLength(0);
  });

  it('answers an oversized body with 413 payload_too_large', async () => {
    const res = await portal('app_demo', { sessionId: 'x'.repeat(300 * 1024) });
    expect(res.statusCode).toBe(413);
    expect(res.json).toEqual({ code: 'payload_too_large', detail: expect.any(String) });
    expect(upstream.requests).toHaveLength(0);
  });

  it('reads a base64-encoded JSON body as API Gateway may deliver it', async () => {
    const res = await portal('app_demo', Buffer.from('{"expiry":3600}'), { 'content-type': 'application/json; charset=utf-8' });
    expect(res.statusCode).toBe(200);
  });

  it.each(['a\u0001b', 'a\u007fb', 'x'.repeat(257), ''])('rejects the idempotency-key %j (controls, over 256 characters, empty)', async (key) => {
    const res = await portal('app_demo', {}, { 'idempotency-key': key });
    expect(res.statusCode).toBe(422);
    expect((res.json as { detail: Array<{ loc: unknown[] }> }).detail[0]?.loc).toEqual(['header', 'idempotency-key']);
    expect(upstream.requests).toHaveLength(0);
  });

  it.each(['a b', 'key-1,key-2', '~!@#$%^&*()_+ {}|:"<>?'])('accepts the idempotency-key %j (any printable ASCII: it only seeds our own key)', async (key) => {
    const res = await portal('app_demo', {}, { 'idempotency-key': key });
    expect(res.statusCode).toBe(200);
    expect(upstream.requests[0]?.headers['idempotency-key']).toMatch(/^authgate_[A-Za-z0-9_-]{43}$/);
  });
});

describe('upstream errors', () => {
  it('passes a Svix 404 through in its own shape', async () => {
    const res = await portal('app_missing', {});
    expect(res.statusCode).toBe(404);
    expect(res.json).toEqual({ code: 'not_found', detail: 'Application not found' });
  });

  it.each([400, 401, 403, 409, 422, 429])('passes %i through with only the documented fields', async (status) => {
    const body =
      status === 422
        ? { detail: [{ loc: ['body', 'x'], msg: 'bad', type: 'value_error', input: 'echo' }] }
        : { code: 'c', detail: 'd', echoed: 'Authorization: x' };
    upstream.script({ status, body });
    const res = await portal('app_demo', {});
    expect(res.statusCode).toBe(status);
    expect(res.json).toEqual(status === 422 ? { detail: [{ loc: ['body', 'x'], msg: 'bad', type: 'value_error' }] } : { code: 'c', detail: 'd' });
    // 4xx are answers, not faults: never repeated.
    // 401: the key is refetched, but it has not changed, so the request is not repeated.
    expect(upstream.requests).toHaveLength(1);
  });

  it('never passes on our key should the upstream echo it', async () => {
    upstream.script({ status: 403, body: { code: 'forbidden', detail: `key ${ORG_KEY} may not do this` } });
    const res = await portal('app_demo', {});
    expect(res.statusCode).toBe(403);
    expect(JSON.stringify(res.json)).not.toContain(ORG_KEY);
    // The detail is cut where the key starts (redaction.ts): nothing after it is shown.
    expect(res.json).toEqual({ code: 'forbidden', detail: 'key [redacted]' });
  });

  // The raw bytes an upstream (or a proxy before it) might send back: JSON escapes decode to the key.
  const uEscaped = `\\u0073${ORG_KEY.slice(1)}`;
  const echoes: Array<[string, string]> = [
    ['raw', ORG_KEY],
    ['\\u-escaped', uEscaped],
    ['all \\u-escaped', [...ORG_KEY].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')],
    ['partly (a long prefix)', ORG_KEY.slice(0, 14)],
    ['percent-encoded in a link', `https://x.example/?k=${encodeURIComponent(ORG_KEY)}`],
  ];
  it('has a key whose percent-encoded spelling is another text', () => {
    expect(encodeURIComponent(ORG_KEY)).not.toBe(ORG_KEY);
  });
  it.each(echoes)('never passes on our key echoed %s in any field of an error', async (_how, echo) => {
    const raw = `{"code":"forbidden","detail":"key ${echo} may not","extra":"${echo}"}`;
    upstream.script({ status: 403, body: raw, headers: { 'content-type': 'application/json', 'retry-after': echo } });
    const res = await portal('app_demo', {});
    expect(res.statusCode).toBe(403);
    expect(res.body).not.toContain(ORG_KEY.slice(0, 12));
    // Decoded too: an escaped copy in the raw body would not show in the check above.
    expect(JSON.stringify(res.json)).not.toContain(ORG_KEY.slice(0, 12));
    expect(JSON.stringify(res.headers)).not.toContain(ORG_KEY.slice(0, 12));
    // Cut where the key starts (redaction.ts: no oracle), never past the end of its string.
    expect((res.json as { detail: string }).detail).toMatch(/^key .*\[redacted\]$/);
  });

  it('never passes on our key echoed inside a successful answer (the portal link)', async () => {
    upstream.script({ status: 200, body: `{"url":"https://app.svix.com/login#key=\\u0073${ORG_KEY.slice(1)}","token":"appsk_x"}` });
    const res = await portal('app_demo', {});
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain(ORG_KEY.slice(0, 12));
    expect(res.json).toEqual({ url: 'https://app.svix.com/login#key=[redacted]', token: 'appsk_x' });
  });

  it('answers a 4xx without a Svix body in the Svix shape, not with the upstream text', async () => {
    upstream.script({ status: 400, body: '<html>bad request from proxy</html>' });
    const res = await portal('app_demo', {});
    expect(res.statusCode).toBe(400);
    expect(res.json).toEqual({ code: 'upstream_error', detail: 'Svix answered HTTP 400.' });
  });

  it('retries a 500 with the same idempotency key, and answers 502 when it persists', async () => {
    upstream.script({ status: 500, body: {} }, { status: 500, body: {} }, { status: 500, body: {} });
    const res = await portal('app_demo', {});
    expect(res.statusCode).toBe(502);
    expect(res.json).toEqual({ code: 'bad_gateway', detail: expect.any(String) });
    expect(upstream.requests).toHaveLength(3);
    expect(new Set(upstream.requests.map((r) => r.headers['idempotency-key'])).size).toBe(1);
  });

  it('recovers when a retry succeeds', async () => {
    upstream.script({ status: 502, body: 'bad gateway' });
    const res = await portal('app_demo', {});
    expect(res.statusCode).toBe(200);
    expect(upstream.requests).toHaveLength(2);
  });

  it('answers 503 with the upstream Retry-After when Svix stays unavailable', async () => {
    const unavailable = { status: 503, body: 'down', headers: { 'retry-after': '0' } };
    upstream.script(unavailable, unavailable, unavailable);
    const res = await portal('app_demo', {});
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('0');
  });

  it('answers 504 when Svix does not answer in time', async () => {
    upstream.script({ hang: true }, { hang: true }, { hang: true });
    const res = await portal('app_demo', {});
    expect(res.statusCode).toBe(504);
    expect(res.json).toEqual({ code: 'gateway_timeout', detail: expect.any(String) });
  });

  it('bounds the wait by the Lambda remaining time', async () => {
    upstream.script({ hang: true }, { hang: true }, { hang: true });
    const started = Date.now();
    const res = await portal('app_demo', {}, {}, 500);
    expect(res.statusCode).toBe(504);
    // 500 ms remaining less the 250 ms margin: one attempt of at most 250 ms, no retry, and the
    // answer well before the Lambda's own 500 ms would have run out (slack for a loaded machine).
    expect(upstream.requests).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('answers 503 when the connection is reset every time', async () => {
    upstream.script({ reset: true }, { reset: true }, { reset: true });
    const res = await portal('app_demo', {});
    expect(res.statusCode).toBe(503);
  });
});

describe('secrets', () => {
  beforeEach(() => {
    clearSecretCache();
    sm.resetHistory();
  });
  afterEach(() => {
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).resolves({ SecretString: ORG_KEY });
  });

  it('fetches the Svix key once per container across many invocations', async () => {
    for (let i = 0; i < 5; i++) expect((await portal('app_demo', {})).statusCode).toBe(200);
    expect(sm.commandCalls('GetSecretValue')).toHaveLength(1);
  });

  it('refetches the key once when Svix answers 401 (rotated) and succeeds with the new one', async () => {
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).resolvesOnce({ SecretString: 'sk_old_rotated_away' }).resolves({ SecretString: ORG_KEY });
    const res = await portal('app_demo', {});
    expect(res.statusCode).toBe(200);
    expect(sm.commandCalls('GetSecretValue')).toHaveLength(2);
    expect(upstream.requests.map((r) => r.headers.authorization)).toEqual(['Bearer sk_old_rotated_away', `Bearer ${ORG_KEY}`]);
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).resolves({ SecretString: ORG_KEY });
  });

  it('reads a JSON secret {"token": ...} as well as a raw string', async () => {
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).resolves({ SecretString: JSON.stringify({ token: ORG_KEY }) });
    expect((await portal('app_demo', {})).statusCode).toBe(200);
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).resolves({ SecretString: ORG_KEY });
  });

  it('answers 503 naming no secret when Secrets Manager fails and nothing is cached, and logs which secret', async () => {
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).rejects('AccessDeniedException');
    const res = await portal('app_demo', {});
    expect(res.statusCode).toBe(503);
    expect(JSON.stringify(res.json)).not.toContain(SECRET_ID);
    expect(upstream.requests).toHaveLength(0);
    expect(logLines.join('\n')).toContain(SECRET_ID);
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).resolves({ SecretString: ORG_KEY });
  });
});

describe('dashboard-access (deprecated)', () => {
  it('is served through app-portal-access and marked deprecated', async () => {
    const res = await invoke(dashboardAccess, { method: 'POST', rawPath: '/api/v1/auth/dashboard-access/app_demo/', pathParameters: { app_id: 'app_demo' } });
    expect(res.statusCode).toBe(200);
    expect(Object.keys(res.json as object).sort()).toEqual(['token', 'url']);
    expect(res.headers.deprecation).toBe('true');
    expect(res.headers.link).toBe('</api/v1/auth/app-portal-access/app_demo/>; rel="successor-version"');
    expect(upstream.requests[0]?.path).toBe('/api/v1/auth/app-portal-access/app_demo');
    expect(upstream.requests[0]?.body).toBe('{}');
  });

  it('links the successor for the same app, whatever the app id holds', async () => {
    expect((await portal('eu.app-2_x', { application: { name: 'EU', uid: 'eu.app-2_x' } })).statusCode).toBe(200);
    const res = await invoke(dashboardAccess, {
      method: 'POST',
      rawPath: '/api/v1/auth/dashboard-access/eu.app-2_x/',
      pathParameters: { app_id: 'eu.app-2_x' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers.link).toBe('</api/v1/auth/app-portal-access/eu.app-2_x/>; rel="successor-version"');
    // Svix app ids hold only unreserved characters today; should that ever widen, the link still
    // names one path segment.
    expect(successorLink('/api/v1/auth/app-portal-access/{app_id}/', { app_id: 'a/b c?%' })).toBe(
      '</api/v1/auth/app-portal-access/a%2Fb%20c%3F%25/>; rel="successor-version"',
    );
  });

  it('validates app_id', async () => {
    const res = await invoke(dashboardAccess, { method: 'POST', rawPath: '/api/v1/auth/dashboard-access/x%20y/', pathParameters: { app_id: 'x y' } });
    expect(res.statusCode).toBe(422);
    expect(res.headers.link).toBeUndefined();
    expect(upstream.requests).toHaveLength(0);
  });
});

describe('expire-all', () => {
  it('answers 204 and really expires the app tokens (expiry 0)', async () => {
    const { token } = (await portal('app_2', {})).json as { token: string };
    expect((await tokenState(token)).valid).toBe(true);
    const res = await expire('app_2', { expiry: 0 });
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    expect((await tokenState(token)).valid).toBe(false);
  });

  it('expires only the listed sessions', async () => {
    const a = ((await portal('app_2', { sessionId: 'keep' })).json as { token: string }).token;
    const b = ((await portal('app_2', { sessionId: 'drop' })).json as { token: string }).token;
    expect((await expire('app_2', { expiry: 0, sessionIds: ['drop'] })).statusCode).toBe(204);
    expect((await tokenState(a)).valid).toBe(true);
    expect((await tokenState(b)).valid).toBe(false);
  });

  it.each([
    ['expiry -1', { expiry: -1 }, ['body', 'expiry']],
    ['expiry 259201', { expiry: 259_201 }, ['body', 'expiry']],
    ['1001 sessionIds', { sessionIds: Array.from({ length: 1001 }, (_, i) => `s${i}`) }, ['body', 'sessionIds']],
    ['a sessionId with a space', { sessionIds: ['a b'] }, ['body', 'sessionIds', 0]],
    ['sessionIds not an array', { sessionIds: 'a' }, ['body', 'sessionIds']],
  ])('answers 422 for %s without calling Svix', async (_name, body, loc) => {
    const res = await expire('app_demo', body);
    expect(res.statusCode).toBe(422);
    expect((res.json as { detail: Array<{ loc: unknown[] }> }).detail[0]?.loc).toEqual(loc);
    expect(upstream.requests).toHaveLength(0);
  });

  it('passes 404 for an unknown app through', async () => {
    expect((await expire('app_nope', {})).statusCode).toBe(404);
  });
});

describe('logout', () => {
  it('forwards the caller app token, never the org key, and never reads a secret', async () => {
    const { token } = (await portal('app_demo', {})).json as { token: string };
    sm.resetHistory();
    upstream.requests.length = 0;
    const res = await logoutWith(`Bearer ${token}`);
    expect(res.statusCode).toBe(204);
    expect(upstream.requests[0]?.headers.authorization).toBe(`Bearer ${token}`);
    expect(upstream.requests[0]?.path).toBe('/api/v1/auth/logout');
    expect(sm.commandCalls('GetSecretValue')).toHaveLength(0);
    const again = await logoutWith(`Bearer ${token}`);
    expect(again.statusCode).toBe(401);
    expect(again.json).toEqual({ code: 'authentication_failed', detail: 'Invalid token' });
  });

  it.each([undefined, 'Basic abc', 'Bearer ', 'Bearer a b'])('answers 401 for Authorization %s without calling Svix', async (authorization) => {
    const res = await logoutWith(authorization);
    expect(res.statusCode).toBe(401);
    expect(res.json).toEqual({ code: 'authentication_failed', detail: 'Invalid token' });
    expect(upstream.requests).toHaveLength(0);
  });
});

describe('logs', () => {
  it('carry a request id and never a key or token', async () => {
    const { token } = (await portal('app_demo', {})).json as { token: string };
    await logoutWith(`Bearer ${token}`);
    upstream.script({ status: 500, body: { code: 'x', detail: ORG_KEY } }, { status: 500, body: {} }, { status: 500, body: {} });
    await portal('app_demo', {});
    const all = logLines.join('\n');
    expect(all).not.toContain(ORG_KEY);
    expect(all).not.toContain(token);
    const lines = logLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const audits = lines.filter((l) => l.msg === 'audit');
    expect(audits).toHaveLength(3);
    expect(audits.map((l) => typeof l.requestId)).toEqual(['string', 'string', 'string']);
  });
});
