import type { SQSRecord } from 'aws-lambda';
import type { JobKind } from './schema.ts';

/**
 * Sending a message to the dead-letter queue ourselves. SQS moves a message to its DLQ only after
 * `maxReceiveCount` receives, so a message that can never succeed (invalid, or refused with a
 * 4xx) would be retried pointlessly for minutes; instead the consumer copies it to the DLQ with
 * the reason, then reports it processed so SQS deletes it.
 *
 * The DLQ copy keeps the original body byte for byte, so a DLQ redrive (StartMessageMoveTask)
 * replays it unchanged; done targets then replay harmlessly (idempotency keys, idempotent logout).
 *
 * When the copy cannot be sent (`DeadLetterUnavailableError`, or SendMessage failing), the runner
 * reports the record as failed instead: SQS retries it and its redrive policy still moves it to the
 * same DLQ after `maxReceiveCount` receives. Slower, never lost.
 */

export interface DeadLetterNote {
  job: JobKind;
  /** Why, in words: `invalid message: targets.0.appId: ...` or `target 1: 403: ...`. */
  reason: string;
  /** Indexes of the targets that failed permanently; empty for an invalid message. */
  failedTargets: number[];
}

export type DeadLetter = (record: SQSRecord, note: DeadLetterNote) => Promise<void>;

export class DeadLetterUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeadLetterUnavailableError';
  }
}

/** The subset of SQS `SendMessage` input we use (structurally `SendMessageCommandInput`). */
export interface SendMessageInput {
  QueueUrl: string;
  MessageBody: string;
  MessageAttributes: Record<string, { DataType: 'String' | 'Number'; StringValue: string }>;
  /** 0–900 s before the message can be received (continuations: lib/jobs/continuation.ts). */
  DelaySeconds?: number;
}

/** SQS attribute values share the 256 KiB message limit with the body; the reason needs little. */
const MAX_REASON_CHARS = 1_000;

/**
 * A `DeadLetter` that sends to `queueUrl` through `sendMessage` (the SQS client's SendMessage).
 *
 * @example
 * const sqs = new SQSClient({});
 * const deadLetter = queueDeadLetter(setting(DLQ_URL), (input) => sqs.send(new SendMessageCommand(input)));
 */
export function queueDeadLetter(queueUrl: string, sendMessage: (input: SendMessageInput) => Promise<unknown>): DeadLetter {
  return async (record, note) => {
    await sendMessage({
      QueueUrl: queueUrl,
      MessageBody: record.body,
      MessageAttributes: {
        'authgate.job': { DataType: 'String', StringValue: note.job },
        'authgate.reason': { DataType: 'String', StringValue: note.reason.slice(0, MAX_REASON_CHARS) },
        'authgate.failed-targets': { DataType: 'String', StringValue: note.failedTargets.join(',') || '-' },
        'authgate.source-message-id': { DataType: 'String', StringValue: record.messageId },
        'authgate.receive-count': { DataType: 'Number', StringValue: record.attributes.ApproximateReceiveCount ?? '1' },
      },
    });
  };
}

/**
 * The fallback when no SQS client is wired: always declines, so the record is retried and reaches
 * the DLQ through the redrive policy. The reason is in the log line of every attempt.
 */
export const redriveOnly: DeadLetter = async () => {
  throw new DeadLetterUnavailableError('no dead-letter sender is configured; leaving the message to the redrive policy');
};
