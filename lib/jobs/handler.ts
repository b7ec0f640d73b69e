import middy, { type MiddlewareObj } from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { AwsCallLimits } from '../aws/call.ts';
import { sendMessage } from '../aws/sqs.ts';
import { DLQ_URL, JOB_CONCURRENCY, JOB_EVENT_SOURCES, JOB_RULE_ARN, setting } from '../config.ts';
import { log } from '../log.ts';
import { type DeadLetter, queueDeadLetter, redriveOnly } from './dead-letter.ts';
import { type RunnerOptions, runBatch } from './runner.ts';
import type { Provenance } from './schema.ts';
import { type JobDefinition, jobOperation } from './targets.ts';

/**
 * The middy adapter of a job consumer: an SQS event in, `SQSBatchResponse` out (the event source
 * mapping has `functionResponseType: ReportBatchItemFailures`). All the logic is `runBatch`.
 */

export interface JobHandlerOptions extends Partial<Omit<RunnerOptions, 'deadLetter' | 'provenance'>> {
  /** What events are accepted from. Default: JOB_EVENT_SOURCES and JOB_RULE_ARN. */
  provenance?: Provenance;
  /**
   * Where permanent failures and invalid messages go. Default: the queue at DLQ_URL (sent at once,
   * no pointless retries); without DLQ_URL, `redriveOnly`: retried until the redrive policy moves them.
   */
  deadLetter?: DeadLetter;
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
  const deadLetter = url ? queueDeadLetter(url, (input) => sendMessage(input, DLQ_CALL_LIMITS)) : redriveOnly;
  deadLetterFor = { url, deadLetter };
  return deadLetter;
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
    .handler(async (event, context) => {
      const runner: RunnerOptions = {
        concurrency: options.concurrency ?? setting(JOB_CONCURRENCY),
        startMarginMs: options.startMarginMs ?? JOB_DEFAULTS.startMarginMs,
        finishMarginMs: options.finishMarginMs ?? JOB_DEFAULTS.finishMarginMs,
        ...(options.targetBudgetMs === undefined ? {} : { targetBudgetMs: options.targetBudgetMs }),
        deadLetter: options.deadLetter ?? envDeadLetter(),
        // Read before any record: a function without them fails the batch with the variable's name.
        provenance: options.provenance ?? { eventSources: setting(JOB_EVENT_SOURCES), ruleArn: setting(JOB_RULE_ARN) },
      };
      return (await runBatch(job, event.Records, context, runner)).response;
    });
}
