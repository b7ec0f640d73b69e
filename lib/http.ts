import middy, { type MiddlewareObj } from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { type AuditRecord, writeAudit } from './audit.ts';
import type { CallContext, KeyedCallContext } from './call-context.ts';
import { type Caller, callerOf, tokenHolder } from './caller.ts';
import { auditTargetOf, type HttpContract, idempotencyKeyOf, inputReader, type OperationInput, successorLink } from './contract.ts';
import { deadlineFromContext } from './deadline.ts';
import { edgeOriginGuard } from './edge-origin.ts';
import { ApiError, ConfigError, type Family, HttpError, internalErrorResponse, ValidationError } from './errors.ts';
import { JsonTooDeepError, jsonBody } from './json-body.ts';
import { log } from './log.ts';
import { requestRecorder, takeMetrics } from './metrics.ts';
import { scrubSecrets } from './redaction.ts';
import { assertTenant, TenantRefusal } from './tenancy.ts';

/**
 * The shared middy stack of every HTTP handler (API Gateway HTTP API, payload 2.0), configured
 * from the operation's contract (lib/contract.ts): log context → header normalisation → edge,
 * caller and tenant guards → body size limit → JSON body → handler, with one error responder that
 * turns any thrown error into the API family's own error shape. `operationHandler` puts the
 * contract's validated inputs and the call context (lib/call-context.ts) in the handler's hands.
 */

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2;
/** The event after the body stage: `body` is parsed JSON, or undefined when there was none. */
export type ParsedEvent = Omit<HttpEvent, 'body'> & { body: unknown };

export interface Invocation {
  /** What each upstream call of the request gets: its deadline and its audit record (call-context.ts). */
  call: CallContext;
  requestId: string;
  /** Who is calling (caller.ts): the key of its idempotency namespace and its name in the audit trail. */
  caller: Caller;
  operation: string;
}

/** What an operation's handler gets: for a contract with `idempotency`, a call context carrying the key to send Svix. */
export interface OperationInvocation<C extends HttpContract> extends Invocation {
  call: C['idempotency'] extends object ? KeyedCallContext : CallContext;
}

export type HttpFunction = (event: ParsedEvent, invocation: Invocation) => Promise<HttpResult>;

/** API Gateway allows 10 MB; nothing in these APIs needs more than a few KB (1000 session ids ≈ 66 KB). */
const DEFAULT_MAX_BODY_BYTES = 256 * 1024;

function bodySize(event: HttpEvent): number {
  if (!event.body) return 0;
  if (!event.isBase64Encoded) return Buffer.byteLength(event.body);
  // Base64 padding is not body: 16 bytes are 24 characters ending in `==`.
  const padding = event.body.endsWith('==') ? 2 : event.body.endsWith('=') ? 1 : 0;
  return Math.floor((event.body.length * 3) / 4) - padding;
}

const bodyLimit = (maxBytes: number): MiddlewareObj<HttpEvent> => ({
  before: ({ event }) => {
    if (bodySize(event) > maxBytes) {
      throw new ApiError(413, 'payload_too_large', `The request body is larger than ${maxBytes} bytes.`);
    }
  },
});

/** nextAuth clients send a body without Content-Type on provokeLoginOnAccount, so no type check there. */
const optionalJsonBody = (): MiddlewareObj<HttpEvent> => {
  const parser = jsonBody({ contentTypeCheck: false });
  return {
    before: (request) => {
      if (!request.event.body) {
        (request.event as ParsedEvent).body = undefined;
        return;
      }
      return parser.before?.(request as never);
    },
  };
};

/**
 * The invocation's audit record rides on its Lambda context (one per invocation, also when the local
 * API runs several at once), under a key no one else uses, from the first middleware to the last;
 * the handler hands it to the upstream calls in their call context (call-context.ts).
 */
const AUDIT = Symbol('authgate.audit');
type AuditedContext = Context & { [AUDIT]?: AuditRecord };
const auditOf = (context: Context): AuditRecord | undefined => (context as AuditedContext)[AUDIT];

function unauthenticated(family: Family): ApiError {
  // Svix's own 401 body; nextAuth documents none, so ours.
  return family === 'svix'
    ? new ApiError(401, 'authentication_failed', 'The token names no caller (no sub, client_id or azp claim).')
    : new ApiError(401, 'unauthorized', 'The token names no caller (no sub, client_id or azp claim).');
}

/**
 * Names the caller for everything after it. A JWT API Gateway accepted may still name nobody (no
 * `sub`, `client_id` or `azp`): such a caller could not be told apart from any other, so it gets
 * nothing (401) rather than a namespace shared with every other anonymous token.
 */
const callerGuard = ({ anonymous, family }: HttpContract): MiddlewareObj<HttpEvent, HttpResult, Error, Context> => ({
  before: ({ event, context }) => {
    const record = auditOf(context);
    const bearer = event.headers?.authorization;
    // An anonymous route (Svix logout) has no authorizer: the caller is whoever holds the bearer token it forwards.
    const caller = anonymous ? (bearer ? tokenHolder(bearer) : undefined) : callerOf(event.requestContext);
    if (!caller && !anonymous) throw unauthenticated(family);
    if (record && caller) record.caller = caller;
  },
});

/** Runs before the body is even parsed: a caller acting on another tenant learns nothing more. */
const tenantGuard = (family: Family, pathParameter: string): MiddlewareObj<HttpEvent> => ({
  before: ({ event, context }) => {
    try {
      assertTenant(event.requestContext, family, event.pathParameters?.[pathParameter]);
    } catch (error) {
      // The wire says only 403; the trail says why (which claim, missing or not listing the id).
      const record = auditOf(context);
      if (record && error instanceof TenantRefusal) record.reason = error.reason;
      throw error;
    }
  },
});

const ignoreBody = (): MiddlewareObj<HttpEvent> => ({
  before: ({ event }) => {
    (event as ParsedEvent).body = undefined;
  },
});

/** The body parser's errors (middy's, and ours) carry a status; say them in the family's words. */
function fromMiddyError(err: Error & { statusCode?: number }, family: Family): HttpError | undefined {
  if (err instanceof JsonTooDeepError) return new ValidationError([{ loc: ['body'], msg: err.message, type: 'value_error.jsondecode' }], family);
  if (err.statusCode === 415) {
    return new ApiError(415, 'unsupported_media_type', 'Expected a request with `Content-Type: application/json`.');
  }
  if (err.statusCode === 422 || err.statusCode === 400) {
    return new ValidationError([{ loc: ['body'], msg: 'The body is not valid JSON.', type: 'value_error.jsondecode' }], family);
  }
  return undefined;
}

function toResult(err: unknown, family: Family, operation: string): HttpResult {
  if (err instanceof HttpError) {
    if (err.statusCode >= 500) log.error('request failed', { operation, status: err.statusCode, error: err, cause: err.cause });
    return err.toResponse();
  }
  if (err instanceof Error) {
    const mapped = fromMiddyError(err, family);
    if (mapped) return mapped.toResponse();
    if (err instanceof ConfigError) log.error('configuration error', { operation, variable: err.variable, error: err });
    else log.error('unhandled error', { operation, error: err });
  }
  return internalErrorResponse();
}

/** No registered secret leaves in a response, whatever field or header it hides in (redaction.ts). */
function scrubResponse(response: HttpResult | null | undefined): void {
  if (!response) return;
  if (typeof response.body === 'string' && !response.isBase64Encoded) response.body = scrubSecrets(response.body);
  const headers = response.headers as Record<string, unknown> | undefined;
  for (const name in headers) {
    const value = headers[name];
    if (typeof value === 'string') headers[name] = scrubSecrets(value);
  }
}

/**
 * The log context, the response scrub, and the invocation's one record: its audit record carrying
 * its metrics and its upstream calls' (lib/metrics.ts, lib/upstream/retry.ts) as EMF.
 */
const invocationLog = (operation: string, family: Family): MiddlewareObj<HttpEvent, HttpResult> => {
  const dimensions = { family, operation };
  const recordRequest = requestRecorder(dimensions);
  const done = (request: { response: HttpResult | null | undefined; context: Context }) => {
    scrubResponse(request.response);
    const record = auditOf(request.context);
    if (!record) return;
    record.status = request.response?.statusCode;
    record.durationMs = Date.now() - (record.startedAt ?? Date.now());
    recordRequest(record.status, record.durationMs);
    writeAudit(record, undefined, takeMetrics(dimensions));
  };
  return {
    before: ({ event, context }) => {
      log.setContext({ operation, requestId: context.awsRequestId, apiRequestId: event.requestContext?.requestId });
    },
    after: done,
    onError: done,
  };
};

/** How the body is read, from the contract: required JSON, JSON when present, or ignored. */
function bodyStageOf(contract: HttpContract): MiddlewareObj<HttpEvent, HttpResult> {
  if (!contract.body) return ignoreBody();
  return (contract.body.presence === 'required' ? jsonBody() : optionalJsonBody()) as MiddlewareObj<HttpEvent, HttpResult>;
}

/**
 * Wraps a handler in the shared stack configured from `contract`. The handler gets the parsed
 * event; `operationHandler` is what a function uses.
 *
 * @example
 * export const handler = httpHandler(contract, async (event, { call }) => json(200, await work(call)));
 */
export function httpHandler(contract: HttpContract, fn: HttpFunction) {
  const { operation, family } = contract;

  const errorResponder: MiddlewareObj<HttpEvent, HttpResult> = {
    onError: (request) => {
      request.response = toResult(request.error, family, operation);
    },
  };

  // No middy early-timeout: every upstream attempt is already bounded by the Lambda's remaining
  // time less a margin (deadline.ts), so a slow upstream answers 504 before the timeout; middy's
  // per-invocation AbortController, timer and race were the largest cost of a warm call.
  const stack = middy<HttpEvent, HttpResult, Error, Context>({ timeoutEarlyInMillis: 0 })
    .use(invocationLog(operation, family))
    .use(errorResponder)
    .use(httpHeaderNormalizer())
    .use(edgeOriginGuard())
    .use(callerGuard(contract));
  if (contract.tenant) stack.use(tenantGuard(family, contract.tenant));
  const lambda = stack
    .use(bodyLimit(contract.body?.maxBytes ?? DEFAULT_MAX_BODY_BYTES))
    .use(bodyStageOf(contract))
    .handler((event, context) => {
      // HTTP API omits `headers` when there are none.
      event.headers ??= {};
      const record = auditOf(context);
      // The session ids an expire-all names, once the body is parsed (contract.ts `audit`).
      if (record && contract.audit?.sessionIds) Object.assign(record.target, auditTargetOf(contract, { body: event.body }));
      // callerGuard has named the caller, or refused the request (the anonymous route's handler refuses a missing bearer).
      const caller = record?.caller ?? { id: 'anonymous' };
      const call: CallContext = { deadline: deadlineFromContext(context), audit: record };
      return fn(event as unknown as ParsedEvent, { call, requestId: context.awsRequestId, caller, operation });
    });
  return (event: HttpEvent, context: Context) => {
    const record: AuditRecord = {
      operation,
      target: auditTargetOf(contract, { path: event.pathParameters, headers: event.headers }),
      sourceIp: event.requestContext?.http?.sourceIp,
      userAgent: event.requestContext?.http?.userAgent,
      apiRequestId: event.requestContext?.requestId,
      requestId: context.awsRequestId,
      startedAt: Date.now(),
    };
    (context as AuditedContext)[AUDIT] = record;
    return lambda(event, context);
  };
}

/**
 * The Lambda handler of an operation: the shared stack configured from the contract, then `fn`
 * with the inputs validated against it and the call context to hand its upstream call (with the
 * key to send Svix, for a contract with `idempotency`). A deprecated operation's answer gets its
 * `Deprecation` and `Link` headers here.
 *
 * @example
 * export const handler = operationHandler(getSessionContract, async ({ path, headers }, { call }) =>
 *   json(200, await getSession(path.serverid, headers['x-nonce'], call)));
 */
export function operationHandler<C extends HttpContract>(
  contract: C,
  fn: (input: OperationInput<C>, invocation: OperationInvocation<C>) => Promise<HttpResult>,
) {
  const read = inputReader(contract);
  return httpHandler(contract, async (event, invocation) => {
    const input = read(event as Parameters<typeof read>[0]);
    const idempotencyKey = idempotencyKeyOf(contract, input, invocation.caller);
    const call = idempotencyKey === undefined ? invocation.call : { ...invocation.call, idempotencyKey };
    const result = await fn(input, { ...invocation, call } as OperationInvocation<C>);
    if (contract.successor) {
      result.headers = { ...result.headers, deprecation: 'true', link: successorLink(contract.successor, input.path as Record<string, unknown>) };
    }
    return result;
  });
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

export function empty(statusCode: number, headers: Record<string, string> = {}): HttpResult {
  return { statusCode, headers, body: '' };
}

/** API Gateway returns binary bodies that the Lambda base64-encodes and flags. */
export function binary(statusCode: number, bytes: Buffer, contentType: string): HttpResult {
  return { statusCode, headers: { 'content-type': contentType }, body: bytes.toString('base64'), isBase64Encoded: true };
}

/** A header by its lower-case name (after `httpHeaderNormalizer`). */
export function header(event: ParsedEvent, name: string): string | undefined {
  return event.headers?.[name];
}
