import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamResponseError, UpstreamUnavailableError } from '#lib/errors';
import type { DeadLetter } from '#lib/jobs/dead-letter';
import { JOB_DEFAULTS, jobHandler } from '#lib/jobs/handler';
import { DETAIL_TYPES } from '#lib/jobs/schema';
import type { JobDefinition, NextAuthPort, SvixPort } from '#lib/jobs/targets';
import { logoutSession } from '#lib/upstream/nextauth';
import { expireAll } from '#lib/upstream/svix';
import { eventBridgeBody } from '#local/events';
import { createNextAuthSandbox } from '#local/sandbox/nextauth';
import { createSvixSandbox } from '#local/sandbox/svix';
import type { SandboxUpstream } from '#local/sandbox/types';
import { type QueuedMessage, replayLikeSqs } from '../support/sqs.ts';
import { startTestUpstream, type TestUpstream } from '../support/upstream.ts';

/**
 * 1,000 job messages through both consumers against the sandbox upstreams, with a tenth of all
 * upstream calls failing transiently (half before the call, half after it succeeded, i.e. a lost
 * answer), replayed the way SQS would: failed records redelivered until they succeed or reach
 * the receive limit of 5, then the DLQ. Checks that every target ends done or dead-lettered, none
 * is lost, and none is carried out twice: a Svix key is executed once and replayed after.
 */

const ORG_KEY = 'sk_canary_soak_org_key';
const NEXTAUTH_KEY = 'canary-soak-nextauth-key';
const SERVER_ID = 'c29hay1zZXJ2ZXI=';
const MESSAGES = 1_000;
const FAULT_RATE = 0.1;
const MAX_RECEIVE_COUNT = 5;
const POLLERS = 4;

let upstream: TestUpstream;
/** What the Svix sandbox answered, per idempotency key: executions and replays of 2xx. */
const svixAnswers = new Map<string, { executed: number; replayed: number; paths: Set<string> }>();

/** Seeded, so a failing run can be repeated exactly (mulberry32). */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

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

/** Puts a transient fault in front of a tenth of the real upstream calls; app_forbidden is refused. */
function flaky(random: () => number): SvixPort & NextAuthPort {
  const real = { expireAll, logoutSession };
  const maybeFail = async (call: () => Promise<void>) => {
    const r = random();
    if (r < FAULT_RATE / 2) {
      calls.injected++;
      throw new UpstreamUnavailableError(503, 'injected: the upstream is unavailable');
    }
    await call();
    if (r < FAULT_RATE) {
      calls.injected++;
      throw new UpstreamUnavailableError(504, 'injected: the answer was lost');
    }
  };
  return {
    expireAll: (appId, body, o) => {
      calls.svix++;
      if (appId === 'app_forbidden') return Promise.reject(new UpstreamResponseError(403, { code: 'forbidden', detail: 'injected' }));
      return maybeFail(() => real.expireAll(appId, body, o));
    },
    logoutSession: (serverId, nonce, o) => {
      calls.nextauth++;
      return maybeFail(() => real.logoutSession(serverId, nonce, o));
    },
  };
}

beforeAll(async () => {
  upstream = await startTestUpstream([
    recordingSvix(createSvixSandbox({ orgKey: ORG_KEY })),
    createNextAuthSandbox({ apiKey: NEXTAUTH_KEY, serverId: SERVER_ID }).upstream,
  ]);
  const secretsFile = join(mkdtempSync(join(tmpdir(), 'authgate-soak-')), 'secrets.json');
  writeFileSync(secretsFile, JSON.stringify({ 'soak/svix': ORG_KEY, 'soak/nextauth': { apiKey: NEXTAUTH_KEY } }));
  Object.assign(process.env, {
    SECRETS_SOURCE: 'file',
    SECRETS_FILE: secretsFile,
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
  fate: 'done' | 'dead-lettered';
  targets: number;
  tokens: string[];
  nonces: string[];
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
    const body = viaEventBridge ? eventBridgeBody(DETAIL_TYPES[queue], message) : JSON.stringify(message);
    messages.push({ messageId: randomUUID(), body, queue, fate, targets, tokens: effects.tokens ?? [], nonces: effects.nonces ?? [] });
  };
  const setup: Array<Promise<void>> = [];

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
    setup.push(
      (async () => {
        if (kind !== 1) await logIn(nonce);
        if (kind !== 0) tokens.push(await portalToken('app_logout', sessionId));
      })(),
    );
    const nextauth = { serverid: SERVER_ID, nonce };
    const svix = { appId: 'app_logout', sessionIds: [sessionId] };
    const message = kind === 0 ? nextauth : kind === 1 ? svix : { targets: [nextauth, svix] };
    add('logout', 'done', message, { tokens, nonces: kind === 1 ? [] : [nonce] }, viaEventBridge);
  }

  // 400 expire-all messages: whole apps, some session ids, gone apps (404 = done), refused ones.
  for (let i = 0; i < 400; i++) {
    const viaEventBridge = i % 4 === 1;
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
    setup.push((async () => void tokens.push(await portalToken(appId, 'x'), await portalToken(appId, 'y')))());
    const message =
      i % 3 === 0
        ? { appId, expiry: 0 }
        : i % 3 === 1
          ? { targets: [{ appId, sessionIds: ['x', 'y'] }, { appId: `app_gone_${i}` }] }
          : {
              targets: [
                { appId, sessionIds: ['x'] },
                { appId, sessionIds: ['y'], expiry: 0 },
              ],
            };
    add('expire-all', 'done', message, { tokens }, viaEventBridge);
  }
  await Promise.all(setup);
  return messages;
}

type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

describe('soak: 1,000 job messages, a tenth of upstream calls failing', () => {
  it('ends every message done or dead-lettered, loses none, and does no Svix call twice', { timeout: 120_000 }, async () => {
    const messages = await plan();
    expect(messages).toHaveLength(MESSAGES);
    const controlToken = await portalToken('app_logout', 'ls-control');
    const controlNonce = `soak-control-${randomUUID()}`;
    await logIn(controlNonce);

    const random = prng(20261123);
    const dead = new Map<string, string>();
    const deadLetter: DeadLetter = async (record, note) => {
      dead.set(record.messageId, note.reason);
    };
    const upstreamPorts = flaky(random);
    const consumers: Record<Planned['queue'], JobDefinition> = {
      logout: { kind: 'logout', upstream: upstreamPorts },
      'expire-all': { kind: 'expire-all', upstream: { expireAll: upstreamPorts.expireAll } },
    };
    const handler = (queue: Planned['queue']) => jobHandler(consumers[queue], { deadLetter }) as unknown as Handler;

    // SQS delivers at least once: a few messages arrive twice from the start.
    const deliveries = (queue: Planned['queue']) => {
      const own = messages.filter((m) => m.queue === queue);
      return [...own, ...own.filter((_, i) => i % 97 === 0)];
    };

    const started = performance.now();
    const [logout, expireAll] = await Promise.all([
      replayLikeSqs(handler('logout'), deliveries('logout'), { maxReceiveCount: MAX_RECEIVE_COUNT, pollers: POLLERS, queueName: 'logout' }),
      replayLikeSqs(handler('expire-all'), deliveries('expire-all'), { maxReceiveCount: MAX_RECEIVE_COUNT, pollers: POLLERS, queueName: 'expire-all' }),
    ]);
    const seconds = (performance.now() - started) / 1000;

    // None lost: every message was deleted or moved to the DLQ, and took the way planned for it.
    // A message meant to succeed may still fail on all five receives (p ≈ 0.19⁵ for two targets):
    // then the redrive policy has moved it to the DLQ, which is an end too, never a loss.
    const redriven = new Map([...logout.redriven, ...expireAll.redriven]);
    const deleted = new Map([...logout.deleted, ...expireAll.deleted]);
    const where = (m: Planned) =>
      dead.has(m.messageId) ? 'dead-lettered' : redriven.has(m.messageId) ? 'redriven' : deleted.has(m.messageId) ? 'done' : 'lost';
    for (const m of messages) {
      const expected = m.fate === 'done' && redriven.has(m.messageId) ? 'redriven' : m.fate;
      expect({ message: m.messageId, where: where(m) }).toEqual({ message: m.messageId, where: expected });
      if (m.fate === 'dead-lettered') expect(dead.get(m.messageId)).toMatch(/^(invalid message: |target 1: 403: )/);
    }
    for (const count of redriven.values()) expect(count).toBe(MAX_RECEIVE_COUNT);
    expect(redriven.size).toBeLessThan(5);

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
