import { createHash } from 'node:crypto';
import { type AwsCallLimits, awsJsonCall } from './call.ts';

const SQS = { name: 'sqs', envId: 'SQS' } as const;

/** The subset of SQS `SendMessage` input the jobs use: the dead-letter copy and continuations. */
export interface SendMessageInput {
  QueueUrl: string;
  MessageBody: string;
  MessageAttributes: Record<string, { DataType: 'String' | 'Number'; StringValue: string }>;
  /** 0–900 s before the message can be received (continuations: lib/jobs/continuation.ts). */
  DelaySeconds?: number;
}

/**
 * SQS `SendMessage` (AWS JSON 1.0). As the SDK does: without a configured endpoint the call goes to
 * the queue URL's own origin, and the answer's MD5 of the body is checked (`InvalidChecksumError`).
 *
 * @example
 * await sendMessage({ QueueUrl: url, MessageBody: body, MessageAttributes: {} }, { maxAttempts: 2, timeoutMs: 800 });
 */
export async function sendMessage(input: SendMessageInput, limits: AwsCallLimits): Promise<{ MessageId?: string }> {
  const out = await awsJsonCall<{ MessageId?: string; MD5OfMessageBody?: string }>({
    service: SQS,
    jsonVersion: '1.0',
    target: 'AmazonSQS.SendMessage',
    input,
    defaultEndpoint: new URL(new URL(input.QueueUrl).origin),
    limits,
  });
  if (out.MD5OfMessageBody !== createHash('md5').update(input.MessageBody).digest('hex')) throw new Error('InvalidChecksumError');
  return out;
}
