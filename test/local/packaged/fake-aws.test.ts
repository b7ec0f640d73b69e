import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getSecretValue } from '#lib/aws/secrets-manager';
import { sendMessage } from '#lib/aws/sqs';
import { type FakeAws, startFakeAws } from '#local/packaged/fake-aws';

/**
 * The fake AWS of `npm start -- --packaged` and test/artifacts/ checks signatures as AWS does, with
 * the SDK's own signer: so the packaged functions passing there proves the shipped zips sign right.
 */
const KEY = { accessKeyId: 'ASIAFAKEAWSPACKAGED', secretAccessKey: 'packaged-secret-access-key', sessionToken: 'packaged-session-token' };
const limits = { maxAttempts: 1, timeoutMs: 2_000 };
let aws: FakeAws;
beforeAll(async () => {
  aws = await startFakeAws({
    secrets: { 'local/svix': 'sk_local' },
    principals: new Map([[KEY.accessKeyId, { arn: 'arn:aws:sts::123456789012:assumed-role/r/f', allows: () => true, key: KEY }]]),
  });
});
afterAll(() => aws.close());
beforeEach(() => {
  Object.assign(process.env, {
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: KEY.accessKeyId,
    AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
    AWS_SESSION_TOKEN: KEY.sessionToken,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url,
    AWS_ENDPOINT_URL_SQS: aws.url,
  });
});

describe('the packaged fake AWS', () => {
  it('serves a correctly signed GetSecretValue and SendMessage', async () => {
    await expect(getSecretValue('local/svix', limits)).resolves.toBe('sk_local');
    await expect(sendMessage({ QueueUrl: aws.queueUrl('dlq'), MessageBody: 'b', MessageAttributes: {} }, limits)).resolves.toMatchObject({
      MessageId: expect.any(String),
    });
    expect(aws.sentMessages).toHaveLength(1);
  });

  it('refuses a request signed with another secret key: 403 InvalidSignatureException / SignatureDoesNotMatch', async () => {
    process.env.AWS_SECRET_ACCESS_KEY = 'a-key-that-is-not-the-role-s';
    await expect(getSecretValue('local/svix', limits)).rejects.toMatchObject({ name: 'InvalidSignatureException', $metadata: { httpStatusCode: 403 } });
    await expect(sendMessage({ QueueUrl: aws.queueUrl('dlq'), MessageBody: 'b', MessageAttributes: {} }, limits)).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
      code: 'SignatureDoesNotMatch',
      $metadata: { httpStatusCode: 403 },
    });
    expect(aws.sentMessages).toHaveLength(1);
  });

  it('refuses an unknown access key or another session token as an invalid security token', async () => {
    process.env.AWS_SESSION_TOKEN = 'stolen-elsewhere';
    await expect(getSecretValue('local/svix', limits)).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
    process.env.AWS_ACCESS_KEY_ID = 'ASIANOBODY';
    await expect(getSecretValue('local/svix', limits)).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
  });
});
