import { randomUUID } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createNextAuthSandbox,
  DEFAULT_SANDBOX_SERVER_ID,
  type NextAuthSandbox,
  type PushRecord,
  SECOND_SANDBOX_SERVER_ID,
} from '../../local/sandbox/nextauth.ts';
import type { SandboxUpstream } from '../../local/sandbox/types.ts';
import { decodeQrPng } from '../../scripts/smoke/qr.ts';

const API_KEY = 'sandbox-key';
const SECOND_KEY = 'second-server-key';
const ENCODED_SECOND = encodeURIComponent(SECOND_SANDBOX_SERVER_ID);
const LIMITED_KEY = 'limited-key';
const NOW = 1_750_000_000_000;
const SID = DEFAULT_SANDBOX_SERVER_ID;
const ENCODED_SID = encodeURIComponent(SID);

/** Minimal host for one upstream: reads the whole body, 418 when the upstream declines the path. */
function listen(upstream: SandboxUpstream): Promise<Server> {
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const handled = await upstream({ method: req.method ?? 'GET', url, headers: req.headers, body: Buffer.concat(chunks) }, res);
    if (!handled) res.writeHead(418).end('not mine');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

let sandbox: NextAuthSandbox;
let server: Server;
let base: string;

beforeAll(async () => {
  sandbox = createNextAuthSandbox({
    apiKey: API_KEY,
    serverId: SID,
    servers: [{ id: SECOND_SANDBOX_SERVER_ID, apiKey: SECOND_KEY }],
    limitedApiKey: LIMITED_KEY,
    clock: () => NOW,
  });
  server = await listen(sandbox.upstream);
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

interface LoginStatus {
  loggedin: boolean;
  hsid: string;
  canprovoke: boolean;
  loginqrdata: string;
  userid?: string;
  accountid?: number;
  pk?: string;
}

/** Calls the emulated upstream API the way the gateway will: key and nonce as headers. */
function api(nonce: string | null, method: string, path: string, opts: { key?: string | null; body?: string; server?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  const key = opts.key === undefined ? API_KEY : opts.key;
  if (key !== null) headers['X-apikey'] = key;
  if (nonce !== null) headers['X-nonce'] = nonce;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${base}/servers/${opts.server ?? ENCODED_SID}${path}`, { method, headers, body: opts.body ?? null });
}

async function getSession(nonce: string): Promise<LoginStatus> {
  const res = await api(nonce, 'GET', '/sessions/');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json');
  return (await res.json()) as LoginStatus;
}

function phone(action: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${base}/_sandbox/nextauth/${action}`, { method: 'POST', body: JSON.stringify(body) });
}

async function pushesFor(nonce: string): Promise<PushRecord[]> {
  const res = await fetch(`${base}/_sandbox/nextauth/pushes`);
  expect(res.status).toBe(200);
  return ((await res.json()) as PushRecord[]).filter((p) => p.nonce === nonce);
}

async function pkOf(accountId: number): Promise<string> {
  const accounts = (await (await fetch(`${base}/_sandbox/nextauth/accounts`)).json()) as { id: number; pk: string }[];
  const pk = accounts.find((a) => a.id === accountId)?.pk;
  if (pk === undefined) throw new Error(`no seeded account ${accountId}`);
  return pk;
}

/** A session that logged in with `accountId` and then logged out, so it can be provoked. */
async function loggedOutAfter(accountId: number): Promise<string> {
  const nonce = randomUUID();
  expect((await phone('scan', { serverid: SID, nonce, accountid: accountId })).status).toBe(200);
  expect((await api(nonce, 'POST', '/sessions/logout')).status).toBe(200);
  return nonce;
}

describe('nextAuth sandbox: QR login', () => {
  it('reports a fresh session as logged out, with QR data and no account', async () => {
    const status = await getSession(randomUUID());
    expect(status).toEqual({ loggedin: false, canprovoke: false, hsid: expect.any(String), loginqrdata: expect.any(String) });
    expect(status.hsid).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('serves raw QR bytes equal to the base64-decoded loginqrdata', async () => {
    const nonce = randomUUID();
    const { loginqrdata } = await getSession(nonce);
    const res = await api(nonce, 'GET', '/sessions/qr/login');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    const raw = Buffer.from(await res.arrayBuffer());
    expect(raw).toEqual(Buffer.from(loginqrdata, 'base64'));
    expect(raw.length).toBe(33);
    // Deterministic per (server, nonce), different across nonces.
    expect(await getSession(nonce)).toMatchObject({ loginqrdata });
    expect((await getSession(randomUUID())).loginqrdata).not.toBe(loginqrdata);
  });

  it('serves a PNG of the requested width that decodes back to the exact raw bytes', async () => {
    const nonce = randomUUID();
    const raw = Buffer.from((await getSession(nonce)).loginqrdata, 'base64');
    const res = await api(nonce, 'GET', '/sessions/qr/login?img=png&s=300');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    const png = Buffer.from(await res.arrayBuffer());
    const image = PNG.sync.read(png);
    expect([image.width, image.height]).toEqual([300, 300]);
    expect(decodeQrPng(png)).toEqual(raw);
  });

  it('defaults the PNG width to 500', async () => {
    const res = await api(randomUUID(), 'GET', '/sessions/qr/login?img=png');
    expect(PNG.sync.read(Buffer.from(await res.arrayBuffer())).width).toBe(500);
  });

  it.each(['49', '2001', 'abc', '1.5', ''])('rejects s=%j with 400', async (s) => {
    const res = await api(randomUUID(), 'GET', `/sessions/qr/login?img=png&s=${s}`);
    expect(res.status).toBe(400);
  });

  it('accepts an optional UserContext body on the GET, and 400s a malformed one', async () => {
    // fetch refuses a body on GET, so use node:http as the gateway has to (docs/upstream/nextauth-sessions.md#the-qr-code).
    // node:http neither chunks nor measures a GET body: without an explicit content-length
    // the bytes go out after a bodiless request and the server parses them as garbage.
    const getWithBody = (body: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${base}/servers/${ENCODED_SID}/sessions/qr/login`, {
          method: 'GET',
          headers: {
            'X-apikey': API_KEY,
            'X-nonce': randomUUID(),
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        });
        req
          .on('response', (res) => resolve(res.resume().statusCode ?? 0))
          .on('error', reject)
          .end(body);
      });
    expect(await getWithBody(JSON.stringify({ announceinfo: { info: { shop: 'sandbox' } } }))).toBe(200);
    expect(await getWithBody('{oops')).toBe(400);
  });

  it('rejects an img other than png with 400', async () => {
    expect((await api(randomUUID(), 'GET', '/sessions/qr/login?img=svg')).status).toBe(400);
  });

  it('logs in when the phone scans, reporting user, account and pk', async () => {
    const nonce = randomUUID();
    const scan = await phone('scan', { serverid: SID, nonce, accountid: 1 });
    expect(scan.status).toBe(200);
    expect(await scan.json()).toEqual({ ok: true });
    expect(await getSession(nonce)).toMatchObject({
      loggedin: true,
      canprovoke: true,
      userid: 'alice',
      accountid: 1,
      pk: await pkOf(1),
    });
  });

  it('answers getSession without the trailing slash too', async () => {
    const res = await api(randomUUID(), 'GET', '/sessions');
    expect(res.status).toBe(200);
  });

  it('404s a scan with an unknown account or server', async () => {
    expect((await phone('scan', { serverid: SID, nonce: randomUUID(), accountid: 99 })).status).toBe(404);
    expect((await phone('scan', { serverid: 'b3RoZXI=', nonce: randomUUID(), accountid: 1 })).status).toBe(404);
  });
});

describe('nextAuth sandbox: logout and push', () => {
  it('refuses provokeLogin with 403 before any login on the session', async () => {
    const res = await api(randomUUID(), 'POST', '/sessions/provokelogin');
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(await res.text()).toBe('no account associated with this session');
  });

  it('logs out (idempotently) but keeps canprovoke', async () => {
    const nonce = await loggedOutAfter(1);
    const again = await api(nonce, 'POST', '/sessions/logout');
    expect(again.status).toBe(200);
    expect(await again.text()).toBe('');
    const status = await getSession(nonce);
    expect(status).toMatchObject({ loggedin: false, canprovoke: true });
    expect(status.userid).toBeUndefined();
  });

  it('records a pending push that the phone confirms', async () => {
    const nonce = await loggedOutAfter(1);
    const userContext = { sessioninfo: { ip: '203.0.113.7', useragent: 'test', info: { site: 'x' } } };
    const res = await api(nonce, 'POST', '/sessions/provokelogin', { body: JSON.stringify(userContext) });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect(await pushesFor(nonce)).toEqual([
      {
        via: 'session',
        serverid: SID,
        nonce,
        accountids: [1],
        userid: 'alice',
        userContext,
        at: NOW,
        state: 'pending',
        confirmedAccountId: null,
      },
    ]);

    const confirm = await phone('push/confirm', { serverid: SID, nonce });
    expect(confirm.status).toBe(200);
    expect(await getSession(nonce)).toMatchObject({ loggedin: true, userid: 'alice', accountid: 1 });
    expect(sandbox.pushes().filter((p) => p.nonce === nonce)).toMatchObject([{ state: 'confirmed', confirmedAccountId: 1 }]);
  });

  it('stays logged out when the phone rejects, and then has nothing to confirm', async () => {
    const nonce = await loggedOutAfter(1);
    expect((await api(nonce, 'POST', '/sessions/provokelogin')).status).toBe(200);
    expect((await phone('push/reject', { serverid: SID, nonce })).status).toBe(200);
    expect(await getSession(nonce)).toMatchObject({ loggedin: false, canprovoke: true });
    expect(await pushesFor(nonce)).toMatchObject([{ state: 'rejected', userContext: null }]);
    const confirm = await phone('push/confirm', { serverid: SID, nonce });
    expect(confirm.status).toBe(409);
    expect(await confirm.json()).toEqual({ error: 'no pending push' });
  });

  it('marks a pending push superseded when a newer one replaces it', async () => {
    const nonce = await loggedOutAfter(1);
    await api(nonce, 'POST', '/sessions/provokelogin');
    await api(nonce, 'POST', '/accounts/3/provokelogin');
    expect(await pushesFor(nonce)).toMatchObject([{ state: 'superseded' }, { state: 'pending', accountids: [3] }]);
  });

  it('pushes to one account, 404 for an unknown account', async () => {
    const nonce = randomUUID();
    const unknown = await api(nonce, 'POST', '/accounts/99/provokelogin');
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toBe('Account not found');

    expect((await api(nonce, 'POST', '/accounts/3/provokelogin')).status).toBe(200);
    expect(await pushesFor(nonce)).toMatchObject([{ via: 'account', accountids: [3], userid: 'bob' }]);
    await phone('push/confirm', { serverid: SID, nonce });
    expect(await getSession(nonce)).toMatchObject({ loggedin: true, userid: 'bob', accountid: 3, pk: await pkOf(3) });
  });

  it('pushes to all accounts of a user, 404 for an unknown user', async () => {
    const nonce = randomUUID();
    const unknown = await api(nonce, 'POST', '/users/nobody/provokelogin');
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toBe('User not found');

    expect((await api(nonce, 'POST', '/users/alice/provokelogin')).status).toBe(200);
    expect(await pushesFor(nonce)).toMatchObject([{ via: 'user', accountids: [1, 2], userid: 'alice' }]);
    // The phone of account 2 answers rather than the default first one.
    expect((await phone('push/confirm', { serverid: SID, nonce, accountid: 2 })).status).toBe(200);
    expect(await getSession(nonce)).toMatchObject({ loggedin: true, userid: 'alice', accountid: 2 });
  });

  it('rejects a malformed UserContext body with 400', async () => {
    const nonce = randomUUID();
    expect((await api(nonce, 'POST', '/accounts/1/provokelogin', { body: '{not json' })).status).toBe(400);
    const badInfo = JSON.stringify({ sessioninfo: { ip: 42 } });
    expect((await api(nonce, 'POST', '/users/alice/provokelogin', { body: badInfo })).status).toBe(400);
    expect(await pushesFor(nonce)).toEqual([]);
  });
});

describe('nextAuth sandbox: auth and routing', () => {
  it('401s a missing or wrong key', async () => {
    expect((await api(randomUUID(), 'GET', '/sessions/', { key: null })).status).toBe(401);
    expect((await api(randomUUID(), 'GET', '/sessions/', { key: 'wrong' })).status).toBe(401);
  });

  it('403s the key without the sessions permission on all six operations', async () => {
    const calls: [string, string][] = [
      ['GET', '/sessions/qr/login'],
      ['GET', '/sessions/'],
      ['POST', '/sessions/logout'],
      ['POST', '/sessions/provokelogin'],
      ['POST', '/accounts/1/provokelogin'],
      ['POST', '/users/alice/provokelogin'],
    ];
    for (const [method, path] of calls) {
      expect((await api(randomUUID(), method, path, { key: LIMITED_KEY })).status, `${method} ${path}`).toBe(403);
    }
  });

  it('404s an unknown server, including an id whose "/" was not percent-encoded', async () => {
    const res = await api(randomUUID(), 'GET', '/sessions/', { server: encodeURIComponent('b3RoZXI=') });
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('Server not found');
    expect((await api(randomUUID(), 'GET', '/sessions/', { server: SID })).status).toBe(404);
  });

  it('400s a missing nonce', async () => {
    expect((await api(null, 'GET', '/sessions/')).status).toBe(400);
  });

  it('accepts and ignores X-su', async () => {
    const res = await fetch(`${base}/servers/${ENCODED_SID}/sessions/`, {
      headers: { 'X-apikey': API_KEY, 'X-nonce': randomUUID(), 'X-su': 'some-role' },
    });
    expect(res.status).toBe(200);
  });

  it('404s unknown paths under /servers/ and 405s a wrong method', async () => {
    expect((await api(randomUUID(), 'GET', '/sessions/nope')).status).toBe(404);
    expect((await api(randomUUID(), 'GET', '/sessions/logout')).status).toBe(405);
  });

  it('declines paths that belong to other upstreams', async () => {
    expect((await fetch(`${base}/api/v1/app`)).status).toBe(418);
    expect((await fetch(`${base}/_sandbox/nextauthx`)).status).toBe(418);
  });
});

describe('nextauth sandbox: one key per virtual server', () => {
  it("serves each server with its own key and refuses another server's key (401)", async () => {
    expect((await api('n-keys', 'GET', '/sessions/')).status).toBe(200);
    expect((await api('n-keys', 'GET', '/sessions/', { server: ENCODED_SECOND, key: SECOND_KEY })).status).toBe(200);
    const before = sandbox.foreignKeyUses().length;
    expect((await api('n-keys', 'GET', '/sessions/', { server: ENCODED_SECOND })).status).toBe(401);
    expect((await api('n-keys', 'GET', '/sessions/', { key: SECOND_KEY })).status).toBe(401);
    expect(sandbox.foreignKeyUses().slice(before)).toEqual([
      { serverId: SECOND_SANDBOX_SERVER_ID, keyOf: SID },
      { serverId: SID, keyOf: SECOND_SANDBOX_SERVER_ID },
    ]);
  });

  it('keeps the sessions of two servers apart, even under one nonce', async () => {
    const res = await fetch(`${base}/_sandbox/nextauth/scan`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ serverid: SID, nonce: 'n-shared', accountid: 1 }),
    });
    expect(res.status).toBe(200);
    const first = (await (await api('n-shared', 'GET', '/sessions/')).json()) as LoginStatus;
    const second = (await (await api('n-shared', 'GET', '/sessions/', { server: ENCODED_SECOND, key: SECOND_KEY })).json()) as LoginStatus;
    expect(first.loggedin).toBe(true);
    expect(second.loggedin).toBe(false);
  });
});
