import middy, { type MiddlewareObj } from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { AwsCallLimits } from '../aws/call.ts';
import { type SendMessageInput, sendMessage as sqsSendMessage } from '../aws/sqs.ts';
import {
  DLQ_URL,
  JOB_CONCURRENCY,
  JOB_EVENT_SOURCES,
  JOB_MAX_CONCURRENCY,
  JOB_MAX_DEFERRAL_HOURS,
  JOB_QUEUE_URL,
  JOB_REQUESTS_PER_SECOND,
  JOB_RULE_ARN,
  SVIX_SECRET_ID,
  setting,
} from '../config.ts';
import { log } from '../log.ts';
import { getSecret } from '../secrets.ts';
import { type ContinuationSecret, type Continue, queueContinuation } from './continuation.ts';
import { type DeadLetter, queueDeadLetter, redriveOnly } from './dead-letter.ts';
import { invocationShare, Pacer } from './pacing.ts';
import { type RunnerOptions, runBatch } from './runner.ts';
import type { Provenance } from './schema.ts';
import { type JobDefinition, jobOperation } from './targets.ts';

/**
 * The middy adapter of a job consumer: an SQS event in, `SQSBatchResponse` out (the event source
 * mapping has `functionResponseType: ReportBatchItemFailures`). All the logic is `runBatch`.
 */

export interface JobHandlerOptions extends Partial<Omit<RunnerOptions, 'deadLetter' | 'provenance' | 'carryOn'>> {
  /** What events are accepted from. Default: JOB_EVENT_SOURCES and JOB_RULE_ARN. */
  provenance?: Provenance;
  /**
   * Where permanent failures and invalid messages go. Default: the queue at DLQ_URL (sent at once,
   * no pointless retries); without DLQ_URL, `redriveOnly`: retried until the redrive policy moves them.
   */
  deadLetter?: DeadLetter;
  /**
   * Where a record the upstream was too busy for is continued. Default: the job's own queue at
   * JOB_QUEUE_URL, through the same SendMessage as the DLQ copy; without it, such records are
   * retried by SQS.
   */
  carryOn?: Continue;
}

/**
 * Defaults for a 30 s function: 8 calls in flight, no start with < 2 s left, and 2 s kept back
 * to answer, which covers the DLQ client's worst case (2 attempts of 800 ms) after the last target.
 */
export const JOB_DEFAULTS = { concurrency: 8, startMarginMs: 2_000, finishMarginMs: 2_000 } as const;

/**
 * The DLQ call, bounded: dead-lettering runs in the `finishMarginMs` kept back from the Lambda's
 * time, and an SQS endpoint that hangs must fail (the record is then retried and redriven by the
 * policy) rather than run the function into its timeout. At worst two attempts of 0.8 s each.
 */
export const DLQ_CALL_LIMITS = { maxAttempts: 2, timeoutMs: 800 } satisfies AwsCallLimits;

/** Built once per queue URL (lib/config.ts reads the URL once per container). */
let deadLetterFor: { url: string | undefined; deadLetter: DeadLetter } | undefined;
function envDeadLetter(): DeadLetter {
  const url = setting(DLQ_URL);
  if (deadLetterFor && deadLetterFor.url === url) return deadLetterFor.deadLetter;
  const deadLetter = url ? queueDeadLetter(url, sendMessage) : redriveOnly;
  deadLetterFor = { url, deadLetter };
  return deadLetter;
}

/** SQS SendMessage, bounded as above, for the DLQ copy and for continuations alike. */
const sendMessage = (input: SendMessageInput) => sqsSendMessage(input, DLQ_CALL_LIMITS);

/**
 * What continuation attributes are authenticated with: the Svix secret's value, which both job roles
 * read and no direct sender can (lib/jobs/continuation.ts). Read through the secrets cache.
 */
export const svixSecretValue: ContinuationSecret = () => getSecret(setting(SVIX_SECRET_ID));

/**
 * Built once per job kind and queue URL, like the dead-letter sender. The kind is part of the key:
 * the continuation's MAC covers it, so a sender built for another job's kind would sign what its
 * own job then refuses to trust.
 */
let carryOnFor: { kind: JobDefinition['kind']; url: string | undefined; carryOn: Continue | undefined } | undefined;
function envCarryOn(kind: JobDefinition['kind']): Continue | undefined {
  const url = setting(JOB_QUEUE_URL);
  if (carryOnFor && carryOnFor.kind === kind && carryOnFor.url === url) return carryOnFor.carryOn;
  const carryOn = url ? queueContinuation(kind, url, sendMessage, svixSecretValue) : undefined;
  carryOnFor = { kind, url, carryOn };
  return carryOn;
}

/**
 * One pacer per container, so a rate cut by a 429 carries over to the container's next batch (a
 * container runs one invocation at a time, so this is the invocation's share: pacing.ts).
 */
let pacerFor: { share: number; pacer: Pacer } | undefined;
function envPacer(): Pacer {
  const share = invocationShare(setting(JOB_REQUESTS_PER_SECOND), setting(JOB_MAX_CONCURRENCY));
  if (pacerFor?.share !== share) pacerFor = { share, pacer: new Pacer({ ratePerSecond: share }) };
  return pacerFor.pacer;
}

const invocationLog = (operation: string): MiddlewareObj<SQSEvent, SQSBatchResponse> => ({
  before: ({ context }) => {
    log.setContext({ operation, requestId: context.awsRequestId });
  },
  onError: ({ error }) => {
    // Only a bug gets here (runBatch settles every record); SQS then retries the whole batch.
    log.error('job batch failed', { operation, error });
  },
});

/**
 * @example
 * // functions/job-expire-all.ts
 * export const handler = jobHandler({ kind: 'expire-all', upstream: { expireAll } });
 */
export function jobHandler(job: JobDefinition, options: JobHandlerOptions = {}) {
  return middy<SQSEvent, SQSBatchResponse, Error, Context>()
    .use(invocationLog(jobOperation(job.kind)))
    .handler(async (event, context) => (await runBatch(job, event.Records, context, runnerOptions(job, options))).response);
}

/**
 * What `runBatch` runs a job's batch with: each option given, or what the stage configured. The
 * local job runner (local/run-job.ts) takes the same, with its own queue and dead letters.
 */
export function runnerOptions(job: JobDefinition, options: JobHandlerOptions = {}): RunnerOptions {
  const carryOn = options.carryOn ?? envCarryOn(job.kind);
  return {
    concurrency: options.concurrency ?? setting(JOB_CONCURRENCY),
    startMarginMs: options.startMarginMs ?? JOB_DEFAULTS.startMarginMs,
    finishMarginMs: options.finishMarginMs ?? JOB_DEFAULTS.finishMarginMs,
    ...(options.targetBudgetMs === undefined ? {} : { targetBudgetMs: options.targetBudgetMs }),
    deadLetter: options.deadLetter ?? envDeadLetter(),
    pacer: options.pacer ?? envPacer(),
    maxDeferralMs: options.maxDeferralMs ?? setting(JOB_MAX_DEFERRAL_HOURS) * 3_600_000,
    continuationSecret: options.continuationSecret ?? svixSecretValue,
    ...(carryOn ? { carryOn } : {}),
    // Read before any record: a function without them fails the batch with the variable's name.
    provenance: options.provenance ?? { eventSources: setting(JOB_EVENT_SOURCES), ruleArn: setting(JOB_RULE_ARN) },
  };
}
