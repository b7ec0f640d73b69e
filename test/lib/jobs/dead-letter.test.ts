import { beforeEach, describe, expect, it } from 'vitest';
import { sendMessage } from '#lib/aws/sqs';
import { DeadLetterUnavailableError, queueDeadLetter, redriveOnly } from '#lib/jobs/dead-letter';
import { DLQ_CALL_LIMITS } from '#lib/jobs/handler';
import { sqsEvent } from '#local/events';
import { fakeAws } from '../../support/fake-aws.ts';

const DLQ_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/authgate-test-jobs-dlq';
const sqsMock = fakeAws();
const deadLetter = queueDeadLetter(DLQ_URL, (input) => sendMessage(input, DLQ_CALL_LIMITS));

const BODY = '{ "targets": [ {"appId": "app_1"} ] }';
const [RECORD] = sqsEvent([BODY], { messageIds: ['msg-1'], receiveCounts: [2] }).Records;

beforeEach(() => {
  sqsMock.reset();
  sqsMock.on('SendMessage').resolves({ MessageId: 'dlq-1' });
});

describe('queueDeadLetter', () => {
  it('sends the body byte for byte, with why, which targets, and where it came from', async () => {
    await deadLetter(RECORD!, { job: 'expire-all', reason: 'target 1: 403: forbidden', failedTargets: [1, 3] });

    const [call, ...more] = sqsMock.commandCalls('SendMessage');
    expect(more).toEqual([]);
    expect(call?.input).toEqual({
      QueueUrl: DLQ_URL,
      MessageBody: BODY,
      MessageAttributes: {
        'authgate.job': { DataType: 'String', StringValue: 'expire-all' },
        'authgate.reason': { DataType: 'String', StringValue: 'target 1: 403: forbidden' },
        'authgate.failed-targets': { DataType: 'String', StringValue: '1,3' },
        'authgate.source-message-id': { DataType: 'String', StringValue: 'msg-1' },
        'authgate.receive-count': { DataType: 'Number', StringValue: '2' },
      },
    });
  });

  it('writes "-" for an invalid message (no target failed) and bounds the reason to 1000 characters', async () => {
    await deadLetter(RECORD!, { job: 'logout', reason: `invalid message: ${'x'.repeat(2_000)}`, failedTargets: [] });

    const attributes = sqsMock.commandCalls('SendMessage')[0]?.input.MessageAttributes;
    expect(attributes?.['authgate.failed-targets']?.StringValue).toBe('-');
    expect(attributes?.['authgate.reason']?.StringValue).toHaveLength(1_000);
  });

  it('fails when SQS refuses, so the runner leaves the record to the redrive policy', async () => {
    sqsMock.on('SendMessage').rejects('AccessDenied');

    await expect(deadLetter(RECORD!, { job: 'logout', reason: 'r', failedTargets: [0] })).rejects.toThrow('AccessDenied');
  });
});

describe('redriveOnly', () => {
  it('always declines, sending nothing', async () => {
    await expect(redriveOnly(RECORD!, { job: 'logout', reason: 'r', failedTargets: [] })).rejects.toBeInstanceOf(DeadLetterUnavailableError);
    expect(sqsMock.commandCalls('SendMessage')).toEqual([]);
  });
});
