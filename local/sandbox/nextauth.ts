/**
 * In-memory emulator of the nextAuth (nextauth.com) Sessions API, plus "sandbox phone" routes
 * that play the part of the mobile app (scan a QR code, confirm or reject a push).
 *
 * Facts and assumptions: docs/upstream/nextauth-sessions.md (each section says what the sandbox
 * assumes). The upstream documents no error bodies (docs/upstream/nextauth-sessions.md#status-codes-and-error-bodies),
 * so errors are plain text and the gateway is expected to map them by status only.
 *
 * The sandbox hosts one virtual server (opts.serverId, opts.apiKey) and any number of others
 * (opts.servers), each with its own API key, as nextAuth's keys are "for a specific (virtual)
 * server" (docs/upstream/nextauth-sessions.md): a key is refused on any server but its own.
 * Sessions are keyed by server and nonce.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import QRCode from 'qrcode';
import type { Clock, SandboxRequest, SandboxUpstream } from './types.ts';

export interface NextAuthSandboxOptions {
  apiKey: string;
  serverId: string;
  /** More virtual servers, each with its own key. */
  servers?: Array<{ id: string; apiKey: string }>;
  clock?: Clock;
  /** key with no 'sessions' permission, to test 403 */
  limitedApiKey?: string;
}

export interface NextAuthSandbox {
  upstream: SandboxUpstream;
  pushes(): PushRecord[];
  qrLogins(): QrLoginRecord[];
  /** Requests that carried one server's key to another server (refused with 401). */
  foreignKeyUses(): Array<{ serverId: string; keyOf: string }>;
}

/**
 * One getQrLogin the sandbox answered, with the UserContext it received (null: none), so a test
 * can tell whether a GET's body reached the upstream (API Gateway may drop it).
 */
export interface QrLoginRecord {
  /** Plain base64 server id, as the gateway sent it upstream. */
  serverid: string;
  nonce: string;
  img: 'png' | null;
  userContext: UserContext | null;
  at: number;
}

/** getQrLogin records kept (the oldest go first): enough for any test, bounded under load. */
const MAX_QR_LOGINS = 1_000;

/**
 * Base64 of "sandbox-server?>>>1". It contains '/', '+' and '=' so a client that forgets to
 * percent-encode it in the path (docs/upstream/nextauth-sessions.md#server-id) splits it at the '/'
 * and gets 404.
 */
export const DEFAULT_SANDBOX_SERVER_ID = 'c2FuZGJveC1zZXJ2ZXI/Pj4+MQ==';

/**
 * The base64url spelling of a server id (`-` for `+`, `_` for `/`, no padding): the one that
 * survives API Gateway in a path, which the gateway turns back into the standard form.
 */
export const base64urlServerId = (id: string): string => id.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/** Base64 of "second-server>>?2": the sandbox's second virtual server, with a key of its own. */
export const SECOND_SANDBOX_SERVER_ID = 'c2Vjb25kLXNlcnZlcj4+PzI=';

/** SessionInfo and UserContext as in the spec (docs/upstream/nextauth-sessions.md#usercontext-and-sessioninfo); all optional. */
export interface SessionInfo {
  info?: Record<string, unknown>;
  ip?: string;
  logo?: string;
  useragent?: string;
}
export interface UserContext {
  announceinfo?: SessionInfo;
  sessioninfo?: SessionInfo;
}

/**
 * One provoke call. A user push is a single record listing all of the user's accounts,
 * because the session has one pending push however many phones it rang.
 */
export interface PushRecord {
  /** Which upstream operation sent it: provokeLogin, provokeLoginOnAccount or provokeLoginOnUser. */
  via: 'session' | 'account' | 'user';
  /** Plain base64 server id (not percent-encoded). */
  serverid: string;
  nonce: string;
  /** Accounts the push went to: one, or every account of the user for a user push. */
  accountids: number[];
  /** User of those accounts (the path's userid for a user push). */
  userid: string;
  userContext: UserContext | null;
  /** Clock time the push was sent, ms since the epoch. */
  at: number;
  /** 'superseded': a newer push on the same session replaced it before anyone answered. */
  state: 'pending' | 'confirmed' | 'rejected' | 'superseded';
  /** Account that confirmed, once confirmed. */
  confirmedAccountId: number | null;
}

interface Account {
  id: number;
  userid: string;
  description: string;
  /** Base64 public key of the app account (LoginStatus.pk). */
  pk: string;
}

const SEEDED_ACCOUNTS: readonly Account[] = [
  { id: 1, userid: 'alice', description: "Alice's phone", pk: 'LkAYTMZ7nnffeBv/SjT+Vo+BO4iHqGE5pKWaoBU4SGE=' },
  { id: 2, userid: 'alice', description: "Alice's tablet", pk: 'QqILFtMRNFhJljgUR2I4L/1BYKNMx9PQIZzuj06c8f0=' },
  { id: 3, userid: 'bob', description: "Bob's phone", pk: 'LabBUAhF1PRw9O2wJcX9IP9NVkBhHd27yppVUU//58M=' },
];

interface Session {
  loggedin: boolean;
  account: Account | null;
  /** Survives logout so provokeLogin can push to it later (docs/upstream/nextauth-sessions.md#pushes-and-logout). */
  lastLoginAccountId: number | null;
  pending: PushRecord | null;
  hsid: string;
  /** Raw QR payload; binary on purpose so a client that text-encodes it breaks visibly. */
  qrBytes: Buffer;
  /** The optional UserContext sent with getQrLogin; stored, never interpreted. */
  qrUserContext: UserContext | null;
}

const DEFAULT_QR_SIZE = 500;
const MIN_QR_SIZE = 50;
const MAX_QR_SIZE = 2000;

type Route =
  | { op: 'getQrLogin' | 'getSession' | 'logout' | 'provokeLogin'; serverId: string }
  | { op: 'provokeLoginOnAccount'; serverId: string; accountId: string }
  | { op: 'provokeLoginOnUser'; serverId: string; userId: string };

const METHODS: Record<Route['op'], string> = {
  getQrLogin: 'GET',
  getSession: 'GET',
  logout: 'POST',
  provokeLogin: 'POST',
  provokeLoginOnAccount: 'POST',
  provokeLoginOnUser: 'POST',
};

/** Thrown by handlers to answer an error; caught once in the dispatcher. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function createNextAuthSandbox(opts: NextAuthSandboxOptions): NextAuthSandbox {
  const clock = opts.clock ?? Date.now;
  const sessions = new Map<string, Session>();
  const pushLog: PushRecord[] = [];
  const qrLog: QrLoginRecord[] = [];
  const keys = new Map<string, string>([[opts.serverId, opts.apiKey], ...(opts.servers ?? []).map((s) => [s.id, s.apiKey] as [string, string])]);
  const serverOfKey = new Map([...keys].map(([id, key]) => [key, id]));
  const foreignKeyUses: Array<{ serverId: string; keyOf: string }> = [];

  // Sessions spring into existence on first mention, as the integrator picks the nonce
  // (docs/upstream/nextauth-sessions.md#x-nonce).
  function session(serverId: string, nonce: string): Session {
    const id = `${serverId}:${nonce}`;
    let s = sessions.get(id);
    if (s === undefined) {
      s = {
        loggedin: false,
        account: null,
        lastLoginAccountId: null,
        pending: null,
        hsid: createHash('sha256').update(id).digest('base64url').slice(0, 22),
        qrBytes: Buffer.concat([Buffer.from([0x01]), createHash('sha256').update(`qr:${id}`).digest()]),
        qrUserContext: null,
      };
      sessions.set(id, s);
    }
    return s;
  }

  function logIn(s: Session, account: Account): void {
    s.loggedin = true;
    s.account = account;
    s.lastLoginAccountId = account.id;
  }

  function push(serverId: string, nonce: string, via: PushRecord['via'], accounts: Account[], userContext: UserContext | null): void {
    const first = accounts[0];
    if (first === undefined) throw new Error('push needs at least one account');
    const s = session(serverId, nonce);
    if (s.pending !== null) s.pending.state = 'superseded';
    const record: PushRecord = {
      via,
      serverid: serverId,
      nonce,
      accountids: accounts.map((a) => a.id),
      userid: first.userid,
      userContext,
      at: clock(),
      state: 'pending',
      confirmedAccountId: null,
    };
    s.pending = record;
    pushLog.push(record);
  }

  async function handleApi(req: SandboxRequest, res: ServerResponse): Promise<void> {
    const route = matchRoute(req.url.pathname);
    if (route === null) throw new HttpError(404, 'Not found');
    const method = METHODS[route.op];
    if (req.method !== method) {
      res.setHeader('allow', method);
      throw new HttpError(405, 'Method not allowed');
    }
    const apiKey = req.headers['x-apikey'];
    const limited = opts.limitedApiKey !== undefined && apiKey === opts.limitedApiKey;
    const keyOf = typeof apiKey === 'string' ? serverOfKey.get(apiKey) : undefined;
    if (keyOf === undefined && !limited) throw new HttpError(401, 'Invalid API key');
    // x-su (role impersonation) is accepted and ignored: the sandbox has a single role.
    // Permissions are granted per server, so an unknown server is reported before them.
    if (!keys.has(route.serverId)) throw new HttpError(404, 'Server not found');
    // A key is for one server (the limited key is the first server's).
    if (keyOf !== undefined && keyOf !== route.serverId) {
      foreignKeyUses.push({ serverId: route.serverId, keyOf });
      throw new HttpError(401, 'API key is not valid for this server');
    }
    if (limited) throw new HttpError(403, 'Permission denied');
    const serverId = route.serverId;
    const nonce = req.headers['x-nonce'];
    if (typeof nonce !== 'string' || nonce === '') throw new HttpError(400, 'Missing X-nonce header');

    switch (route.op) {
      case 'getQrLogin': {
        const img = req.url.searchParams.get('img');
        if (img !== null && img !== 'png') throw new HttpError(400, "img must be 'png'");
        const size = parseSize(req.url.searchParams.get('s'));
        const s = session(serverId, nonce);
        s.qrUserContext = parseUserContext(req.body);
        if (qrLog.push({ serverid: serverId, nonce, img: img === 'png' ? 'png' : null, userContext: s.qrUserContext, at: clock() }) > MAX_QR_LOGINS)
          qrLog.shift();
        const bytes = img === 'png' ? await QRCode.toBuffer([{ data: s.qrBytes, mode: 'byte' }], { type: 'png', width: size, margin: 1 }) : s.qrBytes;
        send(res, 200, 'application/octet-stream', bytes);
        return;
      }
      case 'getSession': {
        const s = session(serverId, nonce);
        const status = {
          loggedin: s.loggedin,
          hsid: s.hsid,
          canprovoke: s.lastLoginAccountId !== null,
          loginqrdata: s.qrBytes.toString('base64'),
          ...(s.loggedin && s.account !== null ? { userid: s.account.userid, accountid: s.account.id, pk: s.account.pk } : {}),
        };
        sendJson(res, 200, status);
        return;
      }
      case 'logout': {
        session(serverId, nonce).loggedin = false;
        send(res, 200);
        return;
      }
      case 'provokeLogin': {
        const userContext = parseUserContext(req.body);
        const last = findAccount(session(serverId, nonce).lastLoginAccountId);
        // Wording from the spec's createTransaction 403; provokeLogin itself documents none
        // (docs/upstream/nextauth-sessions.md#status-codes-and-error-bodies).
        if (last === undefined) throw new HttpError(403, 'no account associated with this session');
        push(serverId, nonce, 'session', [last], userContext);
        send(res, 200);
        return;
      }
      case 'provokeLoginOnAccount': {
        const userContext = parseUserContext(req.body);
        const account = /^\d+$/.test(route.accountId) ? findAccount(Number(route.accountId)) : undefined;
        if (account === undefined) throw new HttpError(404, 'Account not found');
        push(serverId, nonce, 'account', [account], userContext);
        send(res, 200);
        return;
      }
      case 'provokeLoginOnUser': {
        const userContext = parseUserContext(req.body);
        const accounts = SEEDED_ACCOUNTS.filter((a) => a.userid === route.userId);
        if (accounts.length === 0) throw new HttpError(404, 'User not found');
        push(serverId, nonce, 'user', accounts, userContext);
        send(res, 200);
        return;
      }
    }
  }

  /** The phone side. JSON in, JSON out; no API key, as the real app never holds one. */
  function handlePhone(req: SandboxRequest, res: ServerResponse): void {
    const action = req.url.pathname.slice('/_sandbox/nextauth'.length);
    if (req.method === 'GET' && action === '/pushes') return sendJson(res, 200, pushLog);
    if (req.method === 'GET' && action === '/qr-logins') return sendJson(res, 200, qrLog);
    if (req.method === 'GET' && action === '/accounts') return sendJson(res, 200, SEEDED_ACCOUNTS);
    if (req.method !== 'POST' || !['/scan', '/push/confirm', '/push/reject'].includes(action)) {
      throw new HttpError(404, 'Not found');
    }
    const body = parsePhoneBody(req.body);
    if (!keys.has(body.serverid)) throw new HttpError(404, 'Server not found');
    const s = session(body.serverid, body.nonce);

    if (action === '/scan') {
      if (body.accountid === undefined) throw new HttpError(400, 'accountid is required');
      const account = findAccount(body.accountid);
      if (account === undefined) throw new HttpError(404, 'Account not found');
      logIn(s, account);
      return sendJson(res, 200, { ok: true });
    }
    const pending = s.pending;
    if (pending === null) throw new HttpError(409, 'no pending push');
    if (action === '/push/reject') {
      pending.state = 'rejected';
      s.pending = null;
      return sendJson(res, 200, { ok: true });
    }
    // Any of the pushed phones may answer (optional accountid); by default the first one does.
    const accountId = body.accountid ?? pending.accountids[0];
    const pushed = accountId !== undefined && pending.accountids.includes(accountId);
    const account = pushed ? findAccount(accountId) : undefined;
    if (account === undefined) throw new HttpError(400, 'accountid was not pushed to');
    pending.state = 'confirmed';
    pending.confirmedAccountId = account.id;
    s.pending = null;
    logIn(s, account);
    return sendJson(res, 200, { ok: true });
  }

  const upstream: SandboxUpstream = async (req, res) => {
    const path = req.url.pathname;
    const api = path.startsWith('/servers/');
    const phone = path === '/_sandbox/nextauth' || path.startsWith('/_sandbox/nextauth/');
    if (!api && !phone) return false;
    try {
      if (api) await handleApi(req, res);
      else handlePhone(req, res);
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      if (api) send(res, err.status, 'text/plain', err.message);
      else sendJson(res, err.status, { error: err.message });
    }
    return true;
  };

  // Copies, so a test holding the array cannot change the sandbox's state.
  return {
    upstream,
    pushes: () => structuredClone(pushLog),
    qrLogins: () => structuredClone(qrLog),
    foreignKeyUses: () => structuredClone(foreignKeyUses),
  };
}

function findAccount(id: number | null | undefined): Account | undefined {
  return SEEDED_ACCOUNTS.find((a) => a.id === id);
}

/**
 * Splits the still-encoded path and decodes each segment separately, so a server id with
 * '/' only matches when the client percent-encoded it (as %2F), like the real API would need.
 */
function matchRoute(pathname: string): Route | null {
  let parts: string[];
  try {
    parts = pathname.split('/').map(decodeURIComponent);
  } catch {
    throw new HttpError(400, 'Malformed path');
  }
  // ['', 'servers', id, ...rest]; a trailing slash leaves a final ''.
  const [, , serverId, ...rest] = parts;
  if (serverId === undefined || serverId === '') return null;
  const tail = rest.join('/');
  if (tail === 'sessions/' || tail === 'sessions') return { op: 'getSession', serverId };
  if (tail === 'sessions/qr/login') return { op: 'getQrLogin', serverId };
  if (tail === 'sessions/logout') return { op: 'logout', serverId };
  if (tail === 'sessions/provokelogin') return { op: 'provokeLogin', serverId };
  const [kind, id, action, ...extra] = rest;
  if (id === undefined || id === '' || action !== 'provokelogin' || extra.length > 0) return null;
  if (kind === 'accounts') return { op: 'provokeLoginOnAccount', serverId, accountId: id };
  if (kind === 'users') return { op: 'provokeLoginOnUser', serverId, userId: id };
  return null;
}

function parseSize(raw: string | null): number {
  if (raw === null) return DEFAULT_QR_SIZE;
  const size = Number(raw);
  if (!/^\d+$/.test(raw) || size < MIN_QR_SIZE || size > MAX_QR_SIZE) {
    throw new HttpError(400, `s must be an integer from ${MIN_QR_SIZE} to ${MAX_QR_SIZE}`);
  }
  return size;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'Malformed JSON body');
  }
}

/**
 * The body is optional (and provokeLoginOnAccount declares no content type,
 * docs/upstream/nextauth-sessions.md#operations), so an empty
 * body means "no context" and any non-empty body must be a well-typed UserContext.
 */
function parseUserContext(body: Buffer): UserContext | null {
  if (body.toString('utf8').trim() === '') return null;
  const ctx = parseJson(body);
  if (!isRecord(ctx)) throw new HttpError(400, 'UserContext must be an object');
  for (const field of ['announceinfo', 'sessioninfo']) {
    const info = ctx[field];
    if (info === undefined) continue;
    const ok =
      isRecord(info) &&
      (info.info === undefined || isRecord(info.info)) &&
      ['ip', 'logo', 'useragent'].every((k) => info[k] === undefined || typeof info[k] === 'string');
    if (!ok) throw new HttpError(400, `UserContext.${field} is not a SessionInfo`);
  }
  return ctx as UserContext;
}

function parsePhoneBody(body: Buffer): { serverid: string; nonce: string; accountid: number | undefined } {
  const b = parseJson(body);
  if (!isRecord(b) || typeof b.serverid !== 'string' || typeof b.nonce !== 'string' || b.nonce === '') {
    throw new HttpError(400, 'body needs serverid and nonce strings');
  }
  const { accountid } = b;
  if (accountid !== undefined && !Number.isInteger(accountid)) throw new HttpError(400, 'accountid must be an integer');
  return { serverid: b.serverid, nonce: b.nonce, accountid: accountid as number | undefined };
}

function send(res: ServerResponse, status: number, contentType?: string, body?: string | Buffer): void {
  const payload = body ?? Buffer.alloc(0);
  if (contentType !== undefined) res.setHeader('content-type', contentType);
  res.setHeader('content-length', Buffer.byteLength(payload));
  res.writeHead(status);
  res.end(payload);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json', JSON.stringify(value));
}
