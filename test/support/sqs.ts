import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { lambdaContext, sqsEvent } from '#local/events';

/**
 * A standard SQS queue with a redrive policy, driven the way Lambda's event source mapping drives
 * it: pollers take batches, a record reported in `batchItemFailures` becomes visible again (here:
 * goes to the back of the queue) with its receive count raised, and a record that fails on its
 * `maxReceiveCount`-th receive is moved to the DLQ. Everything else is deleted.
 */

export interface QueuedMessage {
  messageId: string;
  body: string;
}

export interface ReplayResult {
  /** Message ids deleted after a successful receive (including ones the consumer dead-lettered itself). */
  deleted: Map<string, number>;
  /** Message ids the redrive policy moved to the DLQ, with their receive count. */
  redriven: Map<string, number>;
  /** Handler invocations. */
  invocations: number;
  /** Deliveries of records (a redelivery counts again). */
  deliveries: number;
}

type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export interface ReplayOptions {
  batchSize?: number;
  maxReceiveCount?: number;
  /** Concurrent invocations (the event source mapping's maximum concurrency). */
  pollers?: number;
  timeoutMs?: number;
  queueName?: string;
}

/**
 * @example
 * const result = await replayLikeSqs(handler, [{ messageId, body }], { maxReceiveCount: 5 });
 */
export async function replayLikeSqs(handler: SqsHandler, messages: QueuedMessage[], options: ReplayOptions = {}): Promise<ReplayResult> {
  const { batchSize = 10, maxReceiveCount = 5, pollers = 4, timeoutMs = 30_000, queueName = 'soak' } = options;
  const queue = messages.map((m) => ({ ...m, receiveCount: 0 }));
  const result: ReplayResult = { deleted: new Map(), redriven: new Map(), invocations: 0, deliveries: 0 };
  let inFlight = 0;

  const poll = async (): Promise<void> => {
    for (;;) {
      const batch = queue.splice(0, batchSize);
      if (batch.length === 0) {
        // Another poller's failures may come back; wait for them before giving up.
        if (inFlight === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 5));
        continue;
      }
      inFlight++;
      for (const m of batch) m.receiveCount++;
      result.invocations++;
      result.deliveries += batch.length;
      const event = sqsEvent(
        batch.map((m) => m.body),
        { queueName, messageIds: batch.map((m) => m.messageId), receiveCounts: batch.map((m) => m.receiveCount) },
      );
      const response = await handler(event, lambdaContext({ functionName: queueName, timeoutMs }));
      const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
      for (const m of batch) {
        if (!failed.has(m.messageId)) result.deleted.set(m.messageId, m.receiveCount);
        else if (m.receiveCount >= maxReceiveCount) result.redriven.set(m.messageId, m.receiveCount);
        else queue.push(m);
      }
      inFlight--;
    }
  };

  await Promise.all(Array.from({ length: pollers }, poll));
  return result;
}
