import { createHash, randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamResponseError, UpstreamUnavailableError } from '#lib/errors';
import type { DeadLetter } from '#lib/jobs/dead-letter';
import { JOB_DEFAULTS, jobHandler } from '#lib/jobs/handler';
import { DETAIL_TYPES, type JobKind, parseMessage } from '#lib/jobs/schema';
import { type JobDefinition, type NextAuthPort, type SvixPort, targetIdempotencyKey } from '#lib/jobs/targets';
import { logoutSession } from '#lib/upstream/nextauth';
import { expireAll } from '#lib/upstream/svix';
import { eventBridgeBody, localProvenance } from '#local/events';
import { createNextAuthSandbox } from '#local/sandbox/nextauth';
import { createSvixSandbox } from '#local/sandbox/svix';
import type { SandboxUpstream } from '#local/sandbox/types';
import { useSecretsFile, writeSecretsFile } from '#local/secrets-file';
import { type QueuedMessage, replayLikeSqs } from '../support/sqs.ts';
import { removeAfterTests } from '../support/temp-dir.ts';
import { startTestUpstream, type TestUpstream } from '../support/upstream.ts';

/**
 * 1,000 job messages through both consumers against the sandbox upstreams, with a tenth of all
 * upstream calls failing transiently (half before the call, half after it, i.e. a lost answer),
 * replayed the way SQS would: failed records redelivered until they succeed or reach the receive
 * limit of 5, then the DLQ. Checks that every message ends done, dead-lettered or redriven, none is
 * lost, and no target is carried out twice: a Svix key is executed once and replayed after.
 *
 * The faults are deterministic: whether a target fails is a hash of (message id, receive count,
 * target index), never of the order in which concurrent calls happen to arrive, and the message ids
 * are fixed. So every message's end (done, dead-lettered or redriven) and the receive it ends on
 * are known before the run, and the test checks exactly those, on any machine, at any load.
 */

/** parseMessage as the local consumers run it (the default jobEventSources, the local rule). */
const parse = (kind: JobKind, record: Parameters<typeof parseMessage>[1]) => parseMessage(kind, record, localProvenance(kind));

const ORG_KEY = 'sk_canary_soak_org_key';
const NEXTAUTH_KEY = 'canary-soak-nextauth-key';
const SERVER_ID = 'c29hay1zZXJ2ZXI=';
const MESSAGES = 1_000;
const FAULT_RATE = 0.1;
const MAX_RECEIVE_COUNT = 5;
const POLLERS = 4;
const SEED = 'soak-20261123';

let upstream: TestUpstream;
/** What the Svix sandbox answered, per idempotency key: executions and replays of 2xx. */
const svixAnswers = new Map<string, { executed: number; replayed: number; paths: Set<string> }>();

/** A number in [0, 1) from a string: the same string, the same number, in every run. */
function unit(input: string): number {
  return createHash('sha256').update(input).digest().readUInt32BE(0) / 2 ** 32;
}

/** A fixed id in the shape of an SQS message id (a UUID), so every run has the same ones. */
const fixedId = (name: string) =>
  createHash('sha256')
    .update(`${SEED}:${name}`)
    .digest('hex')
    .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*$/, '$1-$2-$3-$4-$5');

type Fault = 'before' | 'after' | undefined;

/** Records the status and the `idempotent-replayed` header of every Svix answer. */
function recordingSvix(svix: SandboxUpstream): SandboxUpstream {
  return (req, res) => {
    const key = req.headers['idempotency-key'];
    const writeHead = res.writeHead.bind(res) as (status: number, headers?: Record<string, string>) => ServerResponse;
    (res as { writeHead: unknown }).writeHead = (status: number, headers?: Record<string, string>) => {
      if (typeof key === 'string' && status >= 200 && status < 300 && req.url.pathname.endsWith('/expire-all')) {
        const entry = svixAnswers.get(key) ?? { executed: 0, replayed: 0, paths: new Set<string>() };
        if (headers?.['idempotent-replayed'] === 'true') entry.replayed++;
        else entry.executed++;
        entry.paths.add(req.url.pathname);
        svixAnswers.set(key, entry);
      }
      return writeHead(status, headers);
    };
    return svix(req, res);
  };
}

const calls = { svix: 0, nextauth: 0, injected: 0 };

/** Which message, and which of its targets, an upstream call is for. */
interface CallOwner {
  messageId: string;
  index: number;
}

/**
 * The real upstream clients behind a fault injector: a call fails when `faultOf` says so for its
 * message's current receive, before reaching the upstream (503) or after it (504: the answer was
 * lost, whatever it was). app_forbidden is always refused (403).
 */
function flaky(ownerOf: (key: string) => CallOwner | undefined, faultOf: (owner: CallOwner) => Fault, unplanned: string[]): SvixPort & NextAuthPort {
  const real = { expireAll, logoutSession };
  const inject = async (key: string, call: () => Promise<void>) => {
    const owner = ownerOf(key);
    if (!owner) unplanned.push(key);
    const fault = owner ? faultOf(owner) : undefined;
    if (fault === 'before') {
      calls.injected++;
      throw new UpstreamUnavailableError(503, 'injected: the upstream is unavailable');
    }
    let error: unknown;
    try {
      await call();
    } catch (err) {
      error = err;
    }
    if (fault === 'after') {
      calls.injected++;
      throw new UpstreamUnavailableError(504, 'injected: the answer was lost');
    }
    if (error !== undefined) throw error;
  };
  return {
    expireAll: (appId, body, o) => {
      calls.svix++;
      if (appId === 'app_forbidden') return Promise.reject(new UpstreamResponseError(403, { code: 'forbidden', detail: 'injected' }));
      return inject(o.idempotencyKey, () => real.expireAll(appId, body, o));
    },
    logoutSession: (serverId, nonce, o) => {
      calls.nextauth++;
      return inject(`nonce:${nonce}`, () => real.logoutSession(serverId, nonce, o));
    },
  };
}

beforeAll(async () => {
  upstream = await startTestUpstream([
    recordingSvix(createSvixSandbox({ orgKey: ORG_KEY })),
    createNextAuthSandbox({ apiKey: NEXTAUTH_KEY, serverId: SERVER_ID }).upstream,
  ]);
  const secretsFile = writeSecretsFile({ 'soak/svix': ORG_KEY, 'soak/nextauth': { apiKey: NEXTAUTH_KEY } });
  removeAfterTests(dirname(secretsFile));
  useSecretsFile(secretsFile);
  Object.assign(process.env, {
    SVIX_API_URL: upstream.url,
    SVIX_SECRET_ID: 'soak/svix',
    NEXTAUTH_API_URL: upstream.url,
    NEXTAUTH_SECRET_ID: 'soak/nextauth',
  });
});
afterAll(() => upstream.close());

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${upstream.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

async function portalToken(appId: string, sessionId: string): Promise<string> {
  const res = await post(
    `/api/v1/auth/app-portal-access/${appId}`,
    { sessionId, application: { name: appId, uid: appId } },
    { authorization: `Bearer ${ORG_KEY}` },
  );
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}
const tokenValid = async (token: string) => ((await (await fetch(`${upstream.url}/_sandbox/svix/tokens/${token}`)).json()) as { valid: boolean }).valid;
const logIn = async (nonce: string) => expect((await post('/_sandbox/nextauth/scan', { serverid: SERVER_ID, nonce, accountid: 1 })).status).toBe(200);
async function loggedIn(nonce: string): Promise<boolean> {
  const res = await fetch(`${upstream.url}/servers/${encodeURIComponent(SERVER_ID)}/sessions/`, { headers: { 'x-apikey': NEXTAUTH_KEY, 'x-nonce': nonce } });
  return ((await res.json()) as { loggedin: boolean }).loggedin;
}

/** What a message should come to, and what it should have changed upstream. */
interface Planned extends QueuedMessage {
  queue: 'logout' | 'expire-all';
  /** Where it ends when the faults let it: redriven instead if they fail it on every receive. */
  fate: 'done' | 'dead-lettered';
  targets: number;
  tokens: string[];
  nonces: string[];
  /** The keys its upstream calls are known by (see `flaky`), by target index; none when invalid. */
  callKeys: string[];
  /** Indexes of its targets whose calls go through the fault injector (all but app_forbidden ones). */
  faultable: number[];
}

async function plan(): Promise<Planned[]> {
  const messages: Planned[] = [];
  const add = (
    queue: Planned['queue'],
    fate: Planned['fate'],
    message: unknown,
    effects: { tokens?: string[]; nonces?: string[] },
    viaEventBridge: boolean,
  ) => {
    const targets = typeof message === 'object' && message !== null && 'targets' in message ? (message.targets as unknown[]).length : 1;
    const n = messages.filter((m) => m.queue === queue).length;
    const messageId = fixedId(`${queue}:${n}`);
    const body = viaEventBridge ? eventBridgeBody(DETAIL_TYPES[queue], message, { id: fixedId(`${queue}:${n}:event`) }) : JSON.stringify(message);
    // The keys the consumer will use, from the body as the consumer parses it.
    const parsed = parse(queue, { body, messageId });
    const parsedTargets = parsed.ok ? parsed.targets : [];
    const callKeys = parsedTargets.map((t, index) =>
      t.op === 'nextauth.logout' ? `nonce:${t.nonce}` : targetIdempotencyKey(parsed.ok ? parsed.id : '', index, t),
    );
    const faultable = parsedTargets.flatMap((t, index) => (t.op === 'svix.expire-all' && t.appId === 'app_forbidden' ? [] : [index]));
    const planned = { messageId, body, queue, fate, targets, tokens: effects.tokens ?? [], nonces: effects.nonces ?? [], callKeys, faultable };
    messages.push(planned);
  };
  /** The upstream state each message needs, made 50 calls at a time (see below). */
  const setup: Array<() => Promise<void>> = [];

  // 600 logout messages: nextAuth, Svix, and both in one; every 4th through EventBridge.
  for (let i = 0; i < 600; i++) {
    const viaEventBridge = i % 4 === 0;
    if (i % 60 === 59) {
      add('logout', 'dead-lettered', { targets: [{ appId: 'app_logout', sessionIds: [] }] }, {}, viaEventBridge);
      continue;
    }
    const nonce = `soak-nonce-${i}-${randomUUID()}`;
    const sessionId = `ls-${i}`;
    const kind = i % 3;
    const tokens: string[] = [];
    setup.push(async () => {
      if (kind !== 1) await logIn(nonce);
      if (kind !== 0) tokens.push(await portalToken('app_logout', sessionId));
    });
    const nextauth = { serverid: SERVER_ID, nonce };
    const svix = { appId: 'app_logout', sessionIds: [sessionId] };
    const message = kind === 0 ? nextauth : kind === 1 ? svix : { targets: [nextauth, svix] };
    add('logout', 'done', message, { tokens, nonces: kind === 1 ? [] : [nonce] }, viaEventBridge);
  }

  // 400 expire-all messages: whole apps, some session ids, unknown apps (404: dead-lettered), refused ones.
  for (let i = 0; i < 400; i++) {
    const viaEventBridge = i % 4 === 1;
    if (i % 50 === 47) {
      add('expire-all', 'dead-lettered', { targets: [{ appId: `app_exp_${i}`, sessionIds: ['x'] }, { appId: `app_gone_${i}` }] }, {}, viaEventBridge);
      continue;
    }
    if (i % 50 === 49) {
      add('expire-all', 'dead-lettered', { targets: [{ appId: `app_exp_${i}` }, { appId: 'app_forbidden' }] }, {}, viaEventBridge);
      continue;
    }
    if (i % 50 === 48) {
      add('expire-all', 'dead-lettered', { appId: `app_exp_${i}`, expiry: -1 }, {}, viaEventBridge);
      continue;
    }
    const appId = `app_exp_${i}`;
    const tokens: string[] = [];
    setup.push(async () => void tokens.push(await portalToken(appId, 'x'), await portalToken(appId, 'y')));
    const message =
      i % 3 === 0
        ? { appId, expiry: 0 }
        : i % 3 === 1
          ? { targets: [{ appId, sessionIds: ['x', 'y'] }] }
          : {
              targets: [
                { appId, sessionIds: ['x'] },
                { appId, sessionIds: ['y'], expiry: 0 },
              ],
            };
    add('expire-all', 'done', message, { tokens }, viaEventBridge);
  }
  // Not all at once: with two suites sharing the two cores, 1,300 requests opened together met an
  // ECONNRESET in this setup, before anything under test ran.
  for (let i = 0; i < setup.length; i += 50) await Promise.all(setup.slice(i, i + 50).map((make) => make()));
  return messages;
}

type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

describe('soak: 1,000 job messages, a tenth of upstream calls failing', () => {
  it('ends every message where its faults put it (done, dead-lettered or redriven), loses none, and does no Svix call twice', {
    timeout: 120_000,
  }, async () => {
    const messages = await plan();
    expect(messages).toHaveLength(MESSAGES);
    const controlToken = await portalToken('app_logout', 'ls-control');
    const controlNonce = `soak-control-${randomUUID()}`;
    await logIn(controlNonce);

    const dead = new Map<string, string>();
    const deadLetter: DeadLetter = async (record, note) => {
      dead.set(record.messageId, note.reason);
    };

    // SQS delivers at least once: a few messages arrive twice from the start.
    const deliveries = (queue: Planned['queue']) => {
      const own = messages.filter((m) => m.queue === queue);
      return [...own, ...own.filter((_, i) => i % 97 === 0)];
    };
    const duplicated = new Set(
      (['logout', 'expire-all'] as const).flatMap((queue) =>
        deliveries(queue)
          .slice(messages.filter((m) => m.queue === queue).length)
          .map((m) => m.messageId),
      ),
    );

    // Failed on every receive, so the redrive path is always exercised: a nextAuth + Svix logout that
    // never reaches the upstream, and an expire-all whose answer is lost every time (executed once,
    // then replayed by Svix on each redelivery).
    const alwaysFailing = new Map<string, Fault>([
      [messages.filter((m) => m.queue === 'logout')[2]!.messageId, 'before'],
      [messages.filter((m) => m.queue === 'expire-all')[3]!.messageId, 'after'],
    ]);
    /**
     * The fault of a target on a receive. A message delivered twice has two copies that may be in
     * flight at once with different receive counts, so a call cannot be told apart by copy: those
     * messages get no faults (they are here for the duplicate delivery, not for the faults).
     */
    const faultFor = (messageId: string, receive: number, index: number): Fault => {
      if (alwaysFailing.has(messageId)) return alwaysFailing.get(messageId);
      if (duplicated.has(messageId)) return undefined;
      const r = unit(`${SEED}:${messageId}:${receive}:${index}`);
      return r < FAULT_RATE / 2 ? 'before' : r < FAULT_RATE ? 'after' : undefined;
    };

    // Which message a call is for, by its Svix idempotency key or its nextAuth nonce; and the receive
    // count of the delivery being handled, from the records as the handler gets them.
    const owners = new Map<string, CallOwner>();
    for (const m of messages) for (const [index, key] of m.callKeys.entries()) owners.set(key, { messageId: m.messageId, index });
    expect(owners.size).toBe(messages.reduce((n, m) => n + m.callKeys.length, 0)); // no two targets share a key
    const receiveOf = new Map<string, number>();
    const unplanned: string[] = [];
    const upstreamPorts = flaky(
      (key) => owners.get(key),
      ({ messageId, index }) => faultFor(messageId, receiveOf.get(messageId) ?? 0, index),
      unplanned,
    );
    const consumers: Record<Planned['queue'], JobDefinition> = {
      logout: { kind: 'logout', upstream: upstreamPorts },
      'expire-all': { kind: 'expire-all', upstream: { expireAll: upstreamPorts.expireAll } },
    };
    const handler = (queue: Planned['queue']): Handler => {
      const consume = jobHandler(consumers[queue], { deadLetter, provenance: localProvenance(queue) }) as unknown as Handler;
      return (event, context) => {
        for (const r of event.Records) receiveOf.set(r.messageId, Number(r.attributes.ApproximateReceiveCount));
        return consume(event, context);
      };
    };

    /** Where a message must end, and on which receive: the first receive on which none of its targets is failed. */
    const predict = (m: Planned): { where: string; receives: number } => {
      if (m.callKeys.length === 0) return { where: m.fate, receives: 1 }; // invalid: dead-lettered at once
      for (let receive = 1; receive <= MAX_RECEIVE_COUNT; receive++) {
        if (m.faultable.every((index) => faultFor(m.messageId, receive, index) === undefined)) return { where: m.fate, receives: receive };
      }
      return { where: 'redriven', receives: MAX_RECEIVE_COUNT };
    };

    const started = performance.now();
    const [logout, expireAll] = await Promise.all([
      replayLikeSqs(handler('logout'), deliveries('logout'), { maxReceiveCount: MAX_RECEIVE_COUNT, pollers: POLLERS, queueName: 'logout' }),
      replayLikeSqs(handler('expire-all'), deliveries('expire-all'), { maxReceiveCount: MAX_RECEIVE_COUNT, pollers: POLLERS, queueName: 'expire-all' }),
    ]);
    const seconds = (performance.now() - started) / 1000;
    expect(unplanned).toEqual([]);

    // None lost, and each exactly where the faults put it: deleted (done, or dead-lettered by the
    // consumer) or moved to the DLQ by the redrive policy, on the receive predicted.
    const redriven = new Map([...logout.redriven, ...expireAll.redriven]);
    const deleted = new Map([...logout.deleted, ...expireAll.deleted]);
    const where = (m: Planned) =>
      dead.has(m.messageId) ? 'dead-lettered' : redriven.has(m.messageId) ? 'redriven' : deleted.has(m.messageId) ? 'done' : 'lost';
    const mismatches = messages.flatMap((m) => {
      const actual = { where: where(m), receives: redriven.get(m.messageId) ?? deleted.get(m.messageId) ?? 0 };
      const expected = predict(m);
      return actual.where === expected.where && actual.receives === expected.receives ? [] : [{ message: m.messageId, queue: m.queue, actual, expected }];
    });
    expect(mismatches).toEqual([]);
    for (const m of messages) {
      if (where(m) === 'dead-lettered') expect(dead.get(m.messageId)).toMatch(/^(invalid message: |target 1: 403: |target \d: 404: no such Svix app)/);
    }
    for (const id of alwaysFailing.keys()) expect(redriven.get(id)).toBe(MAX_RECEIVE_COUNT);
    const retriedThenDone = messages.filter((m) => where(m) === 'done' && (deleted.get(m.messageId) ?? 0) > 1).length;
    expect(retriedThenDone).toBeGreaterThan(50); // the faults did make messages come back

    // Done means done: every targeted token is no longer valid, every targeted session is logged out.
    const done = messages.filter((m) => where(m) === 'done');
    const tokenStates = await Promise.all(done.flatMap((m) => m.tokens).map(tokenValid));
    expect(tokenStates.filter(Boolean)).toHaveLength(0);
    const sessionStates = await Promise.all(done.flatMap((m) => m.nonces).map(loggedIn));
    expect(sessionStates.filter(Boolean)).toHaveLength(0);
    // ... and nothing beyond the targets was touched.
    expect(await tokenValid(controlToken)).toBe(true);
    expect(await loggedIn(controlNonce)).toBe(true);

    // Never twice: each Svix idempotency key (one per message target) was executed once; repeats were replays.
    const executedTwice = [...svixAnswers.entries()].filter(([, a]) => a.executed !== 1);
    expect(executedTwice).toEqual([]);
    expect([...svixAnswers.values()].every((a) => a.paths.size === 1)).toBe(true);
    const replays = [...svixAnswers.values()].reduce((n, a) => n + a.replayed, 0);
    expect(replays).toBeGreaterThan(0);

    const targets = done.reduce((n, m) => n + m.targets, 0);
    const invocations = logout.invocations + expireAll.invocations;
    const redeliveries = logout.deliveries + expireAll.deliveries - deliveries('logout').length - deliveries('expire-all').length;
    process.stdout.write(
      [
        '',
        `jobs soak: ${MESSAGES} messages (${done.length} done, ${dead.size} dead-lettered, ${redriven.size} redriven), ${targets} targets done in ${seconds.toFixed(2)} s`,
        `  ${(targets / seconds).toFixed(0)} targets/s; concurrency ${JOB_DEFAULTS.concurrency} calls per invocation × ${POLLERS} invocations per queue × 2 queues`,
        `  ${invocations} invocations, ${redeliveries} redeliveries; upstream calls: ${calls.svix} Svix, ${calls.nextauth} nextAuth, ${calls.injected} failed by injection; ${replays} Svix replays`,
        '',
      ].join('\n'),
    );
    expect(calls.injected / (calls.svix + calls.nextauth)).toBeGreaterThan(0.07);
  });
});
