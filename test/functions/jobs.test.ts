import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { handler as expireAllHandler, job as expireAllJob } from '#functions/job-expire-all';
import { job as logoutJob } from '#functions/job-logout';
import { ApiError, UpstreamResponseError, UpstreamTransportError, UpstreamUnavailableError } from '#lib/errors';
import { type DeadLetter, type DeadLetterNote, queueDeadLetter } from '#lib/jobs/dead-letter';
import { type JobHandlerOptions, jobHandler } from '#lib/jobs/handler';
import { classify } from '#lib/jobs/outcome';
import { TARGET_BUDGET_MS } from '#lib/jobs/runner';
import { DETAIL_TYPES, type JobKind, parseMessage, type Target } from '#lib/jobs/schema';
import { type JobDefinition, targetIdempotencyKey } from '#lib/jobs/targets';
import { eventBridgeBody, LOCAL_EVENTBRIDGE_SENDER, lambdaContext, localProvenance, localRuleArn, sqsEvent } from '#local/events';

/** parseMessage as the local consumers run it (the default jobEventSources, the local rule). */
const parse = (kind: JobKind, record: Parameters<typeof parseMessage>[1]) => parseMessage(kind, record, localProvenance(kind));

import { base64urlServerId } from '#local/sandbox/nextauth';
import { fakeAws } from '../support/fake-aws.ts';
import { logLines, parsedLogs } from '../support/logs.ts';
import { useBothSandboxes } from '../support/upstream.ts';

const ORG_KEY = 'sk_canary_jobs_org_key';
const NEXTAUTH_KEY = 'canary-jobs-nextauth-key';
const SERVER_ID = 'c2VydmVyL2pvYnM+Pz4='; // holds '/' and '=': must be percent-encoded upstream
const NONCE = 'nonce-canary-0123456789abcdef';
const upstream = useBothSandboxes(
  { svix: ORG_KEY, nextauth: NEXTAUTH_KEY, serverId: SERVER_ID },
  {
    UPSTREAM_ATTEMPT_TIMEOUT_MS: '400',
    METRICS_NAMESPACE: 'authgate/test',
    // The deployed handlers' (serverless.yml); `consumer` passes the same as options.
    JOB_EVENT_SOURCES: localProvenance('expire-all').eventSources.join(','),
    JOB_RULE_ARN: localRuleArn('expire-all'),
  },
);

type Handler = (event: SQSEvent, context: ReturnType<typeof lambdaContext>) => Promise<SQSBatchResponse>;

/** A handler of the real job (real upstream clients) with a recording dead-letter function. */
function consumer(job: JobDefinition, options: JobHandlerOptions = {}) {
  const deadLettered: Array<{ record: SQSRecord; note: DeadLetterNote }> = [];
  const deadLetter: DeadLetter = async (record, note) => {
    deadLettered.push({ record, note });
  };
  const handler = jobHandler(job, { deadLetter, provenance: localProvenance(job.kind), ...options }) as unknown as Handler;
  return { handler, deadLettered };
}

const run = (handler: Handler, event: SQSEvent, timeoutMs = 10_000) => handler(event, lambdaContext({ functionName: 'job', timeoutMs }));
const failedIds = (res: SQSBatchResponse) => res.batchItemFailures.map((f) => f.itemIdentifier);
const idsOf = (event: SQSEvent, ...indexes: number[]) => indexes.map((i) => event.Records[i]!.messageId);
const json = (value: unknown) => JSON.stringify(value);

const nextauthTarget = { serverid: SERVER_ID, nonce: NONCE };
const svixLogout = (sessionIds: string[] = ['sess-1'], appId = 'app_demo') => ({ appId, sessionIds });
const svixError = (status: number, code: string) => ({ status, body: { code, detail: `scripted ${status}` } });

async function portalToken(sessionId: string, appId = 'app_demo'): Promise<string> {
  const res = await fetch(`${upstream.url}/api/v1/auth/app-portal-access/${appId}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ORG_KEY}`, 'content-type': 'application/json' },
    body: json({ sessionId }),
  });
  return ((await res.json()) as { token: string }).token;
}
const tokenValid = async (token: string) => ((await (await fetch(`${upstream.url}/_sandbox/svix/tokens/${token}`)).json()) as { valid: boolean }).valid;

describe('who sent a message: the SQS sender, never what the body claims', () => {
  const audit = () => parsedLogs().filter((l) => l.msg === 'audit');
  const sender = 'AROAEXAMPLEDIRECT:mallory';

  it('refuses an event whose source is not a job source (dead-lettered with the reason), naming the real sender', async () => {
    const { handler, deadLettered } = consumer(expireAllJob);
    const forged = eventBridgeBody(DETAIL_TYPES['expire-all'], { appId: 'app_demo' }, { source: 'com.example.hr', rule: null });
    const event = sqsEvent([forged], { senderIds: [sender] });

    expect(failedIds(await run(handler, event))).toEqual([]);

    expect(upstream.requests).toHaveLength(0);
    expect(deadLettered.map((d) => d.note.reason)).toEqual(['invalid message: source "com.example.hr" is not one of this job\'s event sources']);
    expect(audit()).toEqual([
      expect.objectContaining({
        operation: 'job.expire-all',
        outcome: 'refused',
        caller: { id: `sqs:${sender}`, sender, claimedSource: 'com.example.hr' },
        reason: expect.stringContaining('com.example.hr'),
      }),
    ]);
    expect(logLines.join('\n')).not.toContain('event:com.example.hr');
  });

  it('names the rule an event came through, with the sender SQS recorded and the source as claimed', async () => {
    const { handler } = consumer(expireAllJob);
    const event = sqsEvent([eventBridgeBody(DETAIL_TYPES['expire-all'], { appId: 'app_demo' })], { senderIds: [LOCAL_EVENTBRIDGE_SENDER] });

    expect(failedIds(await run(handler, event))).toEqual([]);

    const rule = localRuleArn('expire-all');
    expect(audit()[0]).toMatchObject({
      outcome: 'done',
      caller: { id: `sqs:${LOCAL_EVENTBRIDGE_SENDER}|${rule}`, sender: LOCAL_EVENTBRIDGE_SENDER, rule, claimedSource: 'authgate.requests' },
    });
  });

  it('refuses a wrapped event naming another rule, and still runs a bare event from a job source (messages in flight)', async () => {
    const { handler, deadLettered } = consumer(expireAllJob);
    const otherRule = eventBridgeBody(DETAIL_TYPES['expire-all'], { appId: 'app_demo' }, { rule: 'arn:aws:events:eu-west-1:123456789012:rule/not-ours' });
    const bare = eventBridgeBody(DETAIL_TYPES['expire-all'], { appId: 'app_demo' }, { rule: null });
    const event = sqsEvent([otherRule, bare, json({ appId: 'app_demo' })], { senderIds: [sender, LOCAL_EVENTBRIDGE_SENDER, sender] });

    expect(failedIds(await run(handler, event))).toEqual([]);

    expect(deadLettered.map((d) => d.note.reason)).toEqual([
      'invalid message: the event names the rule "arn:aws:events:eu-west-1:123456789012:rule/not-ours", not this job\'s rule',
    ]);
    const callers = Object.fromEntries(audit().map((r) => [r.messageId, r.caller]));
    expect(callers[event.Records[1]!.messageId]).toEqual({
      id: `sqs:${LOCAL_EVENTBRIDGE_SENDER}`,
      sender: LOCAL_EVENTBRIDGE_SENDER,
      claimedSource: 'authgate.requests',
    });
    expect(callers[event.Records[2]!.messageId]).toEqual({ id: `sqs:${sender}`, sender });
  });

  it('the deployed handler fails fast, naming JOB_EVENT_SOURCES, when it is not set', async () => {
    const sources = process.env.JOB_EVENT_SOURCES;
    delete process.env.JOB_EVENT_SOURCES;
    try {
      const event = sqsEvent([json({ appId: 'app_demo' })]);

      await expect((expireAllHandler as unknown as Handler)(event, lambdaContext())).rejects.toThrow(/JOB_EVENT_SOURCES/);
      expect(upstream.requests).toHaveLength(0);
    } finally {
      process.env.JOB_EVENT_SOURCES = sources;
    }
  });
});

describe('what a refused message puts in the logs', () => {
  it('is bounded: a key of 100,000 characters (in a message, five targets, an event) never makes a line of that size', async () => {
    const { handler, deadLettered } = consumer(logoutJob);
    const key = 'k'.repeat(100_000);
    const bodies = [
      json({ ...svixLogout(), [key]: 1 }),
      json({ targets: Array.from({ length: 5 }, () => ({ ...nextauthTarget, [key]: 1 })) }),
      eventBridgeBody(DETAIL_TYPES.logout, { ...nextauthTarget, [key]: 1 }),
    ];
    expect(failedIds(await run(handler, sqsEvent(bodies)))).toEqual([]);

    expect(deadLettered).toHaveLength(3);
    for (const { note } of deadLettered) expect(note.reason).toMatch(/^invalid message: /);
    // Still says which key: its first characters, and a digest of the whole.
    expect(deadLettered[0]?.note.reason).toContain('kkkkkkkk');
    for (const line of logLines) expect(line.length).toBeLessThan(8_000);
  });
});

describe('a mixed batch', () => {
  it('reports exactly the transient failures; dead-letters permanent and invalid ones and an unknown app (404)', async () => {
    // concurrency 1: upstream calls happen in record order, so the scripted answers meet the
    // records they are meant for (the first six upstream calls; invalid records make none).
    const { handler, deadLettered } = consumer(logoutJob, { concurrency: 1 });
    upstream.script(
      svixError(429, 'rate_limit_exceeded'), // r0: a bare 429, not retried by the client
      svixError(403, 'forbidden'), // r2
      { status: 500 },
      { status: 500 },
      { status: 500 }, // r3: 5xx on all three client attempts
      { status: 401, body: 'nope' }, // r5: nextAuth refuses the key (the refetched one is the same)
    );
    const event = sqsEvent([
      json(svixLogout(['s-429'])), // r0 transient
      'not json {', // r1 invalid
      json(svixLogout(['s-403'])), // r2 permanent
      json({ targets: [svixLogout(['s-500'])] }), // r3 transient
      json({ appId: 'app_demo', sessionIds: [] }), // r4 invalid: an empty logout
      json(nextauthTarget), // r5 permanent (401)
      json(nextauthTarget), // r6 done
      json(svixLogout(['s-gone'], 'app_gone')), // r7 404: no such app = permanent
      eventBridgeBody(DETAIL_TYPES.logout, { targets: [nextauthTarget, svixLogout(['s-eb'])] }), // r8 done
      eventBridgeBody(DETAIL_TYPES['expire-all'], { appId: 'app_demo' }, { rule: null }), // r9 invalid here: wrong detail-type
    ]);

    const res = await run(handler, event);

    expect(failedIds(res)).toEqual(idsOf(event, 0, 3));
    expect(deadLettered.map((d) => event.Records.indexOf(d.record)).sort()).toEqual([1, 2, 4, 5, 7, 9]);
    const notes = Object.fromEntries(deadLettered.map((d) => [event.Records.indexOf(d.record), d.note]));
    expect(notes[1]).toEqual({ job: 'logout', reason: 'invalid message: the body is not JSON', failedTargets: [] });
    expect(notes[2]).toEqual({ job: 'logout', reason: 'target 0: 403: upstream answered 403', failedTargets: [0] });
    expect(notes[4]?.reason).toBe('invalid message: sessionIds: must name at least one session');
    expect(notes[5]?.reason).toMatch(/^target 0: 401: /);
    expect(notes[7]).toEqual({ job: 'logout', reason: 'target 0: 404: no such Svix app', failedTargets: [0] });
    expect(notes[9]?.reason).toMatch(/^invalid message: detail-type "authgate.expire-all.requested" is not for the logout job/);
    // invalid messages never reach an upstream: r0 1, r2 1, r3 3 attempts, r5 1 (the refetched key
    // is the same, so no second try), r6 1, r7 1, r8 2
    expect(upstream.requests).toHaveLength(10);
  });

  it('logs one line per target, one per message, one summary, and the counts as EMF metrics', async () => {
    const { handler } = consumer(logoutJob, { concurrency: 1 });
    upstream.script(svixError(429, 'rate_limit_exceeded'));
    await run(handler, sqsEvent([json(svixLogout()), json(nextauthTarget), '[]']));
    const logs = parsedLogs();
    // One per target, and one for the refused message ('[]').
    expect(logs.filter((l) => l.msg === 'audit').map((l) => l.outcome)).toEqual(expect.arrayContaining(['rate-limited', 'done', 'refused']));
    expect(logs.filter((l) => l.msg === 'job message').map((l) => l.result)).toEqual(expect.arrayContaining(['retry', 'done', 'dead-lettered']));
    const summaries = logs.filter((l) => l.msg === 'job summary');
    expect(summaries).toHaveLength(1);
    // The 429 is rate-limited; with no continuation wired (no JOB_QUEUE_URL) SQS retries it as before.
    expect(summaries[0]).toMatchObject({ job: 'logout', operation: 'job.logout', messages: 3, done: 1, retried: 1, deadLettered: 1, targetsRateLimited: 1 });
    // The summary's counts, in the one metrics namespace, by job; the targets' upstream calls by upstream operation.
    const records = logs.filter((l) => l._aws !== undefined);
    const batch = records.find((r) => r.family === 'jobs');
    expect(batch).toMatchObject({ operation: 'job.logout', messages: 3, done: 1, retried: 1, deadLettered: 1, targetsRateLimited: 1, targetsDone: 1 });
    const directive = (batch!._aws as { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }> })
      .CloudWatchMetrics[0]!;
    expect(directive.Namespace).toBe('authgate/test');
    expect(directive.Dimensions).toEqual([['family', 'operation']]);
    expect(directive.Metrics.map((m) => m.Name)).toEqual(expect.arrayContaining(['messages', 'done', 'retried', 'deadLettered']));
    for (const { Name } of directive.Metrics) expect(batch?.[Name]).toBe(summaries[0]?.[Name]);
    expect(
      records
        .filter((r) => r.family !== 'jobs')
        .map((r) => r.operation)
        .sort(),
    ).toEqual(['nextauth.logout', 'svix.expire-all']);
    // One audit record per target and per refused message: who asked, what was acted on, how it ended.
    const audits = logs.filter((l) => l.msg === 'audit');
    expect(audits.map((a) => a.operation)).toEqual(['job.logout', 'job.logout', 'job.logout']);
    expect(audits.find((a) => (a.target as { op: string }).op === 'nextauth.logout')).toMatchObject({
      caller: { id: 'sqs:AIDAEXAMPLELOCAL' },
      target: { op: 'nextauth.logout', serverId: SERVER_ID, nonceHash: expect.stringMatching(/^[\w-]{12}$/) },
      messageId: expect.any(String),
      targetIndex: 0,
      outcome: 'done',
      upstreamStatus: 200,
      attempts: 1,
      durationMs: expect.any(Number),
    });
    expect(audits.find((a) => (a.target as { op: string }).op === 'svix.expire-all')).toMatchObject({
      outcome: 'rate-limited',
      status: 429,
      upstreamStatus: 429,
    });
    // the nonce travels in the queue, never in a log line
    expect(logLines.join('\n')).not.toContain(NONCE);
  });
});

describe('a 429 is never waited out in a job, whatever the upstream', () => {
  // Retry-After 1 s: short enough that an interactive call waits it out (lib/upstream/retry.ts).
  const busy = { status: 429, body: { code: 'rate_limit_exceeded', detail: 'scripted 429' }, headers: { 'retry-after': '1' } };

  it.each([
    ['a Svix expire-all', json(svixLogout())],
    ['a nextAuth logout', json(nextauthTarget)],
  ])('%s target is called once and left to the queue', async (_name, body) => {
    const { handler } = consumer(logoutJob, { concurrency: 1 });
    upstream.script(busy);
    const res = await run(handler, sqsEvent([body]));
    // Waited out, the sandbox would have seen a second call a second later.
    expect(upstream.requests).toHaveLength(1);
    expect(res.batchItemFailures).toHaveLength(1);
    expect(parsedLogs().find((l) => l.msg === 'audit')).toMatchObject({ outcome: 'rate-limited', upstreamStatus: 429, attempts: 1 });
  });
});

describe('message formats', () => {
  it('runs plain and EventBridge-enveloped bodies alike, for both jobs, against the real upstream paths', async () => {
    const logout = consumer(logoutJob);
    const token = await portalToken('sess-offboard');
    upstream.requests.length = 0;
    const plain = sqsEvent([json({ targets: [nextauthTarget, svixLogout(['sess-offboard'])] })]);
    const enveloped = sqsEvent([eventBridgeBody(DETAIL_TYPES.logout, { targets: [nextauthTarget, svixLogout(['sess-offboard'])] })]);
    expect(failedIds(await run(logout.handler, plain))).toEqual([]);
    expect(failedIds(await run(logout.handler, enveloped))).toEqual([]);
    expect(logout.deadLettered).toEqual([]);
    expect(await tokenValid(token)).toBe(false);

    const paths = upstream.requests.map((r) => `${r.method} ${r.path}`);
    expect(paths.filter((p) => p === `POST /servers/${encodeURIComponent(SERVER_ID)}/sessions/logout`)).toHaveLength(2);
    const svix = upstream.requests.filter((r) => r.path === '/api/v1/auth/app/app_demo/expire-all');
    expect(svix).toHaveLength(2);
    for (const r of svix) {
      expect(JSON.parse(r.body)).toEqual({ expiry: 0, sessionIds: ['sess-offboard'] });
      expect(r.headers.authorization).toBe(`Bearer ${ORG_KEY}`);
    }
    const nextauth = upstream.requests.find((r) => r.path.startsWith('/servers/'));
    expect(nextauth?.headers['x-nonce']).toBe(NONCE);
    expect(nextauth?.headers['x-apikey']).toBe(NEXTAUTH_KEY);

    const expire = consumer(expireAllJob);
    upstream.requests.length = 0;
    const event = sqsEvent([
      json({ appId: 'app_2', expiry: 60 }),
      eventBridgeBody(DETAIL_TYPES['expire-all'], { targets: [{ appId: 'app_demo' }, { appId: 'app_2', sessionIds: ['a', 'b'] }] }),
    ]);
    expect(failedIds(await run(expire.handler, event))).toEqual([]);
    expect(expire.deadLettered).toEqual([]);
    expect(upstream.requests.map((r) => [r.path, JSON.parse(r.body)])).toEqual(
      expect.arrayContaining([
        ['/api/v1/auth/app/app_2/expire-all', { expiry: 60 }],
        ['/api/v1/auth/app/app_demo/expire-all', {}],
        ['/api/v1/auth/app/app_2/expire-all', { sessionIds: ['a', 'b'] }],
      ]),
    );
  });

  it('takes a nextAuth target in base64url and logs the session out at the standard id', async () => {
    const logout = consumer(logoutJob);
    const urlSafe = base64urlServerId(SERVER_ID);
    expect(urlSafe).not.toBe(SERVER_ID);
    const parsed = parse('logout', { body: json({ serverid: urlSafe, nonce: NONCE }), messageId: 'm-1' });
    expect(parsed).toMatchObject({ ok: true, targets: [{ op: 'nextauth.logout', serverid: SERVER_ID, nonce: NONCE }] });
    upstream.requests.length = 0;
    const event = sqsEvent([
      eventBridgeBody(DETAIL_TYPES.logout, {
        targets: [
          { serverid: urlSafe, nonce: NONCE },
          { serverid: `${urlSafe}=`, nonce: NONCE },
        ],
      }),
    ]);
    expect(failedIds(await run(logout.handler, event))).toEqual([]);
    expect(logout.deadLettered).toEqual([]);
    expect(upstream.requests.map((r) => `${r.method} ${r.path}`)).toEqual(Array(2).fill(`POST /servers/${encodeURIComponent(SERVER_ID)}/sessions/logout`));
  });

  const invalid: Array<[string, 'logout' | 'expire-all', string, RegExp]> = [
    ['a JSON array', 'logout', '[]', /^the body is not a JSON object$/],
    ['no target at all', 'logout', json({ reason: 'offboarding' }), /^\(message\): a logout target is/],
    ['an empty target list', 'logout', json({ targets: [] }), /^targets: must name at least one target$/],
    ['101 targets', 'expire-all', json({ targets: Array.from({ length: 101 }, () => ({ appId: 'a' })) }), /^targets: at most 100/],
    ['a nextAuth target without nonce', 'logout', json({ serverid: SERVER_ID }), /^nonce: /],
    ['a nonce with a space', 'logout', json({ serverid: SERVER_ID, nonce: 'a b' }), /^nonce: must be printable ASCII/],
    ['both kinds of target in one', 'logout', json({ ...nextauthTarget, appId: 'app_demo' }), /^appId: Invalid key/],
    ['an app token in the queue', 'logout', json({ appId: 'app_demo', sessionIds: ['s'], token: 'appsk_x' }), /^token: Invalid key/],
    ['a nextAuth target in expire-all', 'expire-all', json(nextauthTarget), /^appId: /],
    ['expiry above 259200', 'expire-all', json({ appId: 'app_demo', expiry: 259_201 }), /^expiry: /],
    ['a bad session id', 'expire-all', json({ targets: [{ appId: 'a' }, { appId: 'a', sessionIds: ['a.b'] }] }), /^targets\.1\.sessionIds\.0: /],
    ['an app id of ".."', 'expire-all', json({ appId: '..' }), /^appId: must not be a dot segment/],
    ['an envelope without detail', 'logout', json({ 'detail-type': DETAIL_TYPES.logout, source: 'x' }), /^not an EventBridge event/],
    ['an invalid detail', 'logout', eventBridgeBody(DETAIL_TYPES.logout, { targets: [{ serverid: '', nonce: 'n' }] }), /^detail\.targets\.0\.serverid: /],
    ['a server id of 4n+1 characters', 'logout', json({ serverid: 'c2VydmVyL', nonce: 'n' }), /^serverid: must be base64 of a whole number of bytes/],
  ];
  it.each(invalid)('rejects %s with a reason that says where', (_name, kind, body, reason) => {
    const parsed = parse(kind, { body, messageId: 'm-1' });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(reason);
  });

  it('identifies an EventBridge event by its event id, a plain message by its SQS message id', () => {
    const body = eventBridgeBody(DETAIL_TYPES.logout, nextauthTarget, { id: 'evt-42' });
    expect(parse('logout', { body, messageId: 'm-1' })).toMatchObject({ ok: true, via: 'eventbridge', id: 'evt-42' });
    expect(parse('logout', { body: json(nextauthTarget), messageId: 'm-1' })).toMatchObject({ ok: true, via: 'sqs', id: 'm-1' });
  });
});

describe('deadline', () => {
  const slowSvix = (calls: string[], ms: number): JobDefinition => ({
    kind: 'expire-all',
    upstream: {
      expireAll: async (appId) => {
        calls.push(appId);
        await sleep(ms);
      },
    },
  });

  it('starts nothing with too little time left and reports every record failed', async () => {
    const { handler, deadLettered } = consumer(expireAllJob);
    const event = sqsEvent(Array.from({ length: 5 }, () => json({ appId: 'app_demo' })));
    const res = await run(handler, event, 2_500); // 1.5 s for upstream work, below the 2 s start margin
    expect(failedIds(res)).toEqual(event.Records.map((r) => r.messageId));
    expect(upstream.requests).toHaveLength(0);
    expect(deadLettered).toEqual([]);
    expect(parsedLogs().find((l) => l.msg === 'job summary')).toMatchObject({ retried: 5, targetsNotStarted: 5 });
  });

  it('stops starting records when time runs low: the unstarted ones fail, the started ones finish', async () => {
    const calls: string[] = [];
    const { handler } = consumer(slowSvix(calls, 300), { concurrency: 2, startMarginMs: 1_500, finishMarginMs: 1_000 });
    const event = sqsEvent(Array.from({ length: 10 }, (_, i) => json({ appId: `app_${i}` })));
    // 2.2 s for upstream work: two rounds of two start (2.2 s, 1.9 s, then 1.6 s left), the 4th round would begin below 1.5 s
    const res = await run(handler, event, 3_200);
    const failed = failedIds(res);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls.length).toBeLessThan(10);
    expect(calls.length + failed.length).toBe(10);
    // the unstarted ones are the tail of the batch, and none of them called the upstream
    expect(failed).toEqual(event.Records.slice(calls.length).map((r) => r.messageId));
    expect(calls).toEqual(Array.from({ length: calls.length }, (_, i) => `app_${i}`));
  });

  it('gives each target a deadline of its own: at most 8 s, from when it starts, within the batch deadline', async () => {
    const remaining: number[] = [];
    const job: JobDefinition = {
      kind: 'expire-all',
      upstream: {
        expireAll: async (_appId, _body, o) => {
          remaining.push(o.deadline.remainingMs());
          await sleep(200);
        },
      },
    };
    // concurrency 1: the second target starts 200 ms after the first and still gets its full budget.
    const { handler } = consumer(job, { concurrency: 1 });
    expect(failedIds(await run(handler, sqsEvent([json({ appId: 'app_1' }), json({ appId: 'app_2' })]), 30_000))).toEqual([]);
    expect(remaining).toHaveLength(2);
    for (const ms of remaining) {
      expect(ms).toBeLessThanOrEqual(TARGET_BUDGET_MS);
      expect(ms).toBeGreaterThan(TARGET_BUDGET_MS - 150);
    }
    // ... and never more than the batch has: with 4.5 s left (2 s kept to answer), a target gets
    // the 2.5 s that are left, not 8 s.
    remaining.length = 0;
    await run(handler, sqsEvent([json({ appId: 'app_1' })]), 4_500);
    expect(remaining[0]).toBeLessThanOrEqual(2_500);
  });

  it('a target that takes all the time it is given (a long Retry-After, a slow upstream) cannot keep the rest from starting', async () => {
    // What a client does under a long Retry-After or slow attempts: use the deadline it was given, then fail.
    const started: string[] = [];
    const job: JobDefinition = {
      kind: 'expire-all',
      upstream: {
        expireAll: async (appId, _body, o) => {
          started.push(appId);
          if (appId !== 'app_greedy') return;
          await sleep(o.deadline.remainingMs());
          throw new UpstreamUnavailableError(504, 'The upstream did not answer in time.');
        },
      },
    };
    // concurrency 1, a 1 s budget per target, 3 s of batch deadline (4.5 s less 1.5 s kept to
    // answer), 0.5 s start margin: with the batch deadline as its own, the first target would use
    // all 3 s and the second would not start; with its own 1 s, 2 s are left for it (slack for a
    // loaded machine).
    const { handler, deadLettered } = consumer(job, { concurrency: 1, targetBudgetMs: 1_000, startMarginMs: 500, finishMarginMs: 1_500 });
    const event = sqsEvent([json({ appId: 'app_greedy' }), json({ appId: 'app_2' })]);
    const res = await run(handler, event, 4_500);
    expect(started).toEqual(['app_greedy', 'app_2']);
    expect(failedIds(res)).toEqual(idsOf(event, 0));
    expect(deadLettered).toEqual([]);
    expect(parsedLogs().find((l) => l.msg === 'job summary')).toMatchObject({ targetsDone: 1, targetsTransient: 1, targetsNotStarted: 0 });
  });
});

describe('dead-lettering', () => {
  it('sends the original body with job, reason, failed targets and source message id as attributes', async () => {
    const sent: unknown[] = [];
    const deadLetter = queueDeadLetter('https://sqs.eu-west-1.amazonaws.com/123456789012/authgate-test-logout-dlq', async (input) => {
      sent.push(input);
    });
    const { handler } = consumer(logoutJob, { deadLetter, concurrency: 1 });
    upstream.script({ status: 422 }); // answers the first call: target 0, the nextAuth logout
    const body = json({ targets: [nextauthTarget, svixLogout(['x'])] });
    const event = sqsEvent([body], { receiveCounts: [2] });
    const res = await run(handler, event);
    expect(failedIds(res)).toEqual([]);
    expect(sent).toEqual([
      {
        QueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/authgate-test-logout-dlq',
        MessageBody: body,
        MessageAttributes: {
          'authgate.job': { DataType: 'String', StringValue: 'logout' },
          'authgate.reason': { DataType: 'String', StringValue: expect.stringMatching(/^target 0: 422: /) },
          'authgate.failed-targets': { DataType: 'String', StringValue: '0' },
          'authgate.source-message-id': { DataType: 'String', StringValue: event.Records[0]!.messageId },
          'authgate.receive-count': { DataType: 'Number', StringValue: '2' },
        },
      },
    ]);
  });

  it('leaves a message to the redrive policy when it cannot be dead-lettered', async () => {
    const failing: DeadLetter = async () => {
      throw new Error('SQS SendMessage failed');
    };
    const { handler } = consumer(logoutJob, { deadLetter: failing });
    const event = sqsEvent(['nope', json(nextauthTarget)]);
    expect(failedIds(await run(handler, event))).toEqual(idsOf(event, 0));
    expect(parsedLogs().find((l) => l.msg === 'job message' && l.result === 'retry')).toMatchObject({
      level: 'error',
      reason: expect.stringMatching(/not JSON/),
    });
  });

  it('the deployed handlers send permanent failures and invalid messages to DLQ_URL at once', async () => {
    const sqs = fakeAws();
    sqs.on('SendMessage').resolves({ MessageId: 'dlq-1' });
    process.env.DLQ_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/authgate-test-expire-all-dlq';
    upstream.script(svixError(403, 'forbidden'));
    const event = sqsEvent([json({ appId: 'app_demo' }), '{}']);
    const res = await (expireAllHandler as unknown as Handler)(event, lambdaContext());
    expect(failedIds(res)).toEqual([]);
    const sent = sqs.commandCalls('SendMessage').map((c) => c.input);
    expect(sent.map((i) => i.QueueUrl)).toEqual([process.env.DLQ_URL, process.env.DLQ_URL]);
    expect(sent.map((i) => i.MessageBody).sort()).toEqual([json({ appId: 'app_demo' }), '{}'].sort());
    expect(sent.every((i) => (i.MessageAttributes?.['authgate.reason']?.StringValue ?? '').length > 0)).toBe(true);
    sqs.restore();
  });

  it('keeps a record for redrive when the DLQ itself cannot be reached', async () => {
    const sqs = fakeAws();
    sqs.on('SendMessage').rejects('ServiceUnavailable');
    const event = sqsEvent(['{}']);
    const res = await (expireAllHandler as unknown as Handler)(event, lambdaContext());
    expect(failedIds(res)).toEqual(idsOf(event, 0));
    sqs.restore();
  });

  it('gives up on a DLQ that does not answer within two attempts of 0.8 s, and keeps the record for redrive', async () => {
    // An SQS endpoint that accepts connections and never answers.
    const received: number[] = [];
    const hanging: Server = createServer(() => received.push(Date.now()));
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
    const overrides = {
      DLQ_URL: `${endpoint}/123456789012/authgate-test-expire-all-dlq`,
      AWS_ENDPOINT_URL_SQS: endpoint,
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'test-secret-access-key',
    };
    const saved = Object.fromEntries(Object.keys(overrides).map((k) => [k, process.env[k]]));
    Object.assign(process.env, overrides);
    try {
      // A fresh container: the deployed handler reads DLQ_URL once and makes its SQS client once.
      vi.resetModules();
      const { setLogSink } = await import('#lib/log');
      setLogSink((line) => logLines.push(line));
      const fresh = (await import('#functions/job-expire-all')).handler as unknown as Handler;
      const event = sqsEvent(['{}']);
      const started = Date.now();
      const res = await fresh(event, lambdaContext({ timeoutMs: 30_000 }));
      const elapsed = Date.now() - started;
      expect(failedIds(res)).toEqual(idsOf(event, 0));
      expect(received).toHaveLength(2); // maxAttempts: 2
      expect(elapsed).toBeGreaterThanOrEqual(1_500); // two request timeouts of 800 ms
      expect(elapsed).toBeLessThan(4_000);
      expect(parsedLogs().find((l) => l.msg === 'job message' && l.result === 'retry')).toMatchObject({
        level: 'error',
        deadLetterError: { name: 'TimeoutError' },
      });
    } finally {
      // Restored one by one: replacing process.env itself would lose Node's string coercion.
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      hanging.closeAllConnections();
      await new Promise((resolve) => hanging.close(resolve));
    }
  });

  it('a message with a permanent and a transient target is retried, not dead-lettered, until the transient one clears', async () => {
    const { handler, deadLettered } = consumer(expireAllJob, { concurrency: 1 });
    const body = json({ targets: [{ appId: 'app_demo' }, { appId: 'app_2' }] });
    const event = sqsEvent([body]);
    upstream.script(svixError(403, 'forbidden'), svixError(429, 'rate_limit_exceeded'));
    expect(failedIds(await run(handler, event))).toEqual(idsOf(event, 0));
    expect(deadLettered).toEqual([]);
    upstream.script(svixError(403, 'forbidden'));
    const again = sqsEvent([body], { messageIds: idsOf(event, 0), receiveCounts: [2] });
    expect(failedIds(await run(handler, again))).toEqual([]);
    expect(deadLettered.map((d) => d.note.failedTargets)).toEqual([[0]]);
  });
});

describe('idempotency', () => {
  const svixTarget = (appId: string, body: Extract<Target, { op: 'svix.expire-all' }>['body'] = {}): Target => ({ op: 'svix.expire-all', appId, body });
  /** The keys the consumer would use for a body: parsed as the consumer parses it. */
  const keysOf = (kind: JobKind, body: string, messageId = 'm-1') => {
    const parsed = parse(kind, { body, messageId });
    if (!parsed.ok) throw new Error(parsed.reason);
    return parsed.targets.map((target, index) => targetIdempotencyKey(parsed.id, index, target));
  };

  it('a redelivered message calls Svix with the same key per target; targets and messages differ', async () => {
    const { handler } = consumer(expireAllJob, { concurrency: 1 });
    const body = json({ targets: [{ appId: 'app_demo' }, { appId: 'app_2' }] });
    const first = sqsEvent([body, body]);
    await run(handler, first);
    const redelivered = sqsEvent([body], { messageIds: idsOf(first, 0), receiveCounts: [2] });
    await run(handler, redelivered);

    const keys = upstream.requests.map((r) => r.headers['idempotency-key']);
    const [m0t0, m0t1, m1t0, m1t1, again0, again1] = keys;
    expect([again0, again1]).toEqual([m0t0, m0t1]);
    expect(new Set([m0t0, m0t1, m1t0, m1t1]).size).toBe(4);
    // The format is pinned: a change would give messages in flight during a deploy new keys.
    const id = first.Records[0]!.messageId;
    const expected = `job_${createHash('sha256')
      .update(json([id, 0, json(['svix.expire-all', 'app_demo', null, null])]))
      .digest('hex')}`;
    expect(m0t0).toBe(expected);
    expect(targetIdempotencyKey(id, 0, svixTarget('app_demo'))).toBe(expected);
  });

  it('an EventBridge event delivered twice (two SQS messages) keeps its key', async () => {
    const { handler } = consumer(expireAllJob);
    const body = eventBridgeBody(DETAIL_TYPES['expire-all'], { appId: 'app_demo' }, { id: 'evt-dup-1' });
    await run(handler, sqsEvent([body]));
    await run(handler, sqsEvent([body]));
    const keys = upstream.requests.map((r) => r.headers['idempotency-key']);
    const key = targetIdempotencyKey('evt-dup-1', 0, svixTarget('app_demo'));
    expect(keys).toEqual([key, key]);
  });

  it('a reused event id with a different body gets keys of its own, so Svix carries it out instead of replaying', async () => {
    const tokenA = await portalToken('reuse-a');
    const tokenB = await portalToken('reuse-b');
    upstream.requests.length = 0;
    const { handler, deadLettered } = consumer(expireAllJob);
    const expire = (sessionId: string) =>
      eventBridgeBody(DETAIL_TYPES['expire-all'], { appId: 'app_demo', sessionIds: [sessionId], expiry: 0 }, { id: 'evt-reused' });
    expect(failedIds(await run(handler, sqsEvent([expire('reuse-a')])))).toEqual([]);
    expect(await tokenValid(tokenA)).toBe(false);
    expect(await tokenValid(tokenB)).toBe(true);
    expect(failedIds(await run(handler, sqsEvent([expire('reuse-b')])))).toEqual([]);
    expect(deadLettered).toEqual([]);
    const [first, second] = upstream.requests.filter((r) => r.path.endsWith('/expire-all')).map((r) => r.headers['idempotency-key']);
    expect(first).not.toBe(second);
    // With a key from the id and index alone, Svix would replay the first answer and B would stay logged in.
    expect(await tokenValid(tokenB)).toBe(false);
  });

  it('derives keys from the content, not from how the producer wrote it', () => {
    const eb = (detail: unknown) => eventBridgeBody(DETAIL_TYPES['expire-all'], detail, { id: 'evt-1' });
    const [base] = keysOf('expire-all', eb({ appId: 'app_1', sessionIds: ['a', 'b'], expiry: 0 }));
    // Same request: other key order, other session id order, another SQS message carrying it.
    expect(keysOf('expire-all', eb({ expiry: 0, sessionIds: ['b', 'a'], appId: 'app_1' }), 'm-2')).toEqual([base]);
    expect(keysOf('expire-all', eb({ targets: [{ appId: 'app_1', sessionIds: ['b', 'a'], expiry: 0 }] }))).toEqual([base]);
    // A logout of those sessions is the same Svix call (expire-all, expiry 0).
    expect(keysOf('logout', eventBridgeBody(DETAIL_TYPES.logout, { appId: 'app_1', sessionIds: ['a', 'b'] }, { id: 'evt-1' }))).toEqual([base]);
    // Another request under the same id: another key.
    const others = [
      { appId: 'app_2', sessionIds: ['a', 'b'], expiry: 0 },
      { appId: 'app_1', sessionIds: ['a'], expiry: 0 },
      { appId: 'app_1', sessionIds: ['a', 'b', 'c'], expiry: 0 },
      { appId: 'app_1', sessionIds: ['a', 'b'], expiry: 60 },
      { appId: 'app_1', sessionIds: ['a', 'b'] },
      { appId: 'app_1', expiry: 0 },
    ].map((detail) => keysOf('expire-all', eb(detail))[0]);
    expect(new Set([base, ...others]).size).toBe(others.length + 1);
    // Another id, or another position in the message: another key.
    expect(
      keysOf('expire-all', eventBridgeBody(DETAIL_TYPES['expire-all'], { appId: 'app_1', sessionIds: ['a', 'b'], expiry: 0 }, { id: 'evt-2' })),
    ).not.toEqual([base]);
    const [t0, t1] = keysOf(
      'expire-all',
      eb({
        targets: [
          { appId: 'app_1', sessionIds: ['a', 'b'], expiry: 0 },
          { appId: 'app_1', sessionIds: ['a', 'b'], expiry: 0 },
        ],
      }),
    );
    expect(t0).toBe(base);
    expect(t1).not.toBe(base);
    // Plain SQS messages: keyed by message id and content alike.
    const plain = json({ appId: 'app_1' });
    expect(keysOf('expire-all', plain, 'm-1')).toEqual(keysOf('expire-all', plain, 'm-1'));
    expect(keysOf('expire-all', plain, 'm-1')).not.toEqual(keysOf('expire-all', plain, 'm-2'));
    expect(keysOf('expire-all', plain, 'm-1')).not.toEqual(keysOf('expire-all', json({ appId: 'app_2' }), 'm-1'));
  });
});

describe('outcome classification', () => {
  it.each([
    [undefined, 'done'],
    [new UpstreamResponseError(404, {}), 'permanent'],
    [new ApiError(404, 'not_found', 'nextAuth answered HTTP 404.'), 'permanent'],
    [new UpstreamResponseError(429, {}), 'rate-limited'],
    [new UpstreamResponseError(409, {}), 'transient'],
    [new UpstreamUnavailableError(502, 'x'), 'transient'],
    [new UpstreamUnavailableError(502, 'x', { cause: new UpstreamTransportError('invalid', 'too large') }), 'permanent'],
    [new UpstreamUnavailableError(503, 'x'), 'transient'],
    [new UpstreamUnavailableError(504, 'x'), 'transient'],
    [new TypeError('a bug'), 'transient'],
    [new UpstreamResponseError(400, {}), 'permanent'],
    [new UpstreamResponseError(401, {}), 'permanent'],
    [new ApiError(403, 'forbidden', 'x'), 'permanent'],
    [new UpstreamResponseError(422, {}), 'permanent'],
  ])('%s → %s', (error, kind) => {
    expect(classify(error, 'svix.expire-all').kind).toBe(kind);
    expect(classify(error, 'nextauth.logout').kind).toBe(kind);
  });

  it('a bug in a target is retried and logged as an error, not dead-lettered', async () => {
    const spy = vi.fn(async () => {
      throw new TypeError('cannot read properties of undefined');
    });
    const { handler, deadLettered } = consumer({ kind: 'expire-all', upstream: { expireAll: spy } });
    const event = sqsEvent([json({ appId: 'app_demo' })]);
    expect(failedIds(await run(handler, event))).toEqual(idsOf(event, 0));
    expect(deadLettered).toEqual([]);
    expect(parsedLogs().find((l) => l.msg === 'audit')).toMatchObject({ level: 'error', outcome: 'transient' });
  });
});
