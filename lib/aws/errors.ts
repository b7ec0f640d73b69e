/**
 * What an AWS call fails with, shaped as the AWS SDK shapes it, because lib/secrets.ts logs
 * `name (HTTP status)` and the runbooks quote those lines: `name` is the service's error code
 * (`ResourceNotFoundException`, `AccessDeniedException`, `DecryptionFailure`, `ThrottlingException`,
 * ...), `$metadata.httpStatusCode` its status.
 */
export class AwsServiceError extends Error {
  readonly $metadata: { httpStatusCode: number; requestId?: string };
  readonly $fault: 'client' | 'server';
  /** SQS's AWS Query code (`AWS.SimpleQueueService.NonExistentQueue`), from `x-amzn-query-error`. */
  readonly code?: string;

  constructor(name: string, message: string, metadata: { httpStatusCode: number; requestId?: string }, code?: string) {
    super(message);
    this.name = name;
    this.$metadata = metadata;
    this.$fault = metadata.httpStatusCode >= 500 ? 'server' : 'client';
    if (code) this.code = code;
  }
}

/** No credentials in the environment: named as the SDK's credential chain names it. */
export class CredentialsProviderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialsProviderError';
  }
}

type Headers = Record<string, string | string[] | undefined>;
const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/**
 * The error of an AWS JSON 1.0 / 1.1 answer, read as the SDK reads it: the code from the
 * `x-amzn-errortype` header or the body's `__type` / `code`, cut to the shape name
 * (`com.amazonaws.sqs#QueueDoesNotExist` and `Foo:http://...` both give the part that names it).
 *
 * @example
 * throw awsErrorOf(503, reply.headers, reply.body);
 */
export function awsErrorOf(status: number, headers: Headers, body: Buffer): AwsServiceError {
  let parsed: Record<string, unknown> = {};
  try {
    const value: unknown = JSON.parse(body.toString('utf8') || '{}');
    if (value && typeof value === 'object') parsed = value as Record<string, unknown>;
  } catch {
    // A proxy's HTML page or an empty 5xx: the status still says what to do.
  }
  const raw = first(headers['x-amzn-errortype']) ?? String(parsed.__type ?? parsed.code ?? parsed.Code ?? '');
  const name = raw.split(':')[0]?.split('#').pop() || 'UnknownError';
  // The first line: what follows a signature mismatch's explanation quotes the canonical request,
  // the session token among its headers, and the message goes to logs (lib/secrets.ts, the jobs).
  const message = String(parsed.message ?? parsed.Message ?? name).split('\n', 1)[0] || name;
  const query = first(headers['x-amzn-query-error'])?.split(';')[0];
  return new AwsServiceError(name, message, { httpStatusCode: status, requestId: first(headers['x-amzn-requestid']) }, query);
}
