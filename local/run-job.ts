import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { JOB_MAX_CONCURRENCY, JOB_REQUESTS_PER_SECOND, setting } from '#lib/config';
import { queueContinuation, readContinuation } from '#lib/jobs/continuation';
import type { DeadLetterNote } from '#lib/jobs/dead-letter';
import { runnerOptions, svixSecretValue } from '#lib/jobs/handler';
import { invocationShare, Pacer } from '#lib/jobs/pacing';
import { type MessageReport, runBatch } from '#lib/jobs/runner';
import { DETAIL_TYPES, type JobKind } from '#lib/jobs/schema';
import type { JobDefinition } from '#lib/jobs/targets';
import { eventBridgeBody, LOCAL_DIRECT_SENDER, LOCAL_EVENTBRIDGE_SENDER, localProvenance } from './events.ts';
import { PROJECT_ROOT, queueFunctions } from './routes.ts';
import { SimulatedQueue } from './simulated-queue.ts';

/**
 * Runs a job consumer in this process the way AWS runs it, for `npm run job` (job.ts) and the
 * console's Jobs card: the messages go into a simulated queue and event source mapping
 * (simulated-queue.ts: batches of 10, `maximumConcurrency` invocations, visibility timeout and
 * redrive policy as resources/jobs.cjs sets them), and each batch is run by the job's runner with
 * the options the deployed handler reads from the stage (lib/jobs/handler.ts): JOB_CONCURRENCY,
 * JOB_REQUESTS_PER_SECOND shared by JOB_MAX_CONCURRENCY, JOB_MAX_DEFERRAL_HOURS. A record the
 * upstream was too busy for is continued to this queue (lib/jobs/continuation.ts) and delivered
 * again after its delay, until every message is done or dead-lettered, or a bound says stop.
 * Dead-lettering is recorded instead of sent.
 *
 * The runner is called directly rather than through the middy handler, because its report (each
 * record's result and targets) is what a developer wants to see, and the handler answers SQS only.
 */

/** How long a local run waits for deliveries, and how often one message may be delivered. */
export const LOCAL_JOB_BOUNDS = { maxWaitMs: 60_000, maxDeliveries: 10 } as const;

export interface LocalJobOptions {
  /** Wrap each message as our rule delivers an event (a string is sent as it is). */
  eventBridge?: boolean;
  /** Stop once this long has passed, or the next delivery would come after it. */
  maxWaitMs?: number;
  /** Stop once a message still unfinished has been delivered this many times, continuations included. */
  maxDeliveries?: number;
  /** Told of each delivery as soon as its invocation ends. */
  onDelivery?: (delivery: Delivery) => void;
}

/** One record delivered to the consumer, and what became of it. */
export interface Delivery extends MessageReport {
  /** Which of the given messages it is (from 1), whatever delivery of it this is. */
  message: number;
  /** Its how-manyeth delivery (from 1), continuations and redeliveries included. */
  delivery: number;
  /** How it came: the producer's message, SQS's redelivery of it, or a continuation (and whether its attributes verified). */
  arrived: 'first' | 'redelivered' | 'continued (verified)' | 'continued (unverified)';
  receiveCount: number;
  deadLetter?: DeadLetterNote;
}

/** Where a message ended. */
export interface MessageEnd {
  message: number;
  result: 'done' | 'dead-lettered' | 'unfinished';
  /** Unfinished: its last result (`deferred` or `retry`), and when the queue would deliver it next (ms from the stop). */
  last?: MessageReport['result'];
  nextDeliveryInMs?: number;
}

export interface LocalJobResult {
  functionName: string;
  /** Each invocation's share of JOB_REQUESTS_PER_SECOND (Infinity: unpaced). */
  pacing: { requestsPerSecond: number; maxConcurrency: number; perInvocation: number };
  deliveries: Delivery[];
  messages: MessageEnd[];
  counts: { done: number; deadLettered: number; unfinished: number; deliveries: number; continuations: number };
  /** Why the run stopped before every message ended; absent when every one did. */
  stopped?: string;
  /** The lines `npm run job` prints for it, one a delivery, then the summary (describeRun). */
  lines: string[];
}

type SqsLambda = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/**
 * @example
 * const run = await runJobInProcess('expire-all', [{ appId: 'app_demo' }], { onDelivery: (d) => console.log(describeDelivery(d)) });
 */
export async function runJobInProcess(kind: JobKind, messages: unknown[], options: LocalJobOptions = {}): Promise<LocalJobResult> {
  const spec = queueFunctions().find((f) => f.modulePath === `functions/job-${kind}`);
  if (!spec) throw new Error(`serverless.yml declares no SQS function for ${kind}`);
  const { job } = (await import(pathToFileURL(join(PROJECT_ROOT, `${spec.modulePath}.ts`)).href)) as { job: JobDefinition };
  const maxWaitMs = options.maxWaitMs ?? LOCAL_JOB_BOUNDS.maxWaitMs;
  const maxDeliveries = options.maxDeliveries ?? LOCAL_JOB_BOUNDS.maxDeliveries;

  const requestsPerSecond = setting(JOB_REQUESTS_PER_SECOND);
  const maxConcurrency = setting(JOB_MAX_CONCURRENCY);
  const perInvocation = invocationShare(requestsPerSecond, maxConcurrency);
  const queueName = `authgate-local-${kind}`;
  const queue = new SimulatedQueue({ name: queueName, functionName: spec.functionName, maxConcurrency, lambdaTimeoutMs: spec.timeoutSeconds * 1000 });

  /** Which given message each queued message id is (a continuation is a new message of the same one). */
  const messageOf = new Map<string, number>();
  const deliveriesOf = new Map<number, number>();
  const deliveries: Delivery[] = [];
  messages.forEach((m, i) => {
    // As SQS would hold them: our rule's deliveries (wrapped, sent by EventBridge), or plain messages.
    const wrapped = options.eventBridge && typeof m !== 'string';
    const body = typeof m === 'string' ? m : wrapped ? eventBridgeBody(DETAIL_TYPES[kind], m) : JSON.stringify(m);
    messageOf.set(queue.enqueue(body, wrapped ? LOCAL_EVENTBRIDGE_SENDER : LOCAL_DIRECT_SENDER), i + 1);
  });

  // One container each, with its own pacer, as Lambda keeps one per container (lib/jobs/handler.ts).
  const handlerFor = (): SqsLambda => {
    const pacer = new Pacer({ ratePerSecond: perInvocation });
    return async (event, context) => {
      const deadLettered = new Map<string, DeadLetterNote>();
      // The deployed handler's options (lib/jobs/handler.ts), with this run's queue and dead letters.
      const report = await runBatch(
        job,
        event.Records,
        context,
        runnerOptions(job, {
          pacer,
          // Each record's continuation is a new message of the same given message.
          carryOn: (record, state, delaySeconds) =>
            queueContinuation(
              kind,
              `local:${queueName}`,
              async (input) => {
                const sent = await queue.sendMessage(input);
                messageOf.set(sent.MessageId, messageOf.get(record.messageId) ?? 0);
              },
              svixSecretValue,
            )(record, state, delaySeconds),
          deadLetter: async (record, note) => {
            deadLettered.set(record.messageId, note);
          },
          provenance: localProvenance(kind),
        }),
      );
      for (const [i, m] of report.messages.entries()) {
        const record = event.Records[i];
        if (!record) continue;
        const message = messageOf.get(m.messageId) ?? 0;
        deliveriesOf.set(message, (deliveriesOf.get(message) ?? 0) + 1);
        const continued = await readContinuation(kind, record, svixSecretValue);
        const receiveCount = Number(record.attributes.ApproximateReceiveCount);
        const note = deadLettered.get(m.messageId);
        const delivery: Delivery = {
          ...m,
          message,
          delivery: deliveriesOf.get(message) ?? 1,
          arrived: continued ? (continued.verified ? 'continued (verified)' : 'continued (unverified)') : receiveCount > 1 ? 'redelivered' : 'first',
          receiveCount,
          ...(note ? { deadLetter: note } : {}),
        };
        deliveries.push(delivery);
        options.onDelivery?.(delivery);
      }
      return report.response;
    };
  };

  const started = Date.now();
  let stopped: string | undefined;
  await queue.drain(handlerFor, {
    stopWhen: (pending) => {
      stopped = undefined;
      if (Date.now() - started >= maxWaitMs) stopped = `stopped after ${maxWaitMs / 1000} s`;
      else if (pending.some((p) => (deliveriesOf.get(messageOf.get(p.messageId) ?? 0) ?? 0) >= maxDeliveries))
        stopped = `stopped: a message was delivered ${maxDeliveries} times`;
      else if (pending.length > 0 && pending.every((p) => p.visibleAt > started + maxWaitMs))
        stopped = `stopped: the next delivery would come after the ${maxWaitMs / 1000} s bound`;
      return stopped !== undefined;
    },
  });

  const stoppedAt = Date.now();
  const ends: MessageEnd[] = messages.map((_, i) => {
    const message = i + 1;
    const last = deliveries.filter((d) => d.message === message).at(-1);
    const waiting = queue.pending().filter((p) => messageOf.get(p.messageId) === message);
    if (waiting.length === 0 && last?.result === 'dead-lettered') return { message, result: 'dead-lettered' };
    if (waiting.length === 0 && last?.result === 'done') return { message, result: 'done' };
    // Retried until the redrive policy moved it: dead-lettered by the queue.
    if (waiting.length === 0 && last?.result === 'retry') return { message, result: 'dead-lettered', last: 'retry' };
    return {
      message,
      result: 'unfinished',
      ...(last ? { last: last.result } : {}),
      ...(waiting[0] ? { nextDeliveryInMs: Math.max(0, waiting[0].visibleAt - stoppedAt) } : {}),
    };
  });
  const result: Omit<LocalJobResult, 'lines'> = {
    functionName: spec.functionName,
    pacing: { requestsPerSecond, maxConcurrency, perInvocation },
    deliveries,
    messages: ends,
    counts: {
      done: ends.filter((e) => e.result === 'done').length,
      deadLettered: ends.filter((e) => e.result === 'dead-lettered').length,
      unfinished: ends.filter((e) => e.result === 'unfinished').length,
      deliveries: deliveries.length,
      continuations: queue.stats.continuations,
    },
    ...(stopped ? { stopped } : {}),
  };
  return { ...result, lines: describeRun(result) };
}

const seconds = (ms: number) => `${Math.ceil(ms / 1000)} s`;

/**
 * One line for a delivery: `message 1  delivery 2  <id>  continued (verified): done`, or
 * `… deferred 3 s: target 1: 429 …`, as `npm run job` prints it and the console shows it.
 */
export function describeDelivery(d: Delivery): string {
  const how = d.arrived === 'first' ? '' : d.arrived === 'redelivered' ? `redelivered (receive ${d.receiveCount}): ` : `${d.arrived}: `;
  const what =
    d.result === 'deferred'
      ? `deferred ${d.continuation?.delaySeconds ?? '?'} s: ${d.reason ?? ''}`
      : d.result === 'retry'
        ? `retry (SQS delivers it again after the visibility timeout): ${d.reason ?? ''}`
        : d.result === 'dead-lettered'
          ? `dead-lettered: ${d.deadLetter?.reason ?? d.reason ?? ''}`
          : 'done';
  return `message ${d.message}  delivery ${d.delivery}  ${d.messageId}  ${how}${what}`;
}

/** The summary lines after the deliveries: the messages left unfinished, then the counts. */
function describeRun(run: Omit<LocalJobResult, 'lines'>): string[] {
  const lines = run.deliveries.map(describeDelivery);
  for (const end of run.messages) {
    if (end.result === 'unfinished')
      lines.push(
        `message ${end.message}  unfinished (${end.last ?? 'not delivered'})${end.nextDeliveryInMs === undefined ? '' : `, next delivery in ${seconds(end.nextDeliveryInMs)}`}`,
      );
  }
  const { counts } = run;
  lines.push(
    `done ${counts.done}, unfinished ${counts.unfinished}, dead-lettered ${counts.deadLettered} (${counts.deliveries} deliver${counts.deliveries === 1 ? 'y' : 'ies'}, ${counts.continuations} continuation${counts.continuations === 1 ? '' : 's'})${run.stopped ? `: ${run.stopped}` : ''}`,
  );
  return lines;
}
