import { describe, expect, it } from 'vitest';
import { AwsServiceError, awsErrorOf } from '#lib/aws/errors';
import { isThrottling, isTransient } from '#lib/aws/retry';

const body = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('AWS JSON errors, read as the SDK reads them', () => {
  it('takes the shape name of __type, the message, the status and the request id', () => {
    const err = awsErrorOf(400, { 'x-amzn-requestid': 'r-1' }, body({ __type: 'ResourceNotFoundException', message: "can't find" }));
    expect(err).toBeInstanceOf(AwsServiceError);
    expect(err).toMatchObject({
      name: 'ResourceNotFoundException',
      message: "can't find",
      $metadata: { httpStatusCode: 400, requestId: 'r-1' },
      $fault: 'client',
    });
  });

  it('cuts namespaces and URIs off the code, prefers x-amzn-errortype, keeps SQS query codes', () => {
    const sqs = awsErrorOf(
      400,
      { 'x-amzn-query-error': 'AWS.SimpleQueueService.NonExistentQueue;Sender' },
      body({ __type: 'com.amazonaws.sqs#QueueDoesNotExist', message: 'no' }),
    );
    expect(sqs).toMatchObject({ name: 'QueueDoesNotExist', code: 'AWS.SimpleQueueService.NonExistentQueue' });
    expect(awsErrorOf(400, { 'x-amzn-errortype': 'DecryptionFailure:http://internal.amazon.com/' }, body({}))).toMatchObject({ name: 'DecryptionFailure' });
  });

  it("keeps a message's first line only: a signature mismatch quotes the request, its session token among the headers", () => {
    const token = 'IQoJb3JpZ2luX2VjEFAKESESSIONTOKEN';
    const quoted = `The request signature we calculated does not match the signature you provided.\n\nThe Canonical String for this request should have been\n'POST\n/\n\nx-amz-security-token:${token}\n'`;
    const err = awsErrorOf(403, {}, body({ __type: 'InvalidSignatureException', message: quoted }));
    expect(err.message).toBe('The request signature we calculated does not match the signature you provided.');
    expect(JSON.stringify({ message: err.message, stack: err.stack })).not.toContain(token);
  });

  it('names a 5xx without a JSON body UnknownError, a server fault', () => {
    expect(awsErrorOf(502, {}, Buffer.from('<html>bad gateway</html>'))).toMatchObject({
      name: 'UnknownError',
      $fault: 'server',
      $metadata: { httpStatusCode: 502 },
    });
  });

  it('retries throttling and transient faults only', () => {
    const of = (status: number, name: string) => new AwsServiceError(name, name, { httpStatusCode: status });
    expect(isThrottling(of(400, 'ThrottlingException'))).toBe(true);
    expect(isThrottling(of(429, 'Anything'))).toBe(true);
    expect(isTransient(of(503, 'ServiceUnavailable'))).toBe(true);
    expect(isTransient(of(500, 'InternalServiceError'))).toBe(true);
    expect(isTransient(of(501, 'NotImplemented'))).toBe(false);
    expect(isTransient(Object.assign(new Error('t'), { name: 'TimeoutError' }))).toBe(true);
    expect(isTransient(Object.assign(new Error('r'), { code: 'ECONNRESET' }))).toBe(true);
    for (const name of ['AccessDeniedException', 'ResourceNotFoundException', 'DecryptionFailure', 'InvalidSignatureException']) {
      expect(isThrottling(of(400, name)) || isTransient(of(400, name))).toBe(false);
    }
  });
});
