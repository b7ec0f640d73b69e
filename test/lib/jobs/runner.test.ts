import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { ApiError } from '#lib/errors';
import type { DeadLetter, DeadLetterNote } from '#lib/jobs/dead-letter';
import { Pacer } from '#lib/jobs/pacing';
import { type RunnerOptions, runBatch } from '#lib/jobs/runner';
import { DETAIL_TYPES } from '#lib/jobs/schema';
import { type JobDefinition, targetIdempotencyKey } from '#lib/jobs/targets';
import { logoutSession } from '#lib/upstream/nextauth';
import { expireAll } from '#lib/upstream/svix';
import { eventBridgeBody, localProvenance, sqsEvent } from '#local/events';
import { frozenContext } from '../../support/context.ts';
import { parsedLogs } from '../../support/logs.ts';
import { useBothSandboxes } from '../../support/upstream.ts';

/**
 * `runBatch` on its own, without the middy adapter (handler.ts): real SQS records carrying
 * EventBridge events, the real upstream clients over HTTP to the sandbox, and each target's call
 * context (its deadline, audit record and idempotency key) followed to the wire and to the trail.
 */

const ORG_KEY = 'sk_canary_runner_org_key';
const NEXTAUTH_KEY = 'canary-runner-nextauth-key';
const SERVER_ID = 'c2VydmVyL3J1bm5lcj4+';
const NONCE = 'nonce-runner-0123456789abcdef';
const upstream = useBothSandboxes(
  { svix: ORG_KEY, nextauth: NEXTAUTH_KEY, serverId: SERVER_ID },
  {
    UPSTREAM_ATTEMPT_TIMEOUT_MS: '400',
  },
);

const expireAllJob: JobDefinition = { kind: 'expire-all', upstream: { expireAll } };
const logoutJob: JobDefinition = { kind: 'logout', upstream: { expireAll, logoutSession } };

/** The options handler.ts would give, with a recording dead letter. */
function options(kind: JobDefinition['kind'], over: Partial<RunnerOptions> = {}) {
  const deadLettered: Array<{ record: SQSRecord; note: DeadLetterNote }> = [];
  const deadLetter: DeadLetter = async (record, note) => {
    deadLettered.push({ record, note });
  };
  const runner: RunnerOptions = { concurrency: 4, startMarginMs: 500, finishMarginMs: 200, deadLetter, provenance: localProvenance(kind), ...over };
  return { runner, deadLettered };
}

const auditLines = () => parsedLogs().filter((line) => line.msg === 'audit');

describe('runBatch: an expire-all event, target by target', () => {
  it('calls Svix once per target with its own key, and writes one audit record per target with its upstream call', async () => {
    const eventId = 'c0ffee00-0000-4000-8000-000000000001';
    const targets = [
      { appId: 'app_demo', sessionIds: ['s1', 's2'] },
      { appId: 'app_2', expiry: 60 },
    ];
    const event = sqsEvent([eventBridgeBody(DETAIL_TYPES['expire-all'], { targets }, { id: eventId })]);
    const { runner } = options('expire-all');

    const report = await runBatch(expireAllJob, event.Records, frozenContext(20_000), runner);

    expect(report.response).toEqual({ batchItemFailures: [] });
    expect(report.messages[0]).toMatchObject({ result: 'done', via: 'eventbridge' });
    const keys = upstream.requests.map((r) => r.headers['idempotency-key']).sort();
    const expected = [
      targetIdempotencyKey(eventId, 0, { op: 'svix.expire-all', appId: 'app_demo', body: { sessionIds: ['s1', 's2'] } }),
      targetIdempotencyKey(eventId, 1, { op: 'svix.expire-all', appId: 'app_2', body: { expiry: 60 } }),
    ].sort();
    expect(keys).toEqual(expected);
    const records = auditLines().sort((a, b) => Number(a.targetIndex) - Number(b.targetIndex));
    expect(records).toHaveLength(2);
    expect(records[0]).toMatchObject({
      operation: 'job.expire-all',
      messageId: event.Records[0]?.messageId,
      targetIndex: 0,
      target: { op: 'svix.expire-all', appId: 'app_demo', sessionIds: ['s1', 's2'] },
      outcome: 'done',
      upstreamStatus: 204,
      attempts: 1,
    });
    expect(records[1]).toMatchObject({ targetIndex: 1, target: { appId: 'app_2', expiry: 60 }, upstreamStatus: 204, attempts: 1 });
  });

  it("keeps each target's record apart when targets run concurrently: a retried one counts its own attempts", async () => {
    upstream.script({ status: 503, body: { code: 'busy', detail: 'once' } });
    const event = sqsEvent([JSON.stringify({ targets: [{ appId: 'app_demo' }, { appId: 'app_2' }] })]);
    const { runner } = options('expire-all');

    await runBatch(expireAllJob, event.Records, frozenContext(20_000), runner);

    const attempts = auditLines().map((line) => line.attempts);
    expect(attempts.sort()).toEqual([1, 2]);
  });

  it('dead-letters a target Svix refuses for good (an unknown app), naming it', async () => {
    const event = sqsEvent([JSON.stringify({ appId: 'app_unknown' })]);
    const { runner, deadLettered } = options('expire-all');

    const report = await runBatch(expireAllJob, event.Records, frozenContext(20_000), runner);

    expect(report.messages[0]).toMatchObject({ result: 'dead-lettered' });
    expect(deadLettered.map((d) => d.note)).toMatchObject([{ job: 'expire-all', failedTargets: [0] }]);
    expect(auditLines()[0]).toMatchObject({ outcome: 'permanent', upstreamStatus: 404 });
  });
});

describe('runBatch: pacing and continuation', () => {
  it('continues a record Svix rate-limited after its Retry-After, halving the pace and sending nothing more meanwhile', async () => {
    upstream.script({ status: 429, body: { code: 'rate_limit_exceeded', detail: 'slow down' }, headers: { 'retry-after': '30' } });
    const pacer = new Pacer({ ratePerSecond: 100 });
    const continued: Array<{ done: number[]; delaySeconds: number }> = [];
    // One target at a time: the first meets the 429, which pushes the org key's next slot past the Retry-After.
    const { runner } = options('expire-all', {
      concurrency: 1,
      pacer,
      carryOn: async (_record, state, delaySeconds) => {
        continued.push({ done: state.done, delaySeconds });
      },
    });
    const event = sqsEvent([JSON.stringify({ targets: [{ appId: 'app_demo' }, { appId: 'app_2' }] })]);

    const report = await runBatch(expireAllJob, event.Records, frozenContext(20_000), runner);

    expect(report.messages[0]).toMatchObject({ result: 'deferred' });
    expect(report.response.batchItemFailures).toEqual([]);
    expect(continued).toEqual([{ done: [], delaySeconds: 30 }]);
    expect(upstream.requests).toHaveLength(1);
    expect(pacer.rateOf('svix')).toBeCloseTo(50, 0);
    expect(auditLines().map((line) => [line.targetIndex, line.outcome, line.upstreamStatus])).toEqual([
      [0, 'rate-limited', 429],
      [1, 'rate-limited', undefined],
    ]);
  });

  it('hands even a 1 s Retry-After to the pacer and the continuation rather than waiting it out in the Lambda', async () => {
    upstream.script({ status: 429, body: { code: 'rate_limit_exceeded', detail: 'slow down' }, headers: { 'retry-after': '1' } });
    const pacer = new Pacer({ ratePerSecond: 100 });
    const continued: number[] = [];
    const { runner } = options('expire-all', {
      concurrency: 1,
      pacer,
      carryOn: async (_record, _state, delaySeconds) => {
        continued.push(delaySeconds);
      },
    });
    const report = await runBatch(expireAllJob, sqsEvent([JSON.stringify({ appId: 'app_demo' })]).Records, frozenContext(20_000), runner);
    expect(report.messages[0]).toMatchObject({ result: 'deferred' });
    expect(upstream.requests).toHaveLength(1);
    expect(continued).toEqual([1]);
    expect(pacer.rateOf('svix')).toBeCloseTo(50, 0);
  });

  it("pays one nextAuth server's 429 with that server's targets only: the other server's start at once", async () => {
    // Two servers, two keys, two schedules (credentialOf). Server A answers its first call 429 with
    // a 2 s Retry-After, which pushes A's next slot 2 s out; B's schedule is untouched.
    const [serverA, serverB] = ['c2VydmVyLUE=', 'c2VydmVyLUI='];
    const started = Date.now();
    const calls: Array<{ serverId: string; atMs: number }> = [];
    const job: JobDefinition = {
      kind: 'logout',
      upstream: {
        expireAll,
        logoutSession: async (serverId) => {
          calls.push({ serverId, atMs: Date.now() - started });
          if (serverId === serverA && calls.length === 1) {
            const busy = new ApiError(429, 'too_many_requests', 'nextAuth answered HTTP 429.');
            busy.headers['retry-after'] = '2';
            throw busy;
          }
        },
      },
    };
    // Two calls in flight: A's targets waiting out its Retry-After must not hold both while B's could run.
    const { runner } = options('logout', { concurrency: 2, pacer: new Pacer({ ratePerSecond: 10 }), carryOn: async () => {} });
    const targets = [serverA, serverA, serverA, serverA, serverB].map((serverid) => ({ serverid, nonce: NONCE }));

    const report = await runBatch(job, sqsEvent([JSON.stringify({ targets })]).Records, frozenContext(20_000), runner);

    expect(report.messages[0]?.targets.map((t) => t.outcome)).toEqual(['rate-limited', 'done', 'done', 'done', 'done']);
    const b = calls.find((c) => c.serverId === serverB);
    expect(b?.atMs).toBeLessThan(1_000);
    // A's own targets waited out its Retry-After, even the one whose slot was reserved before the 429 came.
    expect(calls.filter((c) => c.serverId === serverA).map((c) => c.atMs >= 1_900)).toEqual([false, true, true, true]);
  });

  it('takes a second pacing slot only for a target that reserved its first before a 429, not for one queued behind it', async () => {
    // One server at 5/s (200 ms apart), two calls in flight. Target 0's call answers 429 at 300 ms;
    // by then target 2 holds the slot at 400 ms (stale: given before the cut) and target 3 is still
    // queued, so its first slot already follows the Retry-After and must be its only one.
    const acquired: string[] = [];
    class CountingPacer extends Pacer {
      override acquire(credential: string, latestStart: number) {
        acquired.push(credential);
        return super.acquire(credential, latestStart);
      }
    }
    let first = true;
    const job: JobDefinition = {
      kind: 'logout',
      upstream: {
        expireAll,
        logoutSession: async () => {
          if (!first) return;
          first = false;
          await new Promise((resolve) => setTimeout(resolve, 300));
          const busy = new ApiError(429, 'too_many_requests', 'nextAuth answered HTTP 429.');
          busy.headers['retry-after'] = '1';
          throw busy;
        },
      },
    };
    const { runner } = options('logout', { concurrency: 2, pacer: new CountingPacer({ ratePerSecond: 5 }), carryOn: async () => {} });
    const targets = [0, 1, 2, 3].map(() => ({ serverid: SERVER_ID, nonce: NONCE }));

    const report = await runBatch(job, sqsEvent([JSON.stringify({ targets })]).Records, frozenContext(20_000), runner);

    expect(report.messages[0]?.targets.map((t) => t.outcome)).toEqual(['rate-limited', 'done', 'done', 'done']);
    expect(acquired).toHaveLength(5);
  });

  it('starts no target with too little time left, and leaves the record to SQS without a continuation', async () => {
    const event = sqsEvent([JSON.stringify({ appId: 'app_demo' })]);
    const { runner } = options('expire-all', { startMarginMs: 5_000 });

    const report = await runBatch(expireAllJob, event.Records, frozenContext(3_000), runner);

    expect(upstream.requests).toHaveLength(0);
    expect(report.response.batchItemFailures).toEqual([{ itemIdentifier: event.Records[0]?.messageId }]);
    expect(auditLines()[0]).toMatchObject({ outcome: 'not-started' });
  });
});

describe('runBatch: a logout job', () => {
  it('logs a nextAuth session out with no idempotency key, recording the nonce only as its digest', async () => {
    const event = sqsEvent([eventBridgeBody(DETAIL_TYPES.logout, { targets: [{ serverid: SERVER_ID, nonce: NONCE }] })]);
    const { runner } = options('logout');

    const report = await runBatch(logoutJob, event.Records, frozenContext(20_000), runner);

    expect(report.messages[0]).toMatchObject({ result: 'done' });
    expect(upstream.requests[0]?.path).toBe(`/servers/${encodeURIComponent(SERVER_ID)}/sessions/logout`);
    expect(upstream.requests[0]?.headers['idempotency-key']).toBeUndefined();
    const [line] = auditLines();
    expect(line).toMatchObject({ operation: 'job.logout', target: { op: 'nextauth.logout', serverId: SERVER_ID }, upstreamStatus: 200, attempts: 1 });
    expect(JSON.stringify(line)).not.toContain(NONCE);
  });

  it('refuses an event from a source the job does not accept, dead-lettering it unread', async () => {
    const event = sqsEvent([eventBridgeBody(DETAIL_TYPES.logout, { targets: [{ serverid: SERVER_ID, nonce: NONCE }] }, { source: 'someone.else' })]);
    const { runner, deadLettered } = options('logout');

    const report = await runBatch(logoutJob, event.Records, frozenContext(20_000), runner);

    expect(report.messages[0]).toMatchObject({ result: 'dead-lettered' });
    expect(deadLettered).toHaveLength(1);
    expect(upstream.requests).toHaveLength(0);
    expect(auditLines()[0]).toMatchObject({ outcome: 'refused' });
  });
});
