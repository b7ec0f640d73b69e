import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '#lib/json-body';
import { type LocalApi, startLocalApi } from '#local/api';
import { TENANT_CLAIMS } from '#local/jwt';
import { base64urlServerId, type PushRecord } from '#local/sandbox/nextauth';
import { decodeQrPng } from '../../scripts/smoke/qr.ts';
import { type LocalStack, startLocalStack } from '../support/local-stack.ts';

/**
 * nextAuth through the local API over real HTTP, against the sandbox: a web server's back end
 * doing a QR login and a push login, with the sandbox playing the phone. Twice: as the local API
 * routes by default, with the server id percent-encoded; and in strict mode (paths decoded before
 * routing, GET bodies dropped: the pessimistic reading of API Gateway) with the id in base64url,
 * the spelling that routes either way.
 */

interface Mode {
  name: string;
  strict: boolean;
  /** The server id as it goes in a path. */
  inPath: (serverId: string) => string;
}

const MODES: Mode[] = [
  { name: 'percent-encoded server id', strict: false, inPath: encodeURIComponent },
  { name: 'strict routing, base64url server id', strict: true, inPath: base64urlServerId },
];

// One sandbox and one set of handler modules for the file (handlers read their configuration
// once per process); each mode has a local API of its own in front of them.
let stack: LocalStack;
let api: LocalApi;
let mode: Mode;

beforeAll(async () => {
  stack = await startLocalStack();
  api = stack.api;
});
afterAll(() => stack.close());

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** `node:http`, not `fetch`: getQrLogin may carry a body on its GET. */
/** `body`: sent as JSON; a Buffer as it is (JSON that `JSON.stringify` could not write). */
function call(method: 'GET' | 'POST', path: string, options: { nonce?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> {
  const payload = options.body === undefined ? undefined : Buffer.isBuffer(options.body) ? options.body : Buffer.from(JSON.stringify(options.body));
  const headers: Record<string, string> = {
    // Sent whether or not the route has an authorizer; an open route ignores it.
    authorization: `Bearer ${stack.devToken}`,
    ...options.headers,
  };
  if (options.nonce !== undefined) headers['X-Nonce'] = options.nonce;
  if (payload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(payload.length) });
  return new Promise((resolve, reject) => {
    const req = request(`${api.url}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const server = () => `/servers/${mode.inPath(stack.serverId)}`;
const newNonce = () => randomBytes(16).toString('base64');

async function loginStatus(nonce: string): Promise<Record<string, unknown>> {
  const res = await call('GET', `${server()}/sessions`, { nonce });
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe('application/json');
  return JSON.parse(res.body.toString('utf8')) as Record<string, unknown>;
}

/** The sandbox phone: `scan`, `push/confirm`, `push/reject`. */
async function phone(action: string, body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${stack.sandbox.url}/_sandbox/nextauth/${action}`, { method: 'POST', body: JSON.stringify(body) });
  expect(res.status).toBe(200);
}

async function pushesFor(nonce: string): Promise<PushRecord[]> {
  const all = (await (await fetch(`${stack.sandbox.url}/_sandbox/nextauth/pushes`)).json()) as PushRecord[];
  return all.filter((p) => p.nonce === nonce);
}

describe.each(MODES)('nextAuth through the local API: $name', (current) => {
  beforeAll(async () => {
    mode = current;
    api = current.strict ? await startLocalApi({ authKey: stack.authKey, strict: true }) : stack.api;
  });
  afterAll(async () => {
    if (api !== stack.api) await api.close();
    api = stack.api;
  });

  it('QR login: not logged in → the QR PNG decodes to the raw bytes → the phone scans → logged in as alice on account 1', async () => {
    const nonce = newNonce();
    const before = await loginStatus(nonce);
    expect(before).toMatchObject({ loggedin: false, canprovoke: false });
    const raw = Buffer.from(before.loginqrdata as string, 'base64');

    const png = await call('GET', `${server()}/sessions/qr/login?img=png&s=300`, { nonce });
    expect(png.status).toBe(200);
    expect(png.headers['content-type']).toBe('application/octet-stream');
    expect(PNG.sync.read(png.body).width).toBe(300);
    expect(decodeQrPng(png.body)).toEqual(raw);

    const bytes = await call('GET', `${server()}/sessions/qr/login`, { nonce });
    expect(bytes.status).toBe(200);
    expect(bytes.body).toEqual(raw);

    await phone('scan', { serverid: stack.serverId, nonce, accountid: 1 });
    expect(await loginStatus(nonce)).toEqual({
      loggedin: true,
      userid: 'alice',
      accountid: 1,
      pk: expect.any(String),
      canprovoke: true,
      hsid: before.hsid,
      loginqrdata: before.loginqrdata,
    });
  });

  it('push login: logout → provoke → the phone confirms → logged in again', async () => {
    const nonce = newNonce();
    await phone('scan', { serverid: stack.serverId, nonce, accountid: 2 });

    const out = await call('POST', `${server()}/sessions/logout`, { nonce });
    expect(out.status).toBe(200);
    expect(out.body.length).toBe(0);
    expect(await loginStatus(nonce)).toMatchObject({ loggedin: false, canprovoke: true });

    const userContext = { announceinfo: { info: { text: 'Log in to the demo shop?' }, ip: '203.0.113.9', useragent: 'curl/8' } };
    const provoke = await call('POST', `${server()}/sessions/provokelogin`, { nonce, body: userContext });
    expect(provoke.status).toBe(200);
    expect(provoke.body.length).toBe(0);
    expect(await pushesFor(nonce)).toEqual([expect.objectContaining({ via: 'session', accountids: [2], state: 'pending', userContext })]);
    expect(await loginStatus(nonce)).toMatchObject({ loggedin: false });

    await phone('push/confirm', { serverid: stack.serverId, nonce });
    expect(await loginStatus(nonce)).toMatchObject({ loggedin: true, userid: 'alice', accountid: 2 });
  });

  it('getQrLogin with a UserContext on the GET: forwarded, or dropped by strict routing, and the QR logs in either way', async () => {
    const nonce = newNonce();
    const raw = Buffer.from((await loginStatus(nonce)).loginqrdata as string, 'base64');
    const userContext = { sessioninfo: { ip: '192.0.2.1', logo: 'iVBORw0KGgo=' } };
    const res = await call('GET', `${server()}/sessions/qr/login?img=png`, { nonce, body: userContext });
    expect(res.status).toBe(200);
    expect(decodeQrPng(res.body)).toEqual(raw);
    // What the upstream received: the context, or (API Gateway dropping a GET's body) none at all.
    const received = stack.sandbox.nextauth.qrLogins().filter((q) => q.nonce === nonce);
    expect(received).toEqual([expect.objectContaining({ img: 'png', userContext: mode.strict ? null : userContext })]);

    await phone('scan', { serverid: stack.serverId, nonce, accountid: 3 });
    expect(await loginStatus(nonce)).toMatchObject({ loggedin: true, userid: 'bob', accountid: 3 });
  });

  it('answers 400 for a body nested 60,000 deep, without a push and without a 5xx', async () => {
    // A session that can be provoked, so that only the body stands between the request and a push.
    const nonce = newNonce();
    await phone('scan', { serverid: stack.serverId, nonce, accountid: 2 });
    await call('POST', `${server()}/sessions/logout`, { nonce });
    const deep = `${'{"a":'.repeat(59_999)}{}${'}'.repeat(59_999)}`;
    const res = await call('POST', `${server()}/sessions/provokelogin`, { nonce, body: Buffer.from(`{"announceinfo":{"info":${deep}}}`) });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body.toString('utf8'))).toEqual({
      code: 'validation_error',
      detail: `body: The body is nested deeper than ${MAX_JSON_DEPTH} levels.`,
    });
    expect(await pushesFor(nonce)).toEqual([]);
  });

  it('provoke on a session that never logged in fails with a 4xx', async () => {
    const res = await call('POST', `${server()}/sessions/provokelogin`, { nonce: newNonce() });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(JSON.parse(res.body.toString('utf8'))).toEqual({ code: 'forbidden', detail: 'nextAuth answered HTTP 403.' });
  });

  it('provoke on an account or a user pushes to their phones; unknown ones are 404', async () => {
    const nonce = newNonce();
    expect((await call('POST', `${server()}/accounts/3/provokelogin`, { nonce })).status).toBe(200);
    expect((await call('POST', `${server()}/users/alice/provokelogin`, { nonce })).status).toBe(200);
    expect((await pushesFor(nonce)).map((p) => [p.via, p.accountids, p.state])).toEqual([
      ['account', [3], 'superseded'],
      ['user', [1, 2], 'pending'],
    ]);

    const account = await call('POST', `${server()}/accounts/99/provokelogin`, { nonce });
    expect(account.status).toBe(404);
    expect(JSON.parse(account.body.toString('utf8'))).toEqual({ code: 'not_found', detail: 'nextAuth answered HTTP 404.' });
    expect((await call('POST', `${server()}/users/mallory/provokelogin`, { nonce })).status).toBe(404);
  });

  it('serves every path with and without the trailing slash', async () => {
    const nonce = newNonce();
    await phone('scan', { serverid: stack.serverId, nonce, accountid: 1 });
    const paths: Array<['GET' | 'POST', string]> = [
      ['GET', '/sessions/qr/login'],
      ['GET', '/sessions'],
      ['POST', '/sessions/provokelogin'],
      ['POST', '/accounts/1/provokelogin'],
      ['POST', '/users/bob/provokelogin'],
      ['POST', '/sessions/logout'],
    ];
    for (const [method, tail] of paths) {
      for (const path of [`${server()}${tail}`, `${server()}${tail}/`]) {
        const res = await call(method, path, { nonce });
        expect([method, path, res.status]).toEqual([method, path, 200]);
      }
    }
  });

  it('needs X-Nonce and a valid server id', async () => {
    const missing = await call('GET', `${server()}/sessions`);
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.body.toString('utf8'))).toEqual({ code: 'validation_error', detail: 'header.x-nonce: the X-Nonce header is required' });
    expect((await call('GET', '/servers/not%20base64/sessions', { nonce: newNonce() })).status).toBe(400);
    expect((await call('GET', '/servers/YWJjZA%3D%3D%3D/sessions', { nonce: newNonce() })).status).toBe(400);
  });

  it("routes a server id holding '/' only in base64url, or percent-encoded where the path is not decoded first", async () => {
    expect(stack.serverId).toMatch(/\/.*\+.*=$/);
    const nonce = newNonce();
    await phone('scan', { serverid: stack.serverId, nonce, accountid: 1 });
    const url = base64urlServerId(stack.serverId);
    const spellings: Array<[string, number]> = [
      [url, 200],
      [`${url}==`, 200],
      [encodeURIComponent(url), 200],
      // A '/' sent as is splits the segment: no route, as in API Gateway.
      [stack.serverId, 404],
      // %2F: decoded after routing by default, before it in strict mode (no route then).
      [encodeURIComponent(stack.serverId), mode.strict ? 404 : 200],
    ];
    for (const [spelling, expected] of spellings) {
      const res = await call('GET', `/servers/${spelling}/sessions`, { nonce });
      expect([spelling, res.status]).toEqual([spelling, expected]);
      if (res.status === 200) expect(JSON.parse(res.body.toString('utf8'))).toMatchObject({ loggedin: true, userid: 'alice' });
      else expect(JSON.parse(res.body.toString('utf8'))).toEqual({ message: 'Not Found' });
    }
  });

  it('binds tenants on the normalised id: a claim in either spelling allows a path in either spelling', async () => {
    const claim = (ids: string[]) => stack.token({ claims: { [TENANT_CLAIMS.nextauth]: ids } });
    const url = base64urlServerId(stack.serverId);
    const paths = [`/servers/${url}/sessions`, `/servers/${mode.inPath(stack.serverId)}/sessions`];
    for (const token of [await claim([url]), await claim([stack.serverId]), await claim(['b3RoZXI', `${url}==`])]) {
      for (const path of paths) {
        const res = await call('GET', path, { nonce: newNonce(), headers: { authorization: `Bearer ${token}` } });
        expect([path, res.status]).toEqual([path, 200]);
      }
    }
    const other = await claim(['b3RoZXI=', url.slice(0, -4)]);
    for (const path of paths) {
      const res = await call('GET', path, { nonce: newNonce(), headers: { authorization: `Bearer ${other}` } });
      expect([path, res.status]).toEqual([path, 403]);
      expect(JSON.parse(res.body.toString('utf8'))).toEqual({ code: 'forbidden', detail: 'This caller may not act on this server.' });
    }
  });
});

describe('several nextAuth servers, one key each', () => {
  it("acts on each server with that server's key, and on a server without one not at all (404)", async () => {
    const nonce = newNonce();
    let upstreamCalls = 0;
    const count = () => upstreamCalls++;
    stack.sandbox.server.on('request', count);
    try {
      // The key is chosen by the normalised id: either spelling of a server gets that server's key.
      for (const id of [stack.serverId, stack.secondServer.id]) {
        for (const spelling of [encodeURIComponent(id), base64urlServerId(id)]) {
          const res = await call('GET', `/servers/${spelling}/sessions`, { nonce });
          expect([spelling, res.status]).toEqual([spelling, 200]);
        }
      }
      expect(upstreamCalls).toBe(4);
      const unknown = await call('GET', `/servers/${encodeURIComponent('bm8ta2V5LXNlcnZlcg==')}/sessions`, { nonce });
      expect(unknown.status).toBe(404);
      expect(JSON.parse(unknown.body.toString('utf8'))).toEqual({ code: 'not_found', detail: 'Server not found.' });
      // A forced refetch of the secret, but no call to nextAuth.
      expect(upstreamCalls).toBe(4);
    } finally {
      stack.sandbox.server.off('request', count);
    }
    expect(stack.sandbox.nextauth.foreignKeyUses()).toEqual([]);
  });
});
