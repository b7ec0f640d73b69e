import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resetRetryQuota } from '#lib/aws/retry';
import type { SendMessageInput } from '#lib/aws/sqs';
import { checkSignature } from '#local/packaged/sigv4-check';

/**
 * Secrets Manager and SQS faked at the HTTP level, for the tests that used aws-sdk-client-mock: the
 * real lib/aws calls (signing, serialisation, retries, error parsing) run against a loopback
 * server, which checks every signature with the AWS SDK's own signer (local/packaged/sigv4-check.ts)
 * and answers 403 `InvalidSignatureException` when it does not match. The API keeps the shape of
 * aws-sdk-client-mock's (`on(...).resolves(...)`, `commandCalls(...)`), with operation names for
 * the command classes, so a converted test changes little.
 *
 * One server per test file (started when this module loads); `fakeAws()` points the AWS variables
 * at it and can be called at the top of a file or inside a test. Calls are recorded for all handles.
 *
 * @example
 * const aws = fakeAws();
 * aws.on('GetSecretValue', { SecretId: 'prod/svix' }).resolves({ SecretString: 'sk_...' });
 * aws.on('GetSecretValue', { SecretId: 'prod/svix' }).rejects('AccessDeniedException');   // a 400 AWS error
 * aws.on('SendMessage').resolvesOnce({ MessageId: 'm-1' }).rejects('ServiceUnavailable'); // 503, retried
 * aws.on('GetSecretValue').callsFake(async ({ SecretId }) => ({ SecretString: await next(SecretId) }));
 * expect(aws.commandCalls('GetSecretValue')).toHaveLength(1);
 * expect(aws.commandCalls('SendMessage')[0]?.input.MessageBody).toBe('{...}');
 */

/** The credentials the functions sign with under the fake (and only these are accepted). */
export const FAKE_AWS_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'AKIDFAKEAWSTEST',
  AWS_SECRET_ACCESS_KEY: 'fake-aws-test-secret-access-key',
  AWS_SESSION_TOKEN: 'fake-aws-test-session-token',
} as const;

export type AwsOperation = 'GetSecretValue' | 'SendMessage';
type Input = Record<string, unknown>;
type Output = Record<string, unknown>;

/**
 * An AWS error to answer: its code (`AccessDeniedException`), or an Error whose `name` is the code,
 * or the code with a status and message. The status defaults to AWS's for that code (400, or 5xx
 * for `InternalServiceError`/`InternalFailure`/`ServiceUnavailable`).
 */
export type AwsFault = string | Error | { name: string; message?: string; status?: number };

type Reply = { output: Output } | { fault: AwsFault };

export interface Behaviour {
  resolves(output: Output): Behaviour;
  resolvesOnce(output: Output): Behaviour;
  rejects(fault: AwsFault): Behaviour;
  rejectsOnce(fault: AwsFault): Behaviour;
  /** Computes the answer from the input; a thrown error is answered as an AWS error (AwsFault). */
  callsFake(fn: (input: Input) => Output | Promise<Output>): Behaviour;
}

/** What each operation receives. */
export interface OperationInput {
  GetSecretValue: { SecretId: string };
  SendMessage: SendMessageInput;
}

export interface RecordedCall<I = Input> {
  input: I;
  headers: IncomingHttpHeaders;
}

export interface FakeAws {
  readonly url: string;
  /** Answers calls of `operation` whose input has these fields (all of them when none). */
  on(operation: AwsOperation, match?: Input): Behaviour;
  /** The calls received, in order, signed correctly or not. */
  commandCalls<O extends AwsOperation>(operation: O): RecordedCall<OperationInput[O]>[];
  /** Forgets the calls, keeps the rules. */
  resetHistory(): void;
  /** Forgets this handle's rules, and the calls. */
  reset(): void;
  /** Forgets this handle's rules for good (mockClient's `restore()`). */
  restore(): void;
}

interface Rule {
  operation: AwsOperation;
  match: Input;
  once: Array<(input: Input) => Reply | Promise<Reply>>;
  always?: (input: Input) => Reply | Promise<Reply>;
}

const STATUS: Record<string, number> = { InternalServiceError: 500, InternalFailure: 500, ServiceUnavailable: 503 };
/** The `X-Amz-Target` each operation is called with, and the service its signature must name. */
const TARGETS: Record<string, { operation: AwsOperation; service: string }> = {
  'secretsmanager.GetSecretValue': { operation: 'GetSecretValue', service: 'secretsmanager' },
  'AmazonSQS.SendMessage': { operation: 'SendMessage', service: 'sqs' },
};

/** Every live handle's rules (a handle's `restore()` removes its own, as mockClient does per client). */
const handles = new Set<Rule[]>();
const calls: Array<RecordedCall & { operation: AwsOperation }> = [];

function faultOf(fault: AwsFault): { name: string; message: string; status: number } {
  const named = typeof fault === 'string' ? { name: fault } : fault;
  const status = 'status' in named && named.status ? named.status : (STATUS[named.name] ?? 400);
  return { name: named.name, message: named.message || named.name, status };
}

const matches = (rule: Rule, operation: AwsOperation, input: Input) =>
  rule.operation === operation && Object.entries(rule.match).every(([k, v]) => JSON.stringify(input[k]) === JSON.stringify(v));

/** The rule that answers: the latest among those with the most fields matched (sinon's withArgs wins over the default). */
function ruleFor(operation: AwsOperation, input: Input): Rule | undefined {
  let best: Rule | undefined;
  for (const rule of [...handles].flat()) {
    if (matches(rule, operation, input) && (!best || Object.keys(rule.match).length >= Object.keys(best.match).length)) best = rule;
  }
  return best;
}

async function replyTo(operation: AwsOperation, input: Input): Promise<Reply> {
  const rule = ruleFor(operation, input);
  const next = rule?.once.shift() ?? rule?.always;
  if (!next) {
    return operation === 'GetSecretValue'
      ? { fault: { name: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." } }
      : { fault: { name: 'QueueDoesNotExist', message: 'The specified queue does not exist.' } };
  }
  try {
    return await next(input);
  } catch (err) {
    return { fault: err as AwsFault };
  }
}

function answer(res: ServerResponse, protocol: string, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': `application/x-amz-json-${protocol}`, 'x-amzn-requestid': randomUUID(), ...headers }).end(JSON.stringify(body));
}

const server = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const target = String(req.headers['x-amz-target'] ?? '');
  const protocol = target.startsWith('AmazonSQS.') ? '1.0' : '1.1';
  const served = Object.hasOwn(TARGETS, target) ? TARGETS[target] : undefined;
  if (!served) return answer(res, protocol, 400, { __type: 'UnknownOperationException', message: `fake AWS: ${target} is not served here` });
  const { operation, service } = served;
  const input = JSON.parse(body.toString('utf8') || '{}') as Input;
  calls.push({ operation, input, headers: req.headers });
  const check = await checkSignature({ method: req.method ?? '', path: req.url ?? '/', headers: req.headers, body }, (id) =>
    id === FAKE_AWS_CREDENTIALS.AWS_ACCESS_KEY_ID ? { secretAccessKey: FAKE_AWS_CREDENTIALS.AWS_SECRET_ACCESS_KEY } : undefined,
  );
  if (!check.ok || check.service !== service) {
    const message = 'The request signature we calculated does not match the signature you provided.';
    return protocol === '1.0'
      ? answer(res, protocol, 403, { __type: 'com.amazonaws.sqs#SignatureDoesNotMatch', message }, { 'x-amzn-query-error': 'SignatureDoesNotMatch;Sender' })
      : answer(res, protocol, 403, { __type: 'InvalidSignatureException', message });
  }
  const reply = await replyTo(operation, input);
  if ('fault' in reply) {
    const fault = faultOf(reply.fault);
    return answer(res, protocol, fault.status, { __type: protocol === '1.0' ? `com.amazonaws.sqs#${fault.name}` : fault.name, message: fault.message });
  }
  const output =
    operation === 'SendMessage'
      ? {
          MD5OfMessageBody: createHash('md5')
            .update(String(input.MessageBody ?? ''))
            .digest('hex'),
          MessageId: randomUUID(),
          ...reply.output,
        }
      : { ARN: `arn:aws:secretsmanager:${check.region}:123456789012:secret:${String(input.SecretId)}-AbCdEf`, Name: input.SecretId, ...reply.output };
  return answer(res, protocol, 200, output);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
server.unref();
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/**
 * Points Secrets Manager and SQS at the fake, with the test credentials and AWS_REGION (eu-west-1
 * unless set), and refills the SDK-style retry quota. Returns a handle with rules of its own: like
 * one `mockClient(...)`, its `restore()` drops them and leaves another handle's alone.
 */
export function fakeAws(): FakeAws {
  Object.assign(process.env, {
    ...FAKE_AWS_CREDENTIALS,
    AWS_REGION: process.env.AWS_REGION || 'eu-west-1',
    AWS_ENDPOINT_URL_SECRETS_MANAGER: url,
    AWS_ENDPOINT_URL_SQS: url,
  });
  resetRetryQuota();
  const rules: Rule[] = [];
  handles.add(rules);
  const handle: FakeAws = {
    url,
    on(operation, match = {}) {
      const key = JSON.stringify(match);
      let rule = rules.find((r) => r.operation === operation && JSON.stringify(r.match) === key);
      if (!rule) {
        rule = { operation, match, once: [] };
        rules.push(rule);
      }
      const target = rule;
      const always = (reply: (input: Input) => Reply | Promise<Reply>) => {
        target.always = reply;
        return behaviour;
      };
      const once = (reply: () => Reply) => {
        target.once.push(reply);
        return behaviour;
      };
      const behaviour: Behaviour = {
        resolves: (output) => always(() => ({ output })),
        resolvesOnce: (output) => once(() => ({ output })),
        rejects: (fault) => always(() => ({ fault })),
        rejectsOnce: (fault) => once(() => ({ fault })),
        callsFake: (fn) => always(async (input) => ({ output: await fn(input) })),
      };
      return behaviour;
    },
    commandCalls: <O extends AwsOperation>(operation: O) =>
      calls.filter((c) => c.operation === operation).map(({ input, headers }) => ({ input: input as unknown as OperationInput[O], headers })),
    resetHistory: () => {
      calls.length = 0;
    },
    reset: () => {
      rules.length = 0;
      calls.length = 0;
    },
    restore: () => {
      handle.reset();
      handles.delete(rules);
    },
  };
  return handle;
}
