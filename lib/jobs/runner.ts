import type { Context, SQSBatchItemFailure, SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { type AuditRecord, writeAudit } from '../audit.ts';
import type { KeyedCallContext } from '../call-context.ts';
import { type Caller, jobCaller } from '../caller.ts';
import { deadlineFromContext, deadlineIn, earliest } from '../deadline.ts';
import { bounded } from '../digest.ts';
import { log } from '../log.ts';
import { publishMetrics, recordJobBatch } from '../metrics.ts';
import { type ContinuationSecret, type ContinuationState, type Continue, clampDelaySeconds, readContinuation } from './continuation.ts';
import type { DeadLetter } from './dead-letter.ts';
import { classify, type TargetOutcome } from './outcome.ts';
import type { Pacer } from './pacing.ts';
import { type MessageOrigin, type Provenance, parseMessage, type Target } from './schema.ts';
import { auditTarget, credentialOf, executeTarget, type JobDefinition, jobOperation, targetIdempotencyKey } from './targets.ts';

/**
 * Runs one SQS batch of a job and says which records SQS must deliver again
 * (`ReportBatchItemFailures`). Never throws for a record: every record ends `done` (deleted),
 * `retry` (in `batchItemFailures`) or `dead-lettered` (copied to the DLQ with its reason, then
 * deleted).
 *
 * - Targets of all records share one bound of upstream calls in flight (`concurrency`), started in
 *   record order, so a batch of ten one-target messages runs ten-wide at most and a message of a
 *   hundred targets cannot hog the upstream.
 * - A target is started only while at least `startMarginMs` is left before the upstream deadline
 *   (the Lambda's remaining time less `finishMarginMs`); the rest are `not-started`, and their
 *   records are retried rather than cut off by the Lambda timeout.
 * - Each started target has a deadline of its own, `min(batch deadline, TARGET_BUDGET_MS)`, so one
 *   target honouring a long `Retry-After` (or a slow upstream) cannot hold a slot for the rest of
 *   the invocation and leave the others not started: a wait longer than its budget is not begun
 *   (lib/upstream/retry.ts), the target is transient, and SQS redelivery does the waiting.
 * - A record with any transient target is retried whole: its done targets replay harmlessly
 *   (Svix idempotency keys, idempotent nextAuth logout).
 * - Upstream calls wait for their credential's slot (`pacer`, pacing.ts), so the jobs keep to their
 *   share of the upstream's rate limit; a target waiting for its slot holds none of the calls in
 *   flight, so one credential's pace (or its 429) never holds up another's targets. A target the
 *   upstream refused with 429, or that could not get a slot before the deadline, is
 *   `rate-limited`: when that (or `not-started`) is all that is left of a record, the record is
 *   *continued* (continuation.ts): sent again to its own queue with its done targets, to come back when the upstream said, and reported done. Being busy
 *   so never counts toward the redrive policy's receives; a record deferred for longer than
 *   `maxDeferralMs` is dead-lettered with that reason. Should the continuation fail to send, the
 *   record is retried by SQS as before: slower, nothing lost.
 */

/** The most one target may take, retries and waits included (8 s: a few attempts, never a long Retry-After). */
export const TARGET_BUDGET_MS = 8_000;

/** How long a message may keep being deferred for a busy upstream before it is dead-lettered (JOB_MAX_DEFERRAL_HOURS). */
export const MAX_DEFERRAL_MS = 24 * 3_600_000;

export interface RunnerOptions {
  /** Upstream calls in flight at once, across the batch. */
  concurrency: number;
  /** A target is not started with less than this left for upstream work. */
  startMarginMs: number;
  /** Kept back from the Lambda's remaining time for dead-lettering and answering. */
  finishMarginMs: number;
  /** The most one target may take (default `TARGET_BUDGET_MS`). */
  targetBudgetMs?: number;
  deadLetter: DeadLetter;
  /** What events are accepted from (schema.ts). Default: nothing, so every event is refused. */
  provenance?: Provenance;
  /** Paces upstream calls per credential (pacing.ts). Absent: unpaced. */
  pacer?: Pacer;
  /** Sends a record's continuation (continuation.ts). Absent: rate-limited records are retried by SQS. */
  carryOn?: Continue;
  /** What continuation attributes are verified with. Absent: none is trusted. */
  continuationSecret?: ContinuationSecret;
  /** How long a message may be deferred, from its first receipt (default `MAX_DEFERRAL_MS`). */
  maxDeferralMs?: number;
}

export interface TargetReport {
  index: number;
  outcome: TargetOutcome['kind'];
  /** Done on an earlier delivery (a verified continuation said so): not called again. */
  before?: true;
  status?: number;
  reason?: string;
}

export interface MessageReport {
  messageId: string;
  via: 'sqs' | 'eventbridge';
  result: 'done' | 'retry' | 'dead-lettered' | 'deferred';
  reason?: string;
  targets: TargetReport[];
  /** For a deferred record: its continuation's state and delay. */
  continuation?: { state: ContinuationState; delaySeconds: number };
}

export interface BatchCounts {
  messages: number;
  done: number;
  retried: number;
  deadLettered: number;
  /** Records continued for a busy upstream (continuation.ts). */
  deferred: number;
  targetsDone: number;
  targetsRateLimited: number;
  targetsTransient: number;
  targetsPermanent: number;
  targetsNotStarted: number;
}

export interface BatchReport {
  response: SQSBatchResponse;
  messages: MessageReport[];
  counts: BatchCounts;
}

/** A FIFO bound on concurrent holders: resolves, once one of `max` slots is free, with its release. */
function slots(max: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (): Promise<() => void> => {
    while (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    return () => {
      active--;
      waiting.shift()?.();
    };
  };
}

const receiveCount = (record: SQSRecord) => Number(record.attributes?.ApproximateReceiveCount ?? 1);

/**
 * @example
 * const { response } = await runBatch(job, event.Records, context, { concurrency: 8, startMarginMs: 2_000, finishMarginMs: 1_000, deadLetter });
 */
export async function runBatch(
  job: JobDefinition,
  records: SQSRecord[],
  context: Pick<Context, 'getRemainingTimeInMillis'>,
  options: RunnerOptions,
): Promise<BatchReport> {
  const started = Date.now();
  const callSlot = slots(options.concurrency);
  /** One queue per credential: its targets take their pacing slots one at a time, in record order. */
  const turns = new Map<string, () => Promise<() => void>>();
  const turnOf = (credential: string) => {
    let turn = turns.get(credential);
    if (!turn) {
      turn = slots(1);
      turns.set(credential, turn);
    }
    return turn();
  };
  const deadline = deadlineFromContext(context, options.finishMarginMs);

  const provenance = options.provenance ?? { eventSources: [] };
  /** Who sent it, as SQS says (never as the body says), with what the body claims named as claims. */
  const requester = (record: SQSRecord, origin: MessageOrigin) => jobCaller(record.attributes?.SenderId, origin);

  /** Undefined while there is time left to start a target; else its `not-started` outcome, audited. */
  const tooLate = (audit: AuditRecord): TargetOutcome | undefined => {
    if (deadline.remainingMs() >= options.startMarginMs) return undefined;
    const outcome: TargetOutcome = { kind: 'not-started', reason: 'too little time left in this invocation' };
    writeAudit({ ...audit, outcome: outcome.kind, reason: outcome.reason }, 'warn');
    return outcome;
  };

  const runTarget = async (record: SQSRecord, caller: Caller, id: string, target: Target, index: number): Promise<TargetOutcome> => {
    let release = await callSlot();
    // The per-target record of the audit trail (audit.ts); the upstream client adds its status and attempts.
    const audit: AuditRecord = {
      operation: jobOperation(job.kind),
      caller,
      target: auditTarget(target),
      messageId: record.messageId,
      targetIndex: index,
      requestId: (context as Partial<Context>).awsRequestId,
      startedAt: Date.now(),
    };
    const credential = credentialOf(target);
    /** Takes the credential's next slot, waiting for it; the `rate-limited` outcome when none comes in time. */
    const reserve = async (pacer: Pacer): Promise<TargetOutcome | undefined> => {
      // Waiting for the credential's slot happens before the target's own clock starts.
      const slot = await pacer.acquire(credential, Date.now() + deadline.remainingMs() - options.startMarginMs);
      if (slot.ok) return undefined;
      const outcome: TargetOutcome = {
        kind: 'rate-limited',
        reason: `no ${credential.split(':')[0]} slot left in this invocation's share of the rate`,
        retryAfterMs: slot.retryAfterMs,
      };
      writeAudit({ ...audit, outcome: outcome.kind, reason: outcome.reason }, 'info');
      return outcome;
    };
    const pacer = options.pacer;
    try {
      if (!pacer) return tooLate(audit) ?? (await execute());
      for (;;) {
        const late = tooLate(audit);
        if (late) return late;
        if (pacer.waitMs(credential) === 0) return (await reserve(pacer)) ?? (await execute());
        // Its credential's next slot is ahead: waited for in that credential's own queue, holding
        // no call slot, so that one credential's pace or 429 never holds up another's targets (a
        // logout job's nextAuth servers, each with its own key). The queue is left only once a call
        // slot is held again, so no slot is reserved before its call can start: never a burst.
        release();
        release = () => {};
        const endTurn = await turnOf(credential);
        // The credential's 429s at its reservation: one queued behind a 429 reserves past it already.
        const refusals = pacer.refusals(credential);
        try {
          const refused = await reserve(pacer);
          if (refused) return refused;
          release = await callSlot();
        } finally {
          endTurn();
        }
        // A 429 of the credential since its reservation (while it waited for its slot or the call
        // slot): its slot was given at a rate the upstream has refused since, so it takes a new one
        // (past the Retry-After).
        if (pacer.refusals(credential) === refusals) return tooLate(audit) ?? (await execute());
      }
    } finally {
      release();
    }

    /** Calls the target's upstream, holding a call slot, and classifies and audits what came of it. */
    async function execute(): Promise<TargetOutcome> {
      let error: unknown;
      try {
        // Its own clock starts now, when it holds a slot, not when the batch began.
        // The target's own context: its deadline, its audit record (the upstream client adds its
        // status, attempts and time) and its idempotency key (lib/call-context.ts).
        const call: KeyedCallContext = {
          deadline: earliest(deadline, deadlineIn(options.targetBudgetMs ?? TARGET_BUDGET_MS)),
          audit,
          idempotencyKey: targetIdempotencyKey(id, index, target),
          // Every 429 to the pacer (it halves the rate) and the continuation (it waits in the queue).
          waitOutRateLimits: false,
        };
        await executeTarget(job, target, call);
      } catch (err) {
        error = err;
      }
      const outcome = classify(error, target.op);
      if (outcome.kind === 'rate-limited') options.pacer?.rateLimited(credential, outcome.retryAfterMs);
      const line: AuditRecord = { ...audit, outcome: outcome.kind, ...('status' in outcome ? { status: outcome.status } : {}) };
      if (outcome.kind === 'done') writeAudit(line, 'info');
      else if (outcome.kind === 'transient' && outcome.status === undefined) writeAudit({ ...line, reason: outcome.reason, error }, 'error');
      else writeAudit({ ...line, reason: 'reason' in outcome ? outcome.reason : undefined }, 'warn');
      return outcome;
    }
  };

  const sendToDeadLetter = async (record: SQSRecord, report: Omit<MessageReport, 'result'>, failedTargets: number[]): Promise<MessageReport> => {
    try {
      await options.deadLetter(record, { job: job.kind, reason: report.reason ?? 'unknown', failedTargets });
      log.warn('job message', {
        messageId: record.messageId,
        via: report.via,
        receiveCount: receiveCount(record),
        result: 'dead-lettered',
        reason: report.reason,
      });
      return { ...report, result: 'dead-lettered' };
    } catch (err) {
      // Left to SQS: retried, and moved to the same DLQ by the redrive policy after maxReceiveCount.
      log.error('job message', {
        messageId: record.messageId,
        via: report.via,
        receiveCount: receiveCount(record),
        result: 'retry',
        reason: report.reason,
        deadLetterError: err,
      });
      return { ...report, result: 'retry' };
    }
  };

  const runRecord = async (record: SQSRecord): Promise<MessageReport> => {
    const message = parseMessage(job.kind, record, provenance);
    if (!message.ok) {
      const reason = `invalid message: ${message.reason}`;
      // The trail names who sent what was refused, as it names who asked for what was done.
      writeAudit(
        { operation: jobOperation(job.kind), caller: requester(record, message), target: {}, messageId: record.messageId, outcome: 'refused', reason },
        'warn',
      );
      return sendToDeadLetter(record, { messageId: record.messageId, via: message.via, reason, targets: [] }, []);
    }
    // A continuation's attributes, when ours, name the original sender and the targets already done.
    const continued = await readContinuation(job.kind, record, options.continuationSecret);
    const earlier = continued?.verified ? continued.state : undefined;
    const caller: Caller = earlier
      ? jobCaller(earlier.sender, message)
      : {
          ...requester(record, message),
          ...(continued && !continued.verified && continued.claimed.sender ? { claimedSender: bounded(continued.claimed.sender) } : {}),
        };
    const id = earlier ? earlier.originalId : message.id;
    const doneBefore = new Set(earlier?.done ?? []);
    const outcomes = await Promise.all(
      message.targets.map((target, index) =>
        doneBefore.has(index) ? Promise.resolve<TargetOutcome | 'before'>('before') : runTarget(record, caller, id, target, index),
      ),
    );
    const targets: TargetReport[] = outcomes.map((o, index) =>
      o === 'before'
        ? { index, outcome: 'done', before: true }
        : {
            index,
            outcome: o.kind,
            ...('status' in o && o.status !== undefined ? { status: o.status } : {}),
            ...('reason' in o ? { reason: o.reason } : {}),
          },
    );
    const base = { messageId: record.messageId, via: message.via, targets };
    const note = {
      messageId: record.messageId,
      via: message.via,
      receiveCount: receiveCount(record),
      ...(continued
        ? { continuation: { verified: continued.verified, deferrals: continued.verified ? continued.state.deferrals : continued.claimed.deferrals } }
        : {}),
    };
    const summarise = (kinds: string[]) =>
      targets
        .filter((t) => kinds.includes(t.outcome))
        .slice(0, 5)
        .map((t) => `target ${t.index}: ${t.reason}`)
        .join('; ');

    // A real failure keeps SQS's redelivery and its receive count: the redrive policy bounds it.
    if (targets.some((t) => t.outcome === 'transient') || (!options.carryOn && targets.some((t) => t.outcome === 'not-started'))) {
      const reason = summarise(['transient', 'not-started', 'rate-limited']);
      log.warn('job message', { ...note, result: 'retry', reason });
      return { ...base, result: 'retry', reason };
    }
    // Busy, not broken: the upstream's 429s, no pacing slot, or this invocation's time running out
    // (not-started) are deferred, never counted as receives.
    const limited = outcomes.filter(
      (o): o is Extract<TargetOutcome, { kind: 'rate-limited' | 'not-started' }> => o !== 'before' && (o.kind === 'rate-limited' || o.kind === 'not-started'),
    );
    if (limited.length) {
      const reason = summarise(['rate-limited', 'not-started']);
      const now = Date.now();
      const firstReceivedAt = earlier?.firstReceivedAt ?? Number(record.attributes?.ApproximateFirstReceiveTimestamp ?? now);
      if (now - firstReceivedAt >= (options.maxDeferralMs ?? MAX_DEFERRAL_MS)) {
        const failed = targets.filter((t) => t.outcome === 'rate-limited' || t.outcome === 'not-started').map((t) => t.index);
        const hours = (now - firstReceivedAt) / 3_600_000;
        return sendToDeadLetter(record, { ...base, reason: `upstream rate-limited for ${hours.toFixed(1)} h: ${reason}` }, failed);
      }
      if (!options.carryOn) {
        log.warn('job message', { ...note, result: 'retry', reason });
        return { ...base, result: 'retry', reason };
      }
      // The original sender: the verified continuation's, or SQS's for a first delivery.
      const sender = earlier ? earlier.sender : record.attributes?.SenderId;
      const state: ContinuationState = {
        done: targets.filter((t) => t.outcome === 'done').map((t) => t.index),
        deferrals: (earlier?.deferrals ?? 0) + 1,
        firstReceivedAt,
        ...(sender === undefined ? {} : { sender }),
        originalId: id,
      };
      // When the upstream said to come back (the longest of its answers), or when our pacing expects a slot.
      const delaySeconds = clampDelaySeconds(Math.max(0, ...limited.map((o) => ('retryAfterMs' in o ? (o.retryAfterMs ?? 0) : 0))) / 1000);
      try {
        await options.carryOn(record, state, delaySeconds);
      } catch (err) {
        // Left to SQS, as before continuations: retried after the visibility timeout.
        log.error('job message', { ...note, result: 'retry', reason, continuationError: err });
        return { ...base, result: 'retry', reason };
      }
      log.info('job message', {
        ...note,
        result: 'deferred',
        reason,
        originalMessageId: id,
        deferrals: state.deferrals,
        delaySeconds,
        doneTargets: state.done.length,
      });
      return { ...base, result: 'deferred', reason, continuation: { state, delaySeconds } };
    }
    const failed = targets.filter((t) => t.outcome === 'permanent').map((t) => t.index);
    if (failed.length) return sendToDeadLetter(record, { ...base, reason: summarise(['permanent']) }, failed);
    log.info('job message', { ...note, result: 'done' });
    return { ...base, result: 'done' };
  };

  const messages = await Promise.all(records.map(runRecord));
  const batchItemFailures: SQSBatchItemFailure[] = messages.filter((m) => m.result === 'retry').map((m) => ({ itemIdentifier: m.messageId }));

  const all = messages.flatMap((m) => m.targets);
  const count = (kind: TargetReport['outcome']) => all.filter((t) => t.outcome === kind && !t.before).length;
  const counts: BatchCounts = {
    messages: messages.length,
    done: messages.filter((m) => m.result === 'done').length,
    retried: batchItemFailures.length,
    deadLettered: messages.filter((m) => m.result === 'dead-lettered').length,
    deferred: messages.filter((m) => m.result === 'deferred').length,
    targetsDone: count('done'),
    targetsRateLimited: count('rate-limited'),
    targetsTransient: count('transient'),
    targetsPermanent: count('permanent'),
    targetsNotStarted: count('not-started'),
  };
  log.info('job summary', { job: job.kind, ...counts, concurrency: options.concurrency, durationMs: Date.now() - started });
  // The same counts as metrics, with the batch's upstream calls (lib/metrics.ts).
  recordJobBatch(jobOperation(job.kind), { ...counts });
  publishMetrics();
  return { response: { batchItemFailures }, messages, counts };
}
