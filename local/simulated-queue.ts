import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { SendMessageInput } from '#lib/aws/sqs';
import { lambdaContext, sqsEvent } from './events.ts';

/**
 * A standard SQS queue and the Lambda event source mapping that drains it, in memory and in real
 * time, for the bulk-job bench and its scaled run in the tests: batches of 10, at most
 * `maxConcurrency` invocations at once (the mapping's `maximumConcurrency`, one container each),
 * a received message invisible for `visibilityTimeoutMs`, `DelaySeconds` on sends, message
 * attributes and `SenderId`, and the redrive policy (a message failed on its 5th receive goes to
 * the DLQ). Left out: the 1 s batching window (a batch is taken as soon as a message is visible)
 * and SQS's at-least-once duplicates. Also used by `npm run job` and the
 * console's Jobs card (run-job.ts), which stop it early with `drain`'s `stopWhen`.
 */

/** As serverless.yml's queue event and resources/jobs.cjs's redrive policy set them. */
const BATCH_SIZE = 10;
const MAX_RECEIVE_COUNT = 5;
/** The `SenderId` SQS records for what the job function itself sends (its role). */
const JOB_SENDER_ID = 'AROAJOBROLELOCAL:authgate-local-job';

export interface SimulatedQueueOptions {
  name: string;
  maxConcurrency?: number;
  visibilityTimeoutMs?: number;
  /** Each invocation's Lambda timeout. */
  lambdaTimeoutMs?: number;
  /** The function name in each invocation's Lambda context. Default: the queue's name. */
  functionName?: string;
}

/** A message waiting in the queue (or in flight), as `pending()` lists them. */
export interface PendingMessage {
  messageId: string;
  /** When it is (or, in flight, would again be) visible to a receive (epoch ms). */
  visibleAt: number;
  receiveCount: number;
}

export interface DrainOptions {
  /**
   * Asked before each receive: true stops taking batches, and `drain` returns once nothing is in
   * flight; what is left stays in `pending()`. Default: drain until the queue is empty.
   */
  stopWhen?: (pending: PendingMessage[]) => boolean;
}

interface Held {
  messageId: string;
  body: string;
  attributes?: SendMessageInput['MessageAttributes'];
  senderId: string;
  visibleAt: number;
  receiveCount: number;
  /** When it was first received (SQS's `ApproximateFirstReceiveTimestamp`). */
  firstReceivedAt?: number;
}

export interface QueueStats {
  /** Messages sent by producers. */
  produced: number;
  /** Messages the job sent back to its own queue (continuations). */
  continuations: number;
  invocations: number;
  /** Records delivered, redeliveries included. */
  deliveries: number;
  /** Each invocation's duration, for the Lambda bill. */
  invocationMs: number[];
  /** Messages the redrive policy moved to the DLQ (not the ones the consumer dead-lettered itself). */
  redriven: number;
  /** Records reported in `batchItemFailures`. */
  batchItemFailures: number;
}

type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export class SimulatedQueue {
  readonly stats: QueueStats = { produced: 0, continuations: 0, invocations: 0, deliveries: 0, invocationMs: [], redriven: 0, batchItemFailures: 0 };
  private readonly held: Held[] = [];
  private readonly o: Required<SimulatedQueueOptions>;

  constructor(options: SimulatedQueueOptions) {
    this.o = {
      maxConcurrency: 5,
      visibilityTimeoutMs: 190_000,
      lambdaTimeoutMs: 30_000,
      functionName: options.name,
      ...options,
    };
  }

  /** A producer's SendMessage; returns the message id. */
  enqueue(body: string, senderId: string): string {
    this.stats.produced++;
    const messageId = randomUUID();
    this.held.push({ messageId, body, senderId, visibleAt: Date.now(), receiveCount: 0 });
    return messageId;
  }

  /** The messages not yet deleted or moved to the DLQ. */
  pending(): PendingMessage[] {
    return this.held.map(({ messageId, visibleAt, receiveCount }) => ({ messageId, visibleAt, receiveCount }));
  }

  /** The job function's own SendMessage (its continuations), as it would reach this queue; answers as SQS does. */
  readonly sendMessage = async (input: SendMessageInput): Promise<{ MessageId: string }> => {
    this.stats.continuations++;
    const messageId = randomUUID();
    this.held.push({
      messageId,
      body: input.MessageBody,
      attributes: input.MessageAttributes,
      senderId: JOB_SENDER_ID,
      visibleAt: Date.now() + (input.DelaySeconds ?? 0) * 1000,
      receiveCount: 0,
    });
    return { MessageId: messageId };
  };

  /**
   * Runs the mapping until the queue is empty: `handlerFor(i)` is container i's handler (each
   * container keeps its own state, as Lambda's do).
   */
  async drain(handlerFor: (container: number) => SqsHandler, options: DrainOptions = {}): Promise<void> {
    let inFlight = 0;
    const poll = async (container: number): Promise<void> => {
      const handler = handlerFor(container);
      for (;;) {
        const now = Date.now();
        if (options.stopWhen?.(this.pending())) {
          if (inFlight === 0) return;
          await sleep(10);
          continue;
        }
        const batch = this.held.filter((m) => m.visibleAt <= now).slice(0, BATCH_SIZE);
        if (batch.length === 0) {
          if (this.held.length === 0 && inFlight === 0) return;
          const next = Math.min(...this.held.map((m) => m.visibleAt));
          await sleep(Math.min(50, Math.max(5, next - now)));
          continue;
        }
        for (const m of batch) {
          m.receiveCount++;
          m.firstReceivedAt ??= now;
          m.visibleAt = now + this.o.visibilityTimeoutMs;
        }
        inFlight++;
        this.stats.invocations++;
        this.stats.deliveries += batch.length;
        const event = sqsEvent(
          batch.map((m) => m.body),
          {
            queueName: this.o.name,
            messageIds: batch.map((m) => m.messageId),
            receiveCounts: batch.map((m) => m.receiveCount),
            firstReceivedAt: batch.map((m) => m.firstReceivedAt ?? now),
            senderIds: batch.map((m) => m.senderId),
            messageAttributes: batch.map((m) => m.attributes),
          },
        );
        const started = Date.now();
        const response = await handler(event, lambdaContext({ functionName: this.o.functionName, timeoutMs: this.o.lambdaTimeoutMs }));
        this.stats.invocationMs.push(Date.now() - started);
        const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
        this.stats.batchItemFailures += failed.size;
        for (const m of batch) {
          if (failed.has(m.messageId) && m.receiveCount < MAX_RECEIVE_COUNT) continue;
          if (failed.has(m.messageId)) this.stats.redriven++;
          this.held.splice(this.held.indexOf(m), 1);
        }
        inFlight--;
      }
    };
    await Promise.all(Array.from({ length: this.o.maxConcurrency }, (_, i) => poll(i)));
  }
}
