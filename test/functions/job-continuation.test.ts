import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { handler as expireAllHandler, job as expireAllJob } from '#functions/job-expire-all';
import { job as logoutJob } from '#functions/job-logout';
import type { SendMessageInput } from '#lib/aws/sqs';
import { CONTINUATION_ATTRIBUTES, type ContinuationState, continuationAttributes, queueContinuation, readContinuation } from '#lib/jobs/continuation';
import type { DeadLetter, DeadLetterNote } from '#lib/jobs/dead-letter';
import { type JobHandlerOptions, jobHandler } from '#lib/jobs/handler';
import { Pacer } from '#lib/jobs/pacing';
import { parseMessage } from '#lib/jobs/schema';
import { targetIdempotencyKey } from '#lib/jobs/targets';
import { LOCAL_DIRECT_SENDER, lambdaContext, localProvenance, localRuleArn, sqsEvent } from '#local/events';
import { createSvixSandbox } from '#local/sandbox/svix';
import type { SandboxUpstream } from '#local/sandbox/types';
import { fakeAws } from '../support/fake-aws.ts';
import { parsedLogs } from '../support/logs.ts';
import { mockSecrets } from '../support/secrets.ts';
import { useTestUpstream } from '../support/upstream.ts';

/**
 * A busy upstream never dead-letters a healthy message: a record whose targets were refused with
 * 429 (or got no pacing slot in time) goes back to its own queue as a continuation, with its done
 * targets and the upstream's delay, and is reported done. The continuation runs only what is left,
 * under the original sender; attributes nobody can vouch for are claims that change nothing.
 */

// No 12-character word of the logs in it: the scrub cuts any 12-character window of a key (lib/redaction.ts).
const ORG_KEY = 'sk_canary_c0nt1nu4t10n_org_k3y';
mockSecrets({ 'test/svix': ORG_KEY });
/** While set, the upstream refuses app_2's expire-all with 429 and this Retry-After. */
let busyApp2: string | undefined;
const refusingApp2: SandboxUpstream = (req, res) => {
  if (busyApp2 === undefined || !req.url.pathname.includes('/app/app_2/')) return false;
  res.writeHead(429, { 'content-type': 'application/json', 'retry-after': busyApp2 }).end(json({ code: 'rate_limit_exceeded', detail: 'slow down' }));
  return true;
};
const upstream = useTestUpstream(
  () => [refusingApp2, createSvixSandbox({ orgKey: ORG_KEY })],
  (url) => ({
    SVIX_API_URL: url,
    SVIX_SECRET_ID: 'test/svix',
    UPSTREAM_ATTEMPT_TIMEOUT_MS: '400',
    JOB_EVENT_SOURCES: localProvenance('expire-all').eventSources.join(','),
    JOB_RULE_ARN: localRuleArn('expire-all'),
  }),
);

type Handler = (event: SQSEvent, context: ReturnType<typeof lambdaContext>) => Promise<SQSBatchResponse>;
const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/authgate-test-expire-all';
/** The role the job runs as: what SQS records as the SenderId of the continuations it sends. */
const JOB_ROLE_SENDER = 'AROAJOBROLEEXAMPLE:authgate-test-jobExpireAll';
const secret = async () => ORG_KEY;
const json = (value: unknown) => JSON.stringify(value);
afterEach(() => {
  busyApp2 = undefined;
});

/** The real expire-all job, continuing into a recorded queue, dead-lettering into a recorded list. */
function consumer(options: JobHandlerOptions = {}) {
  const sent: SendMessageInput[] = [];
  const deadLettered: DeadLetterNote[] = [];
  const deadLetter: DeadLetter = async (_record, note) => {
    deadLettered.push(note);
  };
  const carryOn = queueContinuation('expire-all', QUEUE_URL, async (input) => sent.push(input), secret);
  const handler = jobHandler(expireAllJob, {
    deadLetter,
    carryOn,
    continuationSecret: secret,
    provenance: localProvenance('expire-all'),
    concurrency: 1,
    // Unpaced, and its own: a Retry-After seen in one test must not hold the next one back.
    pacer: new Pacer({ ratePerSecond: Number.POSITIVE_INFINITY }),
    ...options,
  }) as unknown as Handler;
  return { handler, sent, deadLettered };
}
const run = (handler: Handler, event: SQSEvent, timeoutMs = 10_000) => handler(event, lambdaContext({ functionName: 'job', timeoutMs }));
/** The continuation as SQS would deliver it: a new message id, sent by the job's role, with its attributes. */
const delivered = (input: SendMessageInput) => sqsEvent([input.MessageBody], { senderIds: [JOB_ROLE_SENDER], messageAttributes: [input.MessageAttributes] });
const expireAllCalls = () => upstream.requests.filter((r) => r.path.endsWith('/expire-all'));
const auditsOf = (messageId: string) => parsedLogs().filter((l) => l.msg === 'audit' && l.messageId === messageId);

const body = json({ targets: [{ appId: 'app_demo' }, { appId: 'app_2' }] });

describe('a rate-limited record is continued, not retried', () => {
  it('goes back to its own queue with its done targets and the upstream delay, and is deleted', async () => {
    const { handler, sent, deadLettered } = consumer();
    busyApp2 = '7';
    const event = sqsEvent([body]);
    const res = await run(handler, event);

    expect(res.batchItemFailures).toEqual([]);
    expect(deadLettered).toEqual([]);
    expect(sent).toHaveLength(1);
    const [input] = sent;
    expect(input).toMatchObject({ QueueUrl: QUEUE_URL, MessageBody: body, DelaySeconds: 7 });
    const a = CONTINUATION_ATTRIBUTES;
    expect(input?.MessageAttributes[a.done]?.StringValue).toBe('0');
    expect(input?.MessageAttributes[a.deferrals]?.StringValue).toBe('1');
    expect(input?.MessageAttributes[a.sender]?.StringValue).toBe(LOCAL_DIRECT_SENDER);
    expect(input?.MessageAttributes[a.originalId]?.StringValue).toBe(event.Records[0]?.messageId);
    expect(parsedLogs().find((l) => l.msg === 'job message')).toMatchObject({ result: 'deferred', deferrals: 1, delaySeconds: 7 });
    expect(parsedLogs().find((l) => l.msg === 'job summary')).toMatchObject({ deferred: 1, retried: 0, targetsRateLimited: 1, targetsDone: 1 });
  });

  it('the continuation runs only what is left, with the original idempotency keys, in the name of the original sender', async () => {
    const { handler, sent } = consumer();
    busyApp2 = '3';
    const original = sqsEvent([body]);
    await run(handler, original);
    const calledBefore = expireAllCalls().length;
    busyApp2 = undefined;

    const continued = delivered(sent[0]!);
    const res = await run(handler, continued);
    expect(res.batchItemFailures).toEqual([]);
    expect(sent).toHaveLength(1);
    // Target 0 was done: only target 1 is called again, under the key the first delivery used.
    const calls = expireAllCalls().slice(calledBefore);
    expect(calls.map((c) => c.path)).toEqual(['/api/v1/auth/app/app_2/expire-all']);
    const parsed = parseMessage('expire-all', original.Records[0]!, localProvenance('expire-all'));
    if (!parsed.ok) throw new Error('the test message must parse');
    expect(calls[0]?.headers['idempotency-key']).toBe(targetIdempotencyKey(original.Records[0]!.messageId, 1, parsed.targets[1]!));
    const audit = auditsOf(continued.Records[0]!.messageId);
    expect(audit.map((r) => r.targetIndex)).toEqual([1]);
    expect(audit[0]).toMatchObject({ outcome: 'done', caller: { id: `sqs:${LOCAL_DIRECT_SENDER}`, sender: LOCAL_DIRECT_SENDER } });
    expect(parsedLogs().find((l) => l.msg === 'job message' && l.messageId === continued.Records[0]!.messageId)).toMatchObject({
      result: 'done',
      continuation: { verified: true, deferrals: 1 },
    });
  });

  it('forged attributes are claims: every target runs, under the real sender, with the claimed one named as such', async () => {
    const { handler } = consumer();
    const state: ContinuationState = { done: [0, 1], deferrals: 3, firstReceivedAt: 0, sender: 'AIDAVICTIMEXAMPLE', originalId: 'm-victim' };
    // Signed with another key (a guess), and a genuine signature moved to another body: neither verifies.
    const guessed = await continuationAttributes('expire-all', body, state, async () => 'a guess');
    const genuineElsewhere = await continuationAttributes('expire-all', json({ appId: 'app_demo' }), state, secret);
    for (const attributes of [guessed, genuineElsewhere]) {
      const before = expireAllCalls().length;
      const event = sqsEvent([body], { senderIds: ['AIDAFORGEREXAMPLE'], messageAttributes: [attributes] });
      const res = await run(handler, event);
      expect(res.batchItemFailures).toEqual([]);
      expect(expireAllCalls().length - before).toBe(2);
      const audit = auditsOf(event.Records[0]!.messageId);
      expect(audit).toHaveLength(2);
      for (const record of audit) {
        expect(record.caller).toEqual({ id: 'sqs:AIDAFORGEREXAMPLE', sender: 'AIDAFORGEREXAMPLE', claimedSender: 'AIDAVICTIMEXAMPLE' });
      }
      expect(parsedLogs().find((l) => l.msg === 'job message' && l.messageId === event.Records[0]!.messageId)).toMatchObject({
        continuation: { verified: false },
      });
    }
  });

  it('a message deferred for longer than the bound is dead-lettered with the reason', async () => {
    const { handler, sent, deadLettered } = consumer({ maxDeferralMs: 3_600_000 });
    const state: ContinuationState = { done: [0], deferrals: 40, firstReceivedAt: Date.now() - 2 * 3_600_000, sender: LOCAL_DIRECT_SENDER, originalId: 'm-1' };
    const attributes = await continuationAttributes('expire-all', body, state, secret);
    busyApp2 = '30';
    const res = await run(handler, sqsEvent([body], { senderIds: [JOB_ROLE_SENDER], messageAttributes: [attributes] }));
    expect(res.batchItemFailures).toEqual([]);
    expect(sent).toEqual([]);
    expect(deadLettered).toEqual([
      { job: 'expire-all', reason: expect.stringMatching(/^upstream rate-limited for 2\.0 h: target 1: 429/), failedTargets: [1] },
    ]);
  });

  it('falls back to SQS redelivery when the continuation cannot be sent', async () => {
    const { handler } = consumer({
      carryOn: async () => {
        throw new Error('SQS SendMessage failed');
      },
    });
    busyApp2 = '3';
    const event = sqsEvent([body]);
    const res = await run(handler, event);
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: event.Records[0]!.messageId }]);
    expect(parsedLogs().find((l) => l.msg === 'job message')).toMatchObject({ level: 'error', result: 'retry' });
  });

  it('pacing: targets with no slot before the deadline are deferred by the estimate, never sent over the share', async () => {
    const pacer = new Pacer({ ratePerSecond: 1 });
    const { handler, sent } = consumer({ pacer, startMarginMs: 1_000, finishMarginMs: 500 });
    const many = json({ targets: ['app_demo', 'app_2', 'app_demo', 'app_2', 'app_demo'].map((appId, i) => ({ appId, expiry: i })) });
    const before = expireAllCalls().length;
    // 3 s of Lambda time: 1.5 s to start calls in, at one per second.
    const res = await run(handler, sqsEvent([many]), 3_000);
    expect(res.batchItemFailures).toEqual([]);
    const called = expireAllCalls().length - before;
    expect(called).toBeGreaterThanOrEqual(1);
    expect(called).toBeLessThanOrEqual(2);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.MessageAttributes[CONTINUATION_ATTRIBUTES.done]?.StringValue.split(',')).toHaveLength(called);
    expect(sent[0]?.DelaySeconds).toBeGreaterThanOrEqual(1);
  });
});

describe('the deployed handler', () => {
  it('continues on JOB_QUEUE_URL through the same SendMessage as the dead-letter copy', async () => {
    const sqs = fakeAws();
    sqs.on('SendMessage').resolves({ MessageId: 'continued-1' });
    process.env.JOB_QUEUE_URL = QUEUE_URL;
    try {
      busyApp2 = '5';
      const event = sqsEvent([body]);
      const res = await (expireAllHandler as unknown as Handler)(event, lambdaContext());
      expect(res.batchItemFailures).toEqual([]);
      const [input, ...more] = sqs.commandCalls('SendMessage').map((c) => c.input);
      expect(more).toEqual([]);
      expect(input).toMatchObject({ QueueUrl: QUEUE_URL, MessageBody: body, DelaySeconds: 5 });
      expect(input?.MessageAttributes?.[CONTINUATION_ATTRIBUTES.mac]?.StringValue).toMatch(/^[\w-]{43}$/);
    } finally {
      delete process.env.JOB_QUEUE_URL;
    }
  });

  it('continues each job kind under its own kind, however many jobs one process runs', async () => {
    const sqs = fakeAws();
    sqs.on('SendMessage').resolves({ MessageId: 'continued-1' });
    process.env.JOB_QUEUE_URL = QUEUE_URL;
    try {
      const sentBefore = sqs.commandCalls('SendMessage').length;
      busyApp2 = '5';
      // Both jobs with the deployed defaults (continuations on JOB_QUEUE_URL), each with a pacer of its own.
      const handlerOf = (job: typeof logoutJob) => jobHandler(job, { pacer: new Pacer({ ratePerSecond: Number.POSITIVE_INFINITY }) }) as unknown as Handler;
      await handlerOf(expireAllJob)(sqsEvent([body]), lambdaContext());
      // The logout job's Svix target on the same busy app.
      const logoutBody = json({ appId: 'app_2', sessionIds: ['s1'] });
      await handlerOf(logoutJob)(sqsEvent([logoutBody]), lambdaContext());
      const inputs = sqs
        .commandCalls('SendMessage')
        .slice(sentBefore)
        .map((c) => c.input as unknown as SendMessageInput);
      expect(inputs.map((i) => i.MessageBody)).toEqual([body, logoutBody]);
      const [expireAllContinued, logoutContinued] = inputs.map((i) => delivered(i).Records[0]!);
      expect(await readContinuation('expire-all', expireAllContinued!, secret)).toMatchObject({ verified: true });
      expect(await readContinuation('logout', logoutContinued!, secret)).toMatchObject({ verified: true });
    } finally {
      delete process.env.JOB_QUEUE_URL;
    }
  });
});
