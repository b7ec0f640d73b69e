import aws4 from 'aws4';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { awsJsonCall, signedHeaders } from '#lib/aws/call';
import { AwsServiceError } from '#lib/aws/errors';
import { checkSignature, sdkAuthorization } from '#local/packaged/sigv4-check';
import { FAKE_AWS_CREDENTIALS, type FakeAws, fakeAws } from '../../support/fake-aws.ts';

/**
 * The signer under test (aws4, in lib/aws/call.ts) against the AWS SDK's own (@smithy/signature-v4):
 * for the same clock, credentials and request, the same canonical request and the same signature.
 */

const SM = { jsonVersion: '1.1', target: 'secretsmanager.GetSecretValue' } as const;
const SQS = { jsonVersion: '1.0', target: 'AmazonSQS.SendMessage' } as const;
const BASE_HEADERS = ['content-length', 'content-type', 'host', 'x-amz-target'];

let aws: FakeAws;
beforeEach(() => {
  aws?.restore();
  aws = fakeAws();
  vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-03-09T23:59:58.123Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

const cases = [
  {
    label: 'Secrets Manager, regional endpoint, session token',
    url: 'https://secretsmanager.eu-west-1.amazonaws.com/',
    service: 'secretsmanager',
    region: 'eu-west-1',
    call: SM,
    body: { SecretId: 'prod/svix' },
    token: true,
  },
  {
    label: 'Secrets Manager, without session token',
    url: 'https://secretsmanager.us-east-1.amazonaws.com/',
    service: 'secretsmanager',
    region: 'us-east-1',
    call: SM,
    body: { SecretId: 'arn:aws:secretsmanager:us-east-1:1:secret:a/b-AbCdEf' },
    token: false,
  },
  {
    label: 'SQS, China partition, non-ASCII body',
    url: 'https://sqs.cn-north-1.amazonaws.com.cn/',
    service: 'sqs',
    region: 'cn-north-1',
    call: SQS,
    body: { QueueUrl: 'https://sqs.cn-north-1.amazonaws.com.cn/1/dlq', MessageBody: '{"r":"é ✓ 𝄞"}' },
    token: true,
  },
  {
    label: 'SQS, configured endpoint with a port and a path',
    url: 'http://127.0.0.1:4566/prefix/',
    service: 'sqs',
    region: 'eu-central-2',
    call: SQS,
    body: { MessageBody: 'x  y' },
    token: true,
  },
] as const;

describe('SigV4 signing (aws4) against the AWS SDK signer', () => {
  it.each(cases)('$label: same canonical request, same Authorization', async ({ url, service, region, call, body, token }) => {
    if (!token) delete process.env.AWS_SESSION_TOKEN;
    const bytes = Buffer.from(JSON.stringify(body));
    const headers = await signedHeaders(new URL(url), service, region, call, bytes);
    expect(headers['x-amz-date']).toBe('20260309T235958Z');
    expect(headers['x-amz-security-token']).toBe(token ? FAKE_AWS_CREDENTIALS.AWS_SESSION_TOKEN : undefined);

    const path = new URL(url).pathname;
    const signedByUs = (/SignedHeaders=([^,]+)/.exec(headers.authorization ?? '')?.[1] ?? '').split(';');
    // The SDK signs these from the same four: it adds the payload hash, date and token itself.
    expect(signedByUs).toEqual([
      'content-length',
      'content-type',
      'host',
      'x-amz-content-sha256',
      'x-amz-date',
      ...(token ? ['x-amz-security-token'] : []),
      'x-amz-target',
    ]);
    const sdk = await sdkAuthorization({ method: 'POST', path, headers, body: bytes }, FAKE_AWS_CREDENTIALS.AWS_SECRET_ACCESS_KEY, {
      accessKeyId: FAKE_AWS_CREDENTIALS.AWS_ACCESS_KEY_ID,
      region,
      service,
      signedHeaders: BASE_HEADERS,
      ...(token ? { sessionToken: FAKE_AWS_CREDENTIALS.AWS_SESSION_TOKEN } : {}),
    });
    expect(headers.authorization).toBe(sdk.authorization);
    const ours = new aws4.RequestSigner(
      { host: new URL(url).host, path, method: 'POST', service, region, body: bytes, headers: { ...headers } },
      {
        accessKeyId: FAKE_AWS_CREDENTIALS.AWS_ACCESS_KEY_ID,
        secretAccessKey: FAKE_AWS_CREDENTIALS.AWS_SECRET_ACCESS_KEY,
      },
    );
    expect(ours.canonicalString()).toBe(sdk.canonicalRequest);
  });

  it('the fakes refuse what the SDK signer does not reproduce: another key, an altered body, an altered header', async () => {
    const bytes = Buffer.from(JSON.stringify({ SecretId: 'prod/svix' }));
    const headers = await signedHeaders(new URL('https://secretsmanager.eu-west-1.amazonaws.com/'), 'secretsmanager', 'eu-west-1', SM, bytes);
    const request = { method: 'POST', path: '/', headers, body: bytes };
    const key = (secretAccessKey: string) => () => ({ secretAccessKey });
    expect(await checkSignature(request, key(FAKE_AWS_CREDENTIALS.AWS_SECRET_ACCESS_KEY))).toMatchObject({
      ok: true,
      region: 'eu-west-1',
      service: 'secretsmanager',
    });
    expect(await checkSignature(request, key('another-secret'))).toMatchObject({ ok: false, reason: 'bad signature' });
    expect(
      await checkSignature({ ...request, body: Buffer.from('{"SecretId":"prod/nextauth"}') }, key(FAKE_AWS_CREDENTIALS.AWS_SECRET_ACCESS_KEY)),
    ).toMatchObject({ ok: false });
    expect(
      await checkSignature(
        { ...request, headers: { ...headers, 'x-amz-target': 'secretsmanager.DeleteSecret' } },
        key(FAKE_AWS_CREDENTIALS.AWS_SECRET_ACCESS_KEY),
      ),
    ).toMatchObject({
      ok: false,
    });
    expect(await checkSignature({ ...request, headers: { ...headers, authorization: undefined } }, key('x'))).toMatchObject({ ok: false, reason: 'unsigned' });
  });
});

const GET = {
  service: { name: 'secretsmanager', envId: 'SECRETS_MANAGER' },
  jsonVersion: '1.1',
  target: 'secretsmanager.GetSecretValue',
  input: { SecretId: 'a/b' },
} as const;
const limits = { maxAttempts: 2, timeoutMs: 1_000 };

describe('awsJsonCall over HTTP (the fake checks every signature)', () => {
  it('returns the output of a correctly signed call', async () => {
    aws.on('GetSecretValue', { SecretId: 'a/b' }).resolves({ SecretString: 'v' });
    await expect(awsJsonCall({ ...GET, limits })).resolves.toMatchObject({ SecretString: 'v', Name: 'a/b' });
    expect(aws.commandCalls('GetSecretValue')[0]?.headers['content-type']).toBe('application/x-amz-json-1.1');
  });

  it('is refused with 403 InvalidSignatureException when signed with the wrong secret key, and not retried', async () => {
    aws.on('GetSecretValue').resolves({ SecretString: 'v' });
    process.env.AWS_SECRET_ACCESS_KEY = 'not-the-key-the-fake-knows';
    const err = await awsJsonCall({ ...GET, limits }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AwsServiceError);
    expect(err).toMatchObject({ name: 'InvalidSignatureException', $metadata: { httpStatusCode: 403 } });
    expect(aws.commandCalls('GetSecretValue')).toHaveLength(1);
  });

  it('maps AWS errors to the SDK names and statuses, with SQS query codes', async () => {
    aws.on('GetSecretValue').rejects({ name: 'DecryptionFailure', message: 'KMS said no' });
    await expect(awsJsonCall({ ...GET, limits })).rejects.toMatchObject({
      name: 'DecryptionFailure',
      message: 'KMS said no',
      $metadata: { httpStatusCode: 400 },
      $fault: 'client',
    });
    expect(aws.commandCalls('GetSecretValue')).toHaveLength(1);
  });

  it('retries throttling and 5xx up to maxAttempts, then throws the last error', async () => {
    vi.useRealTimers();
    aws.on('GetSecretValue').rejectsOnce('ThrottlingException').resolves({ SecretString: 'after-throttle' });
    await expect(awsJsonCall({ ...GET, limits })).resolves.toMatchObject({ SecretString: 'after-throttle' });
    aws.reset();
    aws.on('GetSecretValue').rejects('ServiceUnavailable');
    await expect(awsJsonCall({ ...GET, limits: { maxAttempts: 3, timeoutMs: 1_000 } })).rejects.toMatchObject({
      name: 'ServiceUnavailable',
      $metadata: { httpStatusCode: 503 },
    });
    expect(aws.commandCalls('GetSecretValue')).toHaveLength(3);
  });

  it('does not retry a client error such as AccessDeniedException or ResourceNotFoundException', async () => {
    aws.on('GetSecretValue', { SecretId: 'a/b' }).rejects('AccessDeniedException');
    await expect(awsJsonCall({ ...GET, limits })).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(awsJsonCall({ ...GET, input: { SecretId: 'missing' }, limits })).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    expect(aws.commandCalls('GetSecretValue')).toHaveLength(2);
  });

  it('without credentials fails as the SDK does (CredentialsProviderError), without a call', async () => {
    delete process.env.AWS_ACCESS_KEY_ID;
    await expect(awsJsonCall({ ...GET, limits })).rejects.toMatchObject({ name: 'CredentialsProviderError' });
    expect(aws.commandCalls('GetSecretValue')).toHaveLength(0);
  });

  it('a refused connection is retried, then surfaces as Node names it (ECONNREFUSED)', async () => {
    vi.useRealTimers();
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = 'http://127.0.0.1:9';
    await expect(awsJsonCall({ ...GET, limits })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
