import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Credentials } from 'aws4';
import { optionalEnv } from '../config.ts';
import { UpstreamTransportError } from '../errors.ts';
import { send } from '../upstream/transport.ts';
import { type AwsService, awsEndpoint, awsRegion, regionalEndpoint } from './endpoint.ts';
import { awsErrorOf, CredentialsProviderError } from './errors.ts';
import { recordSuccess, retryDelayMs } from './retry.ts';

/**
 * One signed AWS JSON-protocol call (the two the functions make: Secrets Manager GetSecretValue and
 * SQS SendMessage), in place of the AWS SDK clients, whose ~150 KB per zip cost every cold start
 * ~55 ms for two calls (docs/performance.md; why not the SDK: docs/decisions.md). Signed with SigV4 by `aws4`; sent on the upstreams'
 * keep-alive transport (upstream/transport.ts); retried as the SDK's standard mode does (retry.ts).
 */

/** How long one call may take: attempts, and a deadline for each (connection included). */
export interface AwsCallLimits {
  maxAttempts: number;
  timeoutMs: number;
}

export interface AwsJsonCall {
  service: AwsService;
  /** The AWS JSON protocol version: 1.1 for Secrets Manager, 1.0 for SQS. */
  jsonVersion: '1.0' | '1.1';
  /** `X-Amz-Target`: `secretsmanager.GetSecretValue`, `AmazonSQS.SendMessage`. */
  target: string;
  input: object;
  /** Where to call when no endpoint is configured; the regional endpoint if not given. */
  defaultEndpoint?: URL;
  limits: AwsCallLimits;
}

/**
 * aws4 is CommonJS, which esbuild cannot tree-shake: imported statically, it would be loaded by every
 * function that bundles lib/secrets.ts, Svix logout too, which never signs. Imported where it is used.
 */
const aws4 = () => import('aws4').then((module) => module.default);

/** Lambda's credentials: its execution role's, as environment variables. */
function credentials(): Credentials {
  // Lambda's own variables, read per call rather than memoised by `setting`: nothing next to a
  // network call, and the tests and fakes switch keys and endpoints between cases.
  const [accessKeyId, secretAccessKey, sessionToken] = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'].map(optionalEnv);
  if (!accessKeyId || !secretAccessKey)
    throw new CredentialsProviderError('Could not load credentials from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)');
  return sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
}

/**
 * The headers of one signed attempt: `host`, `content-type`, `content-length`, `x-amz-target`,
 * `x-amz-content-sha256`, `x-amz-date`, `x-amz-security-token` (with a session token) and `authorization`, all signed
 * but the last, as the SDK signs them. Exported for the signer's proof (test/lib/aws/call.test.ts).
 *
 * @example
 * const headers = await signedHeaders(new URL('https://sqs.eu-west-1.amazonaws.com/'), 'sqs', 'eu-west-1', call, body);
 */
export async function signedHeaders(
  url: URL,
  service: string,
  region: string,
  call: Pick<AwsJsonCall, 'jsonVersion' | 'target'>,
  body: Buffer,
): Promise<Record<string, string>> {
  const signed = (await aws4()).sign(
    {
      host: url.host,
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      service,
      region,
      body,
      headers: {
        host: url.host,
        'content-type': `application/x-amz-json-${call.jsonVersion}`,
        'content-length': String(body.length),
        'x-amz-target': call.target,
        // Not required outside S3, but the SDK sends and signs it on every call: so do we, and a
        // request signs exactly as the SDK's would (test/lib/aws/call.test.ts).
        'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
      },
    },
    credentials(),
  );
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers ?? {})) headers[name.toLowerCase()] = String(value);
  return headers;
}

/** A transport failure under the name the SDK gives it, so logs and retries read the same. */
function asAwsFailure(err: unknown): unknown {
  if (!(err instanceof UpstreamTransportError)) return err;
  if (err.kind === 'timeout') return Object.assign(new Error('the AWS endpoint did not answer in time', { cause: err.cause }), { name: 'TimeoutError' });
  // `unreachable`: Node's own error, whose `code` (ECONNREFUSED, ENOTFOUND, ...) decides a retry.
  return err.kind === 'unreachable' && err.cause instanceof Error ? err.cause : err;
}

/**
 * Calls an AWS JSON-protocol operation and returns its parsed output; throws `AwsServiceError`
 * (the service's error code as `name`), `TimeoutError`, a Node network error, or
 * `CredentialsProviderError`, after the retries the limits allow.
 *
 * @example
 * const out = await awsJsonCall<{ SecretString?: string }>({
 *   service: { name: 'secretsmanager', envId: 'SECRETS_MANAGER' }, jsonVersion: '1.1',
 *   target: 'secretsmanager.GetSecretValue', input: { SecretId: 'prod/svix' },
 *   limits: { maxAttempts: 2, timeoutMs: 1_200 },
 * });
 */
export async function awsJsonCall<T>(call: AwsJsonCall): Promise<T> {
  const region = awsRegion();
  const url = awsEndpoint(call.service) ?? call.defaultEndpoint ?? regionalEndpoint(call.service, region);
  const body = Buffer.from(JSON.stringify(call.input));
  let retryCost: number | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      // Signed again on every attempt, as the SDK does: X-Amz-Date moves on.
      const headers = await signedHeaders(url, call.service.name, region, call, body);
      const reply = await send({ method: 'POST', url, headers, body, timeoutMs: call.limits.timeoutMs });
      if (reply.status >= 300) throw awsErrorOf(reply.status, reply.headers, reply.body);
      recordSuccess(retryCost);
      return JSON.parse(reply.body.toString('utf8') || '{}') as T;
    } catch (caught) {
      const err = asAwsFailure(caught);
      const retry = attempt < call.limits.maxAttempts ? retryDelayMs(err, attempt - 1) : undefined;
      if (!retry) throw err;
      retryCost = retry.cost;
      await sleep(retry.delayMs);
    }
  }
}
