import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { PNG } from 'pngjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { handler as getQrLogin } from '#functions/nextauth-get-qr-login';
import { handler as getSession } from '#functions/nextauth-get-session';
import { handler as logout } from '#functions/nextauth-logout';
import { handler as provokeLogin } from '#functions/nextauth-provoke-login';
import { handler as provokeLoginOnAccount } from '#functions/nextauth-provoke-login-on-account';
import { handler as provokeLoginOnUser } from '#functions/nextauth-provoke-login-on-user';
import { MAX_LOGO_CHARS, MAX_USER_CONTEXT_BYTES } from '#lib/schemas/nextauth';
import { clearSecretCache } from '#lib/secrets';
import { httpEvent, lambdaContext } from '#local/events';
import { base64urlServerId, createNextAuthSandbox, DEFAULT_SANDBOX_SERVER_ID } from '#local/sandbox/nextauth';
import { decodeQrPng } from '../../scripts/smoke/qr.ts';
import { type InvokeResult, invoke } from '../support/invoke.ts';
import { logLines } from '../support/logs.ts';
import { mockSecrets } from '../support/secrets.ts';
import { useTestUpstream } from '../support/upstream.ts';

const API_KEY = 'nextauth-canary-key-7Qx2';
const LIMITED_KEY = 'nextauth-limited-canary-key';
const SECRET_ID = 'test/nextauth';
const SID = DEFAULT_SANDBOX_SERVER_ID;
const ENCODED_SID = encodeURIComponent(SID);
const secretOf = (apiKey = API_KEY, su?: string) => JSON.stringify(su ? { apiKey, su } : { apiKey });
const sm = mockSecrets({ [SECRET_ID]: secretOf() });
const resetSecret = () => sm.on('GetSecretValue', { SecretId: SECRET_ID }).resolves({ SecretString: secretOf() });

const sandbox = createNextAuthSandbox({ apiKey: API_KEY, serverId: SID, limitedApiKey: LIMITED_KEY });
const upstream = useTestUpstream(
  () => [sandbox.upstream],
  // Long enough for the sandbox to draw a PNG under a loaded test run; hang tests bound the wait by remainingMs.
  (url) => ({ NEXTAUTH_API_URL: url, NEXTAUTH_SECRET_ID: SECRET_ID, UPSTREAM_ATTEMPT_TIMEOUT_MS: '1000' }),
);

/** A nonce as an integrator makes one: 16 random bytes, base64 (so '+', '/' and '=' occur). */
const newNonce = () => randomBytes(16).toString('base64');

type HttpLambda = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2>;
type Op = 'qr' | 'session' | 'logout' | 'provoke' | 'account' | 'user';
const OPS: Record<Op, { handler: HttpLambda; method: string; tail: (p: Record<string, string>) => string }> = {
  qr: { handler: getQrLogin, method: 'GET', tail: () => '/sessions/qr/login' },
  session: { handler: getSession, method: 'GET', tail: () => '/sessions' },
  logout: { handler: logout, method: 'POST', tail: () => '/sessions/logout' },
  provoke: { handler: provokeLogin, method: 'POST', tail: () => '/sessions/provokelogin' },
  account: { handler: provokeLoginOnAccount, method: 'POST', tail: (p) => `/accounts/${p.accountid}/provokelogin` },
  user: { handler: provokeLoginOnUser, method: 'POST', tail: (p) => `/users/${p.userid}/provokelogin` },
};
const ALL_OPS = Object.keys(OPS) as Op[];

interface Call {
  /** `null`: no serverid path parameter at all. */
  serverId?: string | null;
  /** `null`: no X-Nonce header. */
  nonce?: string | null;
  accountId?: string;
  userId?: string;
  query?: string;
  headers?: Record<string, string>;
  body?: unknown;
  remainingMs?: number;
}

/** Invokes an operation's handler with the HTTP API v2 event API Gateway would send. */
function run(op: Op, c: Call = {}): Promise<InvokeResult> {
  const { handler, method, tail } = OPS[op];
  const pathParameters: Record<string, string> = {};
  if (c.serverId !== null) pathParameters.serverid = c.serverId ?? SID;
  if (op === 'account') pathParameters.accountid = c.accountId ?? '1';
  if (op === 'user') pathParameters.userid = c.userId ?? 'alice';
  const headers: Record<string, string> = { ...c.headers };
  if (c.nonce !== null) headers['X-Nonce'] = c.nonce ?? newNonce();
  return invoke(handler, {
    method,
    // HTTP API hands Lambda the path decoded; nothing reads it but the logs.
    rawPath: `/servers/${pathParameters.serverid ?? ''}${tail(pathParameters)}`,
    ...(c.query ? { rawQueryString: c.query } : {}),
    pathParameters,
    headers,
    body: c.body,
    ...(c.remainingMs ? { remainingMs: c.remainingMs } : {}),
  });
}

const bytesOf = (res: InvokeResult) => Buffer.from(res.body ?? '', res.isBase64Encoded ? 'base64' : 'utf8');

async function phone(action: 'scan' | 'push/confirm', body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${upstream.url}/_sandbox/nextauth/${action}`, { method: 'POST', body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  upstream.requests.length = 0;
}

/** A session that logged in with `accountid` and logged out again, so a push is possible. */
async function loggedOutAfter(accountid: number): Promise<string> {
  const nonce = newNonce();
  await phone('scan', { serverid: SID, nonce, accountid });
  expect((await run('logout', { nonce })).statusCode).toBe(200);
  upstream.requests.length = 0;
  return nonce;
}

const status = async (nonce: string) => {
  const res = await run('session', { nonce });
  expect(res.statusCode).toBe(200);
  return res.json as Record<string, unknown>;
};

describe('getQrLogin', () => {
  it('answers the raw QR bytes, base64-encoded in the Lambda result, equal to the decoded loginqrdata', async () => {
    const nonce = newNonce();
    const { loginqrdata } = await status(nonce);
    upstream.requests.length = 0;
    const res = await run('qr', { nonce });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.isBase64Encoded).toBe(true);
    const raw = Buffer.from(loginqrdata as string, 'base64');
    expect(raw.length).toBeGreaterThan(0);
    expect(bytesOf(res)).toEqual(raw);
    expect(upstream.requests).toHaveLength(1);
    const sent = upstream.requests[0];
    expect(sent?.method).toBe('GET');
    expect(sent?.path).toBe(`/servers/${ENCODED_SID}/sessions/qr/login`);
    expect(sent?.headers['x-apikey']).toBe(API_KEY);
    expect(sent?.headers['x-nonce']).toBe(nonce);
    expect(sent?.headers['x-su']).toBeUndefined();
    expect(sent?.headers['content-type']).toBeUndefined();
    expect(sent?.body).toBe('');
  });

  it('answers a PNG of the requested size that decodes to the raw QR bytes', async () => {
    const nonce = newNonce();
    const raw = Buffer.from((await status(nonce)).loginqrdata as string, 'base64');
    upstream.requests.length = 0;
    const res = await run('qr', { nonce, query: 'img=png&s=300' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    const png = bytesOf(res);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(PNG.sync.read(png).width).toBe(300);
    expect(decodeQrPng(png)).toEqual(raw);
    expect(upstream.requests[0]?.path).toBe(`/servers/${ENCODED_SID}/sessions/qr/login?img=png&s=300`);
  });

  it('forwards a UserContext as a JSON body on the GET, without the keys it does not know', async () => {
    const res = await run('qr', {
      body: { sessioninfo: { ip: '203.0.113.7', useragent: 'Firefox/140', info: { shop: 'demo' }, colour: 'red' }, extra: true },
    });
    expect(res.statusCode).toBe(200);
    const sent = upstream.requests[0];
    expect(sent?.method).toBe('GET');
    expect(sent?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(sent?.body ?? '')).toEqual({ sessioninfo: { ip: '203.0.113.7', useragent: 'Firefox/140', info: { shop: 'demo' } } });
  });

  it('forwards only img and s from the query string', async () => {
    upstream.script({ status: 200, body: 'raw', headers: { 'content-type': 'application/octet-stream' } });
    const res = await run('qr', { query: 's=2000&debug=1&img=png' });
    expect(res.statusCode).toBe(200);
    expect(bytesOf(res).toString()).toBe('raw');
    expect(upstream.requests[0]?.path).toBe(`/servers/${ENCODED_SID}/sessions/qr/login?img=png&s=2000`);
  });

  it('accepts s at its lower bound', async () => {
    const res = await run('qr', { query: 'img=png&s=50' });
    expect(res.statusCode).toBe(200);
    expect(PNG.sync.read(bytesOf(res)).width).toBe(50);
  });
});

describe('getSession', () => {
  it('answers a fresh session as logged out, as JSON, from the path with the trailing slash', async () => {
    const body = await status(newNonce());
    expect(body).toEqual({ loggedin: false, canprovoke: false, hsid: expect.any(String), loginqrdata: expect.any(String) });
    expect(upstream.requests[0]?.method).toBe('GET');
    expect(upstream.requests[0]?.path).toBe(`/servers/${ENCODED_SID}/sessions/`);
  });

  it('answers user, account and pk once the app scanned', async () => {
    const nonce = newNonce();
    await phone('scan', { serverid: SID, nonce, accountid: 1 });
    const res = await run('session', { nonce });
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.json).toEqual({
      loggedin: true,
      userid: 'alice',
      accountid: 1,
      pk: expect.any(String),
      canprovoke: true,
      hsid: expect.any(String),
      loginqrdata: expect.any(String),
    });
  });

  it('reads LoginStatus loosely: a missing loggedin is false', async () => {
    upstream.script({ status: 200, body: {} });
    expect((await run('session')).json).toEqual({ loggedin: false });
  });

  it('returns only the documented fields, dropping ill-typed ones', async () => {
    upstream.script({ status: 200, body: { loggedin: true, userid: 'u', accountid: '1', pk: 5, canprovoke: true, secret: 'x', role: 'root' } });
    const res = await run('session');
    expect(res.statusCode).toBe(200);
    expect(res.json).toEqual({ loggedin: true, userid: 'u', canprovoke: true });
  });

  it.each([
    ['a non-boolean loggedin', { loggedin: 'true' }],
    ['an array', [{ loggedin: true }]],
    ['text', 'logged in'],
  ])('answers 502 for %s', async (_name, body) => {
    upstream.script({ status: 200, body });
    const res = await run('session');
    expect(res.statusCode).toBe(502);
    expect(res.json).toEqual({ code: 'bad_gateway', detail: 'nextAuth answered with an unexpected body.' });
  });
});

describe('logout', () => {
  it('answers 200 with an empty body; the session stays pushable', async () => {
    const nonce = newNonce();
    await phone('scan', { serverid: SID, nonce, accountid: 2 });
    const res = await run('logout', { nonce });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
    const sent = upstream.requests[0];
    expect(sent?.method).toBe('POST');
    expect(sent?.path).toBe(`/servers/${ENCODED_SID}/sessions/logout`);
    expect(sent?.body).toBe('');
    expect(await status(nonce)).toMatchObject({ loggedin: false, canprovoke: true });
  });

  it('ignores a body', async () => {
    expect((await run('logout', { body: { anything: 1 } })).statusCode).toBe(200);
    expect(upstream.requests[0]?.body).toBe('');
  });
});

describe('provoke login', () => {
  const context = { announceinfo: { info: { text: 'Log in to Demo?' }, ip: '198.51.100.2', useragent: 'Safari', logo: 'iVBORw0KGgo=', x: 1 } };
  const forwarded = { announceinfo: { info: { text: 'Log in to Demo?' }, ip: '198.51.100.2', useragent: 'Safari', logo: 'iVBORw0KGgo=' } };

  it('pushes to the last account of the session, with the UserContext, answering 200 empty', async () => {
    const nonce = await loggedOutAfter(1);
    const res = await run('provoke', { nonce, body: context });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
    expect(upstream.requests[0]?.path).toBe(`/servers/${ENCODED_SID}/sessions/provokelogin`);
    expect(JSON.parse(upstream.requests[0]?.body ?? '')).toEqual(forwarded);
    const push = sandbox.pushes().filter((p) => p.nonce === nonce);
    expect(push).toEqual([expect.objectContaining({ via: 'session', accountids: [1], userContext: forwarded, state: 'pending' })]);
    await phone('push/confirm', { serverid: SID, nonce });
    expect(await status(nonce)).toMatchObject({ loggedin: true, userid: 'alice', accountid: 1 });
  });

  it('sends no body when the caller sent none', async () => {
    const nonce = await loggedOutAfter(3);
    expect((await run('provoke', { nonce })).statusCode).toBe(200);
    expect(upstream.requests[0]?.body).toBe('');
    expect(upstream.requests[0]?.headers['content-type']).toBeUndefined();
  });

  it('answers 403 in its own words when the session never logged in', async () => {
    const res = await run('provoke');
    expect(res.statusCode).toBe(403);
    expect(res.json).toEqual({ code: 'forbidden', detail: 'nextAuth answered HTTP 403.' });
    expect(res.body).not.toContain('no account');
  });

  it('pushes to one account, reading a body sent without Content-Type (as generated clients send it)', async () => {
    const nonce = newNonce();
    const res = await run('account', { nonce, accountId: '2', body: Buffer.from(JSON.stringify(context)) });
    expect(res.statusCode).toBe(200);
    expect(upstream.requests[0]?.path).toBe(`/servers/${ENCODED_SID}/accounts/2/provokelogin`);
    expect(JSON.parse(upstream.requests[0]?.body ?? '')).toEqual(forwarded);
    expect(sandbox.pushes().filter((p) => p.nonce === nonce)).toEqual([expect.objectContaining({ via: 'account', accountids: [2] })]);
  });

  it('forwards an account id with leading zeros as its number', async () => {
    expect((await run('account', { accountId: '003' })).statusCode).toBe(200);
    expect(upstream.requests[0]?.path).toBe(`/servers/${ENCODED_SID}/accounts/3/provokelogin`);
  });

  it('answers 404 for an unknown account', async () => {
    const res = await run('account', { accountId: '99' });
    expect(res.statusCode).toBe(404);
    expect(res.json).toEqual({ code: 'not_found', detail: 'nextAuth answered HTTP 404.' });
  });

  it('pushes to every account of a user', async () => {
    const nonce = newNonce();
    expect((await run('user', { nonce, userId: 'alice' })).statusCode).toBe(200);
    expect(sandbox.pushes().filter((p) => p.nonce === nonce)).toEqual([expect.objectContaining({ via: 'user', userid: 'alice', accountids: [1, 2] })]);
  });

  it('answers 404 for an unknown user, percent-encoding the user id upstream', async () => {
    const res = await run('user', { userId: 'ann smith@example?#%' });
    expect(res.statusCode).toBe(404);
    expect(res.json).toEqual({ code: 'not_found', detail: 'nextAuth answered HTTP 404.' });
    expect(upstream.requests[0]?.path).toBe(`/servers/${ENCODED_SID}/users/ann%20smith%40example%3F%23%25/provokelogin`);
  });
});

describe('validation: 400 {code: validation_error} and no upstream call', () => {
  const bigLogo = 'A'.repeat(MAX_LOGO_CHARS + 4);
  const invalid: Array<[string, Op, Call, string]> = [
    ['no serverid', 'session', { serverId: null }, 'path.serverid'],
    ['an empty serverid', 'session', { serverId: '' }, 'path.serverid'],
    ['a serverid with "!"', 'session', { serverId: 'abc!' }, 'path.serverid'],
    ['a serverid with a space', 'qr', { serverId: 'ab c' }, 'path.serverid'],
    ['a serverid with three "="', 'logout', { serverId: 'abc===' }, 'path.serverid'],
    ['a serverid with "=" inside', 'provoke', { serverId: 'ab=c' }, 'path.serverid'],
    ['a serverid of 4n+1 characters (no base64)', 'session', { serverId: 'abcde' }, 'path.serverid'],
    ['a serverid with padding it does not need', 'qr', { serverId: 'abcd==' }, 'path.serverid'],
    ['a serverid with too little padding', 'logout', { serverId: 'ab=' }, 'path.serverid'],
    ['a serverid of 257 chars', 'session', { serverId: 'A'.repeat(257) }, 'path.serverid'],
    ['an empty X-Nonce', 'session', { nonce: '' }, 'header.x-nonce'],
    ['an X-Nonce with a space', 'session', { nonce: 'a b' }, 'header.x-nonce'],
    ['an X-Nonce with a tab', 'logout', { nonce: 'a\tb' }, 'header.x-nonce'],
    ['an X-Nonce with a DEL', 'logout', { nonce: 'a\x7fb' }, 'header.x-nonce'],
    ['a non-ASCII X-Nonce', 'qr', { nonce: 'nonceé' }, 'header.x-nonce'],
    ['an X-Nonce of 513 chars', 'qr', { nonce: 'n'.repeat(513) }, 'header.x-nonce'],
    ['a repeated X-Nonce (joined by API Gateway)', 'session', { nonce: 'abc,def' }, 'header.x-nonce'],
    ['an accountid that is not a number', 'account', { accountId: 'abc' }, 'path.accountid'],
    ['a negative accountid', 'account', { accountId: '-1' }, 'path.accountid'],
    ['a fractional accountid', 'account', { accountId: '1.5' }, 'path.accountid'],
    ['an accountid in exponent form', 'account', { accountId: '1e3' }, 'path.accountid'],
    ['an empty accountid', 'account', { accountId: '' }, 'path.accountid'],
    ['an accountid of 19 digits', 'account', { accountId: '1'.repeat(19) }, 'path.accountid'],
    ['an accountid above 2^53-1', 'account', { accountId: '9007199254740993' }, 'path.accountid'],
    ['an empty userid', 'user', { userId: '' }, 'path.userid'],
    ['a userid with "/"', 'user', { userId: 'a/b' }, 'path.userid'],
    ['a userid ".." (a dot segment)', 'user', { userId: '..' }, 'path.userid'],
    ['a userid with NUL', 'user', { userId: 'a\u0000b' }, 'path.userid'],
    ['a userid with a newline', 'user', { userId: 'a\nb' }, 'path.userid'],
    ['a userid with a C1 control', 'user', { userId: 'a\u0085b' }, 'path.userid'],
    ['a userid of 257 chars', 'user', { userId: 'u'.repeat(257) }, 'path.userid'],
    ['s below 50', 'qr', { query: 'img=png&s=49' }, 'query.s'],
    ['s above 2000', 'qr', { query: 'img=png&s=2001' }, 'query.s'],
    ['s not a number', 'qr', { query: 's=abc' }, 'query.s'],
    ['s fractional', 'qr', { query: 's=300.5' }, 'query.s'],
    ['s empty', 'qr', { query: 's=' }, 'query.s'],
    ['s negative', 'qr', { query: 's=-300' }, 'query.s'],
    ['img other than png', 'qr', { query: 'img=svg' }, 'query.img'],
    ['img in upper case', 'qr', { query: 'img=PNG' }, 'query.img'],
    ['img repeated (joined by API Gateway)', 'qr', { query: 'img=png&img=png' }, 'query.img'],
    ['a UserContext that is an array', 'provoke', { body: [] }, 'body'],
    ['a UserContext that is null', 'account', { body: null }, 'body'],
    ['a UserContext that is a string', 'user', { body: '"hello"', headers: { 'content-type': 'application/json' } }, 'body'],
    ['malformed JSON', 'provoke', { body: '{"sessioninfo":', headers: { 'content-type': 'application/json' } }, 'body'],
    ['a forbidden __proto__ key', 'provoke', { body: '{"__proto__":{"x":1}}', headers: { 'content-type': 'application/json' } }, 'body'],
    ['announceinfo not an object', 'provoke', { body: { announceinfo: 'hi' } }, 'body.announceinfo'],
    ['sessioninfo null', 'qr', { body: { sessioninfo: null } }, 'body.sessioninfo'],
    ['info an array', 'qr', { body: { sessioninfo: { info: ['a'] } } }, 'body.sessioninfo.info'],
    ['info a string', 'account', { body: { announceinfo: { info: 'a' } } }, 'body.announceinfo.info'],
    ['ip a number', 'user', { body: { sessioninfo: { ip: 1 } } }, 'body.sessioninfo.ip'],
    ['ip of 65 chars', 'user', { body: { sessioninfo: { ip: '1'.repeat(65) } } }, 'body.sessioninfo.ip'],
    ['useragent of 1025 chars', 'provoke', { body: { sessioninfo: { useragent: 'u'.repeat(1025) } } }, 'body.sessioninfo.useragent'],
    ['logo not base64', 'provoke', { body: { announceinfo: { logo: 'not base64!' } } }, 'body.announceinfo.logo'],
    ['logo in the url-safe alphabet', 'provoke', { body: { announceinfo: { logo: 'ab-_' } } }, 'body.announceinfo.logo'],
    ['logo with a bad length', 'provoke', { body: { announceinfo: { logo: 'abcde' } } }, 'body.announceinfo.logo'],
    ['logo over 256 KiB', 'account', { body: { announceinfo: { logo: bigLogo } } }, 'body.announceinfo.logo'],
  ];
  it.each(invalid)('%s (%s)', async (_name, op, c, loc) => {
    const res = await run(op, c);
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.json).toEqual({ code: 'validation_error', detail: expect.stringMatching(new RegExp(`^${loc.replace(/\./g, '\\.')}: `)) });
    expect(upstream.requests).toHaveLength(0);
  });

  it.each(ALL_OPS)('%s requires X-Nonce', async (op) => {
    const res = await run(op, { nonce: null });
    expect(res.statusCode).toBe(400);
    expect(res.json).toEqual({ code: 'validation_error', detail: 'header.x-nonce: the X-Nonce header is required' });
    expect(upstream.requests).toHaveLength(0);
  });

  it.each(ALL_OPS)('%s validates serverid', async (op) => {
    expect((await run(op, { serverId: 'a/b?c' })).statusCode).toBe(400);
    expect(upstream.requests).toHaveLength(0);
  });

  it('reads the nonce header in any case', async () => {
    const res = await run('session', { nonce: null, headers: { 'X-NONCE': 'Upper-Case-Nonce' } });
    expect(res.statusCode).toBe(200);
    expect(upstream.requests[0]?.headers['x-nonce']).toBe('Upper-Case-Nonce');
  });

  it('answers a UserContext body over the limit with 413 before parsing it', async () => {
    const res = await run('provoke', { body: { announceinfo: { logo: 'A'.repeat(MAX_USER_CONTEXT_BYTES) } } });
    expect(res.statusCode).toBe(413);
    expect(res.json).toEqual({ code: 'payload_too_large', detail: expect.any(String) });
    expect(upstream.requests).toHaveLength(0);
  });

  it('accepts every input at its bounds', async () => {
    const logo = 'A'.repeat(MAX_LOGO_CHARS);
    const full = {
      announceinfo: { info: { a: { b: [1, null, 'c'] } }, ip: 'f'.repeat(64), logo, useragent: 'u'.repeat(1024) },
      sessioninfo: { info: {}, ip: '::1', logo: 'YWJj', useragent: '' },
    };
    const nonce = `${'~'.repeat(256)}${'!'.repeat(256)}`;
    expect((await run('account', { nonce, accountId: '1', body: full })).statusCode).toBe(200);
    expect(JSON.parse(upstream.requests[0]?.body ?? '')).toEqual(full);
    // Unpadded base64 and the url-safe server id alphabet pass validation (an unknown server: 404).
    expect((await run('provoke', { serverId: 'b3RoZXItc2VydmVy_w', body: { sessioninfo: { logo: 'YWI' } } })).statusCode).toBe(404);
    expect((await run('user', { userId: `ü${'x'.repeat(255)}` })).statusCode).toBe(404);
    expect((await run('account', { accountId: '9007199254740991' })).statusCode).toBe(404);
    expect((await run('session', { serverId: `${'A'.repeat(254)}==` })).statusCode).toBe(404);
    expect(upstream.requests).toHaveLength(5);
  });
});

describe('server id spellings', () => {
  const URL_SAFE = base64urlServerId(SID);

  it.each(ALL_OPS)('%s sends a base64url server id upstream in the standard alphabet, padded', async (op) => {
    expect(URL_SAFE).toMatch(/_.*-/);
    const nonce = await loggedOutAfter(1);
    for (const serverId of [URL_SAFE, `${URL_SAFE}==`, SID]) {
      const res = await run(op, { serverId, nonce });
      expect([serverId, res.statusCode]).toEqual([serverId, 200]);
    }
    expect(upstream.requests.map((r) => r.path.split('/')[2])).toEqual([ENCODED_SID, ENCODED_SID, ENCODED_SID]);
  });
});

describe('upstream errors', () => {
  it.each([
    [400, 'bad_request'],
    [401, 'unauthorized'],
    [403, 'forbidden'],
    [404, 'not_found'],
    [409, 'conflict'],
    [418, 'upstream_error'],
    [429, 'too_many_requests'],
  ])("passes %i through with the gateway's own body, never the upstream text, and does not repeat it", async (code, name) => {
    upstream.script({ status: code, body: `echo: x-apikey ${API_KEY}` });
    const res = await run('session');
    expect(res.statusCode).toBe(code);
    expect(res.json).toEqual({ code: name, detail: `nextAuth answered HTTP ${code}.` });
    expect(res.body).not.toContain(API_KEY);
    // 401: the key is refetched, but it has not changed, so the request is not repeated.
    expect(upstream.requests).toHaveLength(1);
  });

  it.each([
    ['raw', API_KEY],
    ['\\u-escaped', `\\u006e${API_KEY.slice(1)}`],
    ['partly (a long prefix)', API_KEY.slice(0, 13)],
  ])('never passes on our key echoed %s inside a LoginStatus field or a Retry-After', async (_how, echo) => {
    upstream.script({ status: 200, body: `{"loggedin":true,"userid":"${echo}","hsid":"h-${echo}"}`, headers: { 'content-type': 'application/json' } });
    const ok = await run('session');
    expect(ok.statusCode).toBe(200);
    expect(ok.body).not.toContain(API_KEY.slice(0, 12));
    // Decoded too: an escaped copy in the raw body would not show in the check above.
    expect(JSON.stringify(ok.json)).not.toContain(API_KEY.slice(0, 12));
    expect(ok.json).toMatchObject({ loggedin: true, userid: '[redacted]' });
    upstream.script({ status: 429, body: '', headers: { 'retry-after': echo } });
    const limited = await run('session');
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBeUndefined();
  });

  it('keeps the Retry-After of a 429', async () => {
    // A Retry-After beyond the Lambda's remaining time: not waited for, handed to the caller.
    upstream.script({ status: 429, body: '', headers: { 'retry-after': '60' } });
    const res = await run('logout');
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBe('60');
    expect(upstream.requests).toHaveLength(1);
  });

  it('answers 404 for a server nextAuth does not know', async () => {
    const res = await run('session', { serverId: 'b3RoZXI=' });
    expect(res.statusCode).toBe(404);
    expect(res.json).toEqual({ code: 'not_found', detail: 'nextAuth answered HTTP 404.' });
    expect(upstream.requests[0]?.path).toBe('/servers/b3RoZXI%3D/sessions/');
  });

  it('retries a read on 5xx and answers 502 when it persists', async () => {
    upstream.script({ status: 500, body: 'boom' }, { status: 502, body: 'boom' }, { status: 500, body: 'boom' });
    const res = await run('session');
    expect(res.statusCode).toBe(502);
    expect(res.json).toEqual({ code: 'bad_gateway', detail: expect.any(String) });
    expect(upstream.requests).toHaveLength(3);
  });

  it('recovers a QR code when a retry succeeds, bytes intact', async () => {
    const nonce = newNonce();
    const raw = Buffer.from((await status(nonce)).loginqrdata as string, 'base64');
    upstream.requests.length = 0;
    upstream.script({ status: 502, body: 'bad gateway' });
    const res = await run('qr', { nonce });
    expect(res.statusCode).toBe(200);
    expect(bytesOf(res)).toEqual(raw);
    expect(upstream.requests).toHaveLength(2);
  });

  it('retries logout on 500', async () => {
    upstream.script({ status: 500, body: {} });
    const res = await run('logout');
    expect(res.statusCode).toBe(200);
    expect(upstream.requests).toHaveLength(2);
  });

  it('answers 503 with the upstream Retry-After when nextAuth stays unavailable', async () => {
    const unavailable = { status: 503, body: 'down', headers: { 'retry-after': '0' } };
    upstream.script(unavailable, unavailable, unavailable);
    const res = await run('session');
    expect(res.statusCode).toBe(503);
    expect(res.json).toEqual({ code: 'service_unavailable', detail: expect.any(String) });
    expect(res.headers['retry-after']).toBe('0');
  });

  it('answers 504 when nextAuth does not answer in time, bounded by the Lambda remaining time', async () => {
    // 1 s remaining less the 250 ms margin leaves room for one attempt only.
    upstream.script({ hang: true });
    const started = Date.now();
    const res = await run('session', { remainingMs: 1_000 });
    expect(res.statusCode).toBe(504);
    expect(res.json).toEqual({ code: 'gateway_timeout', detail: expect.any(String) });
    // Before the Lambda's 1 s would have run out, with slack for a loaded machine.
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('answers 503 when the connection is reset every time', async () => {
    upstream.script({ reset: true }, { reset: true }, { reset: true });
    expect((await run('logout')).statusCode).toBe(503);
  });

  const provokes: Array<[Op, Call]> = [
    ['provoke', {}],
    ['account', { accountId: '1' }],
    ['user', { userId: 'bob' }],
  ];
  it.each(provokes)('never repeats %s on a 500: exactly one upstream request, 502', async (op, c) => {
    upstream.script({ status: 500, body: {} });
    const pushes = sandbox.pushes().length;
    const res = await run(op, c);
    expect(res.statusCode).toBe(502);
    expect(upstream.requests).toHaveLength(1);
    expect(sandbox.pushes()).toHaveLength(pushes);
  });

  it.each(provokes)('never repeats %s on a 503 or a timeout', async (op, c) => {
    upstream.script({ status: 503, body: 'down' });
    expect((await run(op, c)).statusCode).toBe(503);
    expect(upstream.requests).toHaveLength(1);
    upstream.requests.length = 0;
    upstream.script({ hang: true });
    expect((await run(op, { ...c, remainingMs: 3_000 })).statusCode).toBe(504);
    expect(upstream.requests).toHaveLength(1);
  });
});

describe('credentials', () => {
  beforeEach(() => {
    clearSecretCache();
    sm.resetHistory();
  });
  afterEach(() => {
    resetSecret();
    clearSecretCache();
  });

  it("never forwards the caller's own X-apikey or X-su", async () => {
    const res = await run('session', { headers: { 'X-apikey': 'caller-own-key', 'X-Su': 'root', 'x-api-key': 'other' } });
    expect(res.statusCode).toBe(200);
    const sent = upstream.requests[0]?.headers;
    expect(sent?.['x-apikey']).toBe(API_KEY);
    expect(sent?.['x-su']).toBeUndefined();
    expect(sent?.['x-api-key']).toBeUndefined();
  });

  it("sends X-su from the secret, never the caller's", async () => {
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).resolves({ SecretString: secretOf(API_KEY, 'role-7') });
    const res = await run('logout', { headers: { 'x-su': 'root' } });
    expect(res.statusCode).toBe(200);
    expect(upstream.requests[0]?.headers['x-su']).toBe('role-7');
  });

  it('fetches the secret once per container across invocations of every operation', async () => {
    const nonce = await loggedOutAfter(1);
    await run('qr', { nonce });
    await run('session', { nonce });
    await run('provoke', { nonce });
    await run('account', { nonce, accountId: '2' });
    await run('user', { nonce, userId: 'bob' });
    expect(upstream.requests.every((r) => r.headers['x-apikey'] === API_KEY)).toBe(true);
    expect(sm.commandCalls('GetSecretValue')).toHaveLength(1);
  });

  it('refetches the secret once on 401 (rotated key) and succeeds with the new one', async () => {
    sm.on('GetSecretValue', { SecretId: SECRET_ID })
      .resolvesOnce({ SecretString: secretOf('rotated-away') })
      .resolves({ SecretString: secretOf() });
    const res = await run('session');
    expect(res.statusCode).toBe(200);
    expect(sm.commandCalls('GetSecretValue')).toHaveLength(2);
    expect(upstream.requests.map((r) => r.headers['x-apikey'])).toEqual(['rotated-away', API_KEY]);
  });

  it('repeats a provoke rejected with 401 once with the refetched key: one push', async () => {
    sm.on('GetSecretValue', { SecretId: SECRET_ID })
      .resolvesOnce({ SecretString: secretOf('rotated-away') })
      .resolves({ SecretString: secretOf() });
    const nonce = newNonce();
    const res = await run('account', { nonce, accountId: '3' });
    expect(res.statusCode).toBe(200);
    expect(upstream.requests).toHaveLength(2);
    expect(sandbox.pushes().filter((p) => p.nonce === nonce)).toHaveLength(1);
  });

  it('answers 401 when the refetched key is refused too', async () => {
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).resolves({ SecretString: secretOf('wrong-key') });
    const res = await run('session');
    expect(res.statusCode).toBe(401);
    expect(res.json).toEqual({ code: 'unauthorized', detail: 'nextAuth answered HTTP 401.' });
    expect(upstream.requests).toHaveLength(1);
    expect(sm.commandCalls('GetSecretValue')).toHaveLength(2);
    expect(logLines.join('\n')).toContain('nextauth rejected the gateway key');
  });

  it('answers 403 when the key lacks the permission', async () => {
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).resolves({ SecretString: secretOf(LIMITED_KEY) });
    const res = await run('qr');
    expect(res.statusCode).toBe(403);
    expect(res.json).toEqual({ code: 'forbidden', detail: 'nextAuth answered HTTP 403.' });
  });

  it('reads a bare-string secret as the key', async () => {
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).resolves({ SecretString: API_KEY });
    expect((await run('session')).statusCode).toBe(200);
  });

  it.each([
    ['no apiKey', JSON.stringify({ key: API_KEY })],
    ['an apiKey with a newline', JSON.stringify({ apiKey: 'a\nb' })],
    ['an su that is not a string', JSON.stringify({ apiKey: API_KEY, su: 7 })],
  ])('answers 503 for a secret with %s, without calling nextAuth', async (_name, SecretString) => {
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).resolves({ SecretString });
    const res = await run('session');
    expect(res.statusCode).toBe(503);
    expect(res.json).toEqual({ code: 'service_unavailable', detail: 'The gateway has no usable nextAuth credentials.' });
    expect(upstream.requests).toHaveLength(0);
  });

  it('answers 503 naming no secret when Secrets Manager fails and nothing is cached', async () => {
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).rejects('AccessDeniedException');
    const res = await run('logout');
    expect(res.statusCode).toBe(503);
    expect(res.body).not.toContain(SECRET_ID);
    expect(upstream.requests).toHaveLength(0);
  });
});

describe('tenant binding (NEXTAUTH_TENANT_CLAIM)', () => {
  afterEach(() => {
    delete process.env.NEXTAUTH_TENANT_CLAIM;
  });

  /** A call as API Gateway makes it after its JWT authorizer: claims flattened to strings. */
  const asTenant = async (op: Op, serverIds: string, serverid = SID) => {
    const event = httpEvent({
      method: OPS[op].method,
      rawPath: '/servers/x',
      pathParameters: { serverid, accountid: '1', userid: 'bob' },
      headers: { 'x-nonce': newNonce() },
    });
    Object.assign(event.requestContext, {
      authorizer: { jwt: { claims: { sub: 'tenant-test', nextauth_server_ids: serverIds }, scopes: ['nextauth/sessions'] } },
    });
    const res = await OPS[op].handler(event, lambdaContext());
    return typeof res === 'string' ? 0 : res.statusCode;
  };

  it.each(ALL_OPS)("%s acts only on the server ids of the caller's token", async (op) => {
    process.env.NEXTAUTH_TENANT_CLAIM = 'nextauth_server_ids';
    expect(await asTenant(op, '[b3RoZXI= c29tZQ==]')).toBe(403);
    expect(upstream.requests).toHaveLength(0);
    expect([200, 403]).toContain(await asTenant(op, `[b3RoZXI= ${SID}]`));
    expect(upstream.requests).toHaveLength(1);
  });

  it.each(ALL_OPS)('%s compares the ids of path and claim in one spelling, whichever each uses', async (op) => {
    process.env.NEXTAUTH_TENANT_CLAIM = 'nextauth_server_ids';
    const urlSafe = base64urlServerId(SID);
    expect(await asTenant(op, `[${urlSafe.slice(0, -1)}A]`, urlSafe)).toBe(403);
    expect(upstream.requests).toHaveLength(0);
    for (const [claim, path] of [
      [urlSafe, SID],
      [SID, urlSafe],
      [`${urlSafe}==`, urlSafe],
    ]) {
      expect([200, 403]).toContain(await asTenant(op, `[b3RoZXI= ${claim}]`, path));
    }
    expect(upstream.requests.map((r) => r.path.split('/')[2])).toEqual([ENCODED_SID, ENCODED_SID, ENCODED_SID]);
  });
});

describe('audit', () => {
  it('records the server in its standard spelling, whichever the caller sent', async () => {
    const urlSafe = base64urlServerId(SID);
    await run('session', { serverId: urlSafe });
    await run('session', { serverId: SID });
    const audits = logLines.map((l) => JSON.parse(l) as { msg: string; target?: { serverId?: string } }).filter((l) => l.msg === 'audit');
    expect(audits.map((a) => a.target?.serverId)).toEqual([SID, SID]);
  });
});

describe('logs', () => {
  it('carry the operation and never the key, the role or the nonce', async () => {
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).resolves({ SecretString: secretOf(API_KEY, 'role-secret-9') });
    clearSecretCache();
    const nonce = newNonce();
    await run('session', { nonce });
    upstream.script({ status: 500, body: nonce }, { status: 500, body: {} }, { status: 500, body: {} });
    await run('logout', { nonce });
    await run('user', { nonce, userId: 'nobody' });
    const all = logLines.join('\n');
    expect(all).not.toContain(API_KEY);
    expect(all).not.toContain('role-secret-9');
    expect(all).not.toContain(nonce);
    const requests = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'audit');
    expect(requests.map((l) => [l.operation, l.status])).toEqual([
      ['nextauth.get-session', 200],
      ['nextauth.logout', 502],
      ['nextauth.provoke-login-on-user', 404],
    ]);
    resetSecret();
    clearSecretCache();
  });
});
