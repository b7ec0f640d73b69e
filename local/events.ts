import { createHash, randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { DETAIL_TYPES, type JobKind, type Provenance } from '#lib/jobs/schema';
import { jobEventSources } from './routes.ts';

/**
 * Builders of the real AWS shapes the local API and the tests hand to handlers: API Gateway
 * HTTP API payload 2.0 events and a Lambda `Context` whose clock really runs down.
 */

export interface HttpEventInput {
  method: string;
  /** The path as sent, still percent-encoded. */
  rawPath: string;
  rawQueryString?: string;
  /** Header names in any case; values already joined with ", " for repeated headers. */
  headers?: Record<string, string>;
  routeKey?: string;
  pathParameters?: Record<string, string>;
  body?: Buffer | string;
  sourceIp?: string;
  /** `requestContext.authorizer` as API Gateway's authorizer left it (`{ jwt: { claims, scopes } }` or `{ iam: {...} }`). */
  authorizer?: unknown;
}

/** HTTP API hands text bodies through as strings and base64-encodes everything else. */
const TEXT_TYPES = /^(text\/|application\/(json|.*\+json|xml|x-www-form-urlencoded|javascript))/i;

export function httpEvent(input: HttpEventInput): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.headers ?? {})) headers[k.toLowerCase()] = v;
  const now = new Date();
  const query = input.rawQueryString ?? '';
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: input.routeKey ?? '$default',
    rawPath: input.rawPath,
    rawQueryString: query,
    headers,
    requestContext: {
      accountId: '123456789012',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'localhost',
      http: {
        method: input.method.toUpperCase(),
        path: input.rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: input.sourceIp ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: input.routeKey ?? '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: false,
  };
  if (input.authorizer !== undefined) Object.assign(event.requestContext, { authorizer: input.authorizer });
  if (headers.cookie) event.cookies = headers.cookie.split(/;\s*/);
  if (query) event.queryStringParameters = queryParameters(query);
  if (input.pathParameters) event.pathParameters = input.pathParameters;
  if (input.body !== undefined && input.body.length > 0) {
    const bytes = Buffer.isBuffer(input.body) ? input.body : Buffer.from(input.body);
    const isText = TEXT_TYPES.test(headers['content-type'] ?? '');
    event.body = isText ? bytes.toString('utf8') : bytes.toString('base64');
    event.isBase64Encoded = !isText;
  }
  return event;
}

/** HTTP API joins repeated query parameters with a comma. */
function queryParameters(query: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(query)) out[k] = k in out ? `${out[k]},${v}` : v;
  return out;
}

export function lambdaContext(options: { functionName?: string; timeoutMs?: number } = {}): Context {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  const functionName = options.functionName ?? 'local';
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export interface SqsEventOptions {
  /** Queue name in the records' `eventSourceARN`. */
  queueName?: string;
  /** Per body: the message id (kept across redeliveries, as SQS does). Default: fresh UUIDs. */
  messageIds?: string[];
  /** Per body: `ApproximateReceiveCount` (1 on the first delivery). */
  receiveCounts?: number[];
  /** Per body: `ApproximateFirstReceiveTimestamp` (epoch ms; default now), kept across redeliveries as SQS does. */
  firstReceivedAt?: number[];
  /** Per body: the `SenderId` SQS records (default `LOCAL_DIRECT_SENDER`; `LOCAL_EVENTBRIDGE_SENDER` for a rule's delivery). */
  senderIds?: string[];
  /** Per body: message attributes as they were sent (SendMessage's shape), delivered in Lambda's. */
  messageAttributes?: Array<Record<string, { DataType: string; StringValue: string }> | undefined>;
}

/** SendMessage's `MessageAttributes` as Lambda's SQS event holds them (lower-case keys, empty lists). */
function lambdaMessageAttributes(sent: Record<string, { DataType: string; StringValue: string }> = {}): SQSRecord['messageAttributes'] {
  return Object.fromEntries(
    Object.entries(sent).map(([name, a]) => [name, { dataType: a.DataType, stringValue: a.StringValue, stringListValues: [], binaryListValues: [] }]),
  );
}

/**
 * The `SenderId`s of the local shapes. SQS sets it from the sending request's credentials: an IAM
 * user id (`AIDA…`), a role id and session (`AROA…:<session>`), or for a rule's delivery the
 * EventBridge service's own id. Made-up values of those forms.
 */
export const LOCAL_DIRECT_SENDER = 'AIDAEXAMPLELOCAL';
export const LOCAL_EVENTBRIDGE_SENDER = 'AIDAEVENTBRIDGELOCAL';

/** The ARN of a job's local EventBridge rule (JOB_RULE_ARN of the local consumers). */
export const localRuleArn = (kind: JobKind) => `arn:aws:events:eu-west-1:123456789012:rule/authgate-local-${kind}-requested`;

let defaultSources: string[] | undefined;
/** What the local consumers accept events from: the stage's default jobEventSources and the local rule. */
export function localProvenance(kind: JobKind): Provenance {
  defaultSources ??= jobEventSources();
  return { eventSources: defaultSources, ruleArn: localRuleArn(kind) };
}

/**
 * An SQS event as Lambda's event source mapping delivers it: one record per body, with the
 * attributes and MD5 SQS sets. Redeliveries reuse `messageIds` and raise `receiveCounts`.
 *
 * @example
 * sqsEvent([JSON.stringify({ appId: 'app_demo' })], { queueName: 'authgate-dev-expire-all' })
 */
export function sqsEvent(bodies: string[], opts: SqsEventOptions = {}): SQSEvent {
  const queueName = opts.queueName ?? 'authgate-local-jobs';
  const now = String(Date.now());
  return {
    Records: bodies.map(
      (body, i): SQSRecord => ({
        messageId: opts.messageIds?.[i] ?? randomUUID(),
        receiptHandle: `local-${randomUUID()}`,
        body,
        attributes: {
          ApproximateReceiveCount: String(opts.receiveCounts?.[i] ?? 1),
          SentTimestamp: now,
          SenderId: opts.senderIds?.[i] ?? LOCAL_DIRECT_SENDER,
          ApproximateFirstReceiveTimestamp: String(opts.firstReceivedAt?.[i] ?? now),
        },
        messageAttributes: lambdaMessageAttributes(opts.messageAttributes?.[i]),
        md5OfBody: createHash('md5').update(body).digest('hex'),
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:eu-west-1:123456789012:${queueName}`,
        awsRegion: 'eu-west-1',
      }),
    ),
  };
}

/**
 * The body our EventBridge rule puts in a job queue: the event, wrapped by the rule target's
 * InputTransformer as `{"rule": <rule ARN>, "event": <the event>}` (resources/jobs.cjs); with
 * `rule: null`, the bare event (a rule without the transformer, or a direct sender). Defaults: the
 * local rule of the job whose detail-type it is, the first default jobEventSources value.
 *
 * @example
 * eventBridgeBody('authgate.logout.requested', { targets: [{ serverid, nonce }] })
 */
export function eventBridgeBody(detailType: string, detail: unknown, opts: { source?: string; id?: string; rule?: string | null } = {}): string {
  defaultSources ??= jobEventSources();
  const event = {
    version: '0',
    id: opts.id ?? randomUUID(),
    'detail-type': detailType,
    source: opts.source ?? defaultSources[0] ?? 'authgate.requests',
    account: '123456789012',
    time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: 'eu-west-1',
    resources: [],
    detail,
  };
  const kind = (Object.keys(DETAIL_TYPES) as JobKind[]).find((k) => DETAIL_TYPES[k] === detailType) ?? 'logout';
  const rule = opts.rule === undefined ? localRuleArn(kind) : opts.rule;
  return JSON.stringify(rule === null ? event : { rule, event });
}
