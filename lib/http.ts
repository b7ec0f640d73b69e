import middy, { type MiddlewareObj } from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { type Deadline, deadlineFromContext } from './deadline.ts';
import { ApiError, ConfigError, HttpError, internalErrorResponse, ValidationError } from './errors.ts';
import { jsonBody } from './json-body.ts';
import { log } from './log.ts';
import { assertTenant, type TenantKind } from './tenancy.ts';

/**
 * The shared middy stack of every HTTP handler (API Gateway HTTP API, payload 2.0):
 * log context → header normalisation → body size limit → JSON body → handler, with one error
 * responder that turns any thrown error into the API family's own error shape.
 */

export type Family = 'svix' | 'nextauth';
export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2;
/** The event after the body stage: `body` is parsed JSON, or undefined when there was none. */
export type ParsedEvent = Omit<HttpEvent, 'body'> & { body: unknown };

export interface Invocation {
  deadline: Deadline;
  requestId: string;
}

export interface HttpOptions {
  /** For logs and metrics: `svix.app-portal-access`. */
  operation: string;
  family: Family;
  /** `json`: a JSON body is required; `optional-json`: parsed when present; `none`: ignored. */
  body: 'json' | 'optional-json' | 'none';
  maxBodyBytes?: number;
  /** Tenant binding: the path parameter naming the Svix app or nextAuth server acted on. */
  tenant?: { kind: TenantKind; pathParameter: string };
}

export type HttpFunction = (event: ParsedEvent, invocation: Invocation) => Promise<HttpResult>;

/** API Gateway allows 10 MB; nothing in these APIs needs more than a few KB (1000 session ids ≈ 66 KB). */
const DEFAULT_MAX_BODY_BYTES = 256 * 1024;

function bodySize(event: HttpEvent): number {
  if (!event.body) return 0;
  return event.isBase64Encoded ? Math.floor((event.body.length * 3) / 4) : Buffer.byteLength(event.body);
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

/** Runs before the body is even parsed: a caller acting on another tenant learns nothing more. */
const tenantGuard = (tenant: NonNullable<HttpOptions['tenant']>): MiddlewareObj<HttpEvent> => ({
  before: ({ event }) => assertTenant(event.requestContext, tenant.kind, event.pathParameters?.[tenant.pathParameter]),
});

const ignoreBody = (): MiddlewareObj<HttpEvent> => ({
  before: ({ event }) => {
    (event as ParsedEvent).body = undefined;
  },
});

/** middy's own errors (from the body parser) carry a status; say them in the family's words. */
function fromMiddyError(err: Error & { statusCode?: number }, family: Family): HttpError | undefined {
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

const invocationLog = (operation: string): MiddlewareObj<HttpEvent, HttpResult> => {
  // Kept on the invocation's own middy request (the local API runs several at once in one process);
  // a WeakMap keyed by context cost more per warm call than the rest of this middleware.
  const done = (request: { response: HttpResult | null | undefined; internal: { startedAt?: number } }) => {
    log.info('request', { operation, status: request.response?.statusCode, durationMs: Date.now() - (request.internal.startedAt ?? Date.now()) });
  };
  return {
    before: ({ event, context, internal }) => {
      (internal as { startedAt?: number }).startedAt = Date.now();
      log.setContext({ operation, requestId: context.awsRequestId, apiRequestId: event.requestContext?.requestId });
    },
    after: done,
    onError: done,
  };
};

/**
 * Wraps a handler in the shared stack.
 *
 * @example
 * export const handler = httpHandler(async (event, { deadline }) => json(200, await work(deadline)), {
 *   operation: 'svix.app-portal-access', family: 'svix', body: 'json',
 * });
 */
export function httpHandler(fn: HttpFunction, options: HttpOptions) {
  const { operation, family } = options;
  const bodyStage = {
    json: () => jsonBody(),
    'optional-json': optionalJsonBody,
    none: ignoreBody,
  }[options.body]();

  const errorResponder: MiddlewareObj<HttpEvent, HttpResult> = {
    onError: (request) => {
      request.response = toResult(request.error, family, operation);
    },
  };

  // No middy early-timeout: every upstream attempt is already bounded by the Lambda's remaining
  // time less a margin (deadline.ts), so a slow upstream answers 504 before the timeout; middy's
  // per-invocation AbortController, timer and race were the largest cost of a warm call.
  const stack = middy<HttpEvent, HttpResult, Error, Context>({ timeoutEarlyInMillis: 0 })
    .use(invocationLog(operation))
    .use(errorResponder)
    .use(httpHeaderNormalizer());
  if (options.tenant) stack.use(tenantGuard(options.tenant));
  return stack
    .use(bodyLimit(options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES))
    .use(bodyStage as MiddlewareObj<HttpEvent, HttpResult>)
    .handler((event, context) => {
      // HTTP API omits `headers` when there are none.
      event.headers ??= {};
      return fn(event as unknown as ParsedEvent, { deadline: deadlineFromContext(context), requestId: context.awsRequestId });
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
