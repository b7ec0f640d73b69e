/**
 * The gateway's error hierarchy. Handlers and lib code only throw; `lib/http.ts` turns an error
 * into a response through `toResponse()`, so each wire shape is decided here and nowhere else.
 *
 * Two wire families exist because the two upstreams differ:
 * - Svix: `{code, detail}` (HttpErrorOut) and, for 422, `{detail: [{loc, msg, type}]}`;
 * - nextAuth documents no error body at all, so the gateway answers its own `{code, detail}`.
 */

/** The two upstream API families: each has its own error shapes (see above). */
export type Family = 'svix' | 'nextauth';

/** Where a validation issue sits, Svix style: `["body", "expiry"]`, `["path", "app_id"]`. */
export type IssueLocation = (string | number)[];

export interface Issue {
  loc: IssueLocation;
  msg: string;
  type: string;
}

export interface ErrorResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

/** Base of every error that has a deliberate HTTP answer. */
export abstract class HttpError extends Error {
  abstract readonly statusCode: number;
  /** Extra response headers, e.g. `retry-after`. */
  readonly headers: Record<string, string> = {};
  abstract toJSON(): unknown;

  toResponse(): ErrorResponse {
    return {
      statusCode: this.statusCode,
      headers: { ...JSON_HEADERS, ...this.headers },
      body: JSON.stringify(this.toJSON()),
    };
  }
}

/** An answer in the `{code, detail}` shape (Svix's HttpErrorOut; the gateway's own for nextAuth). */
export class ApiError extends HttpError {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(detail, options);
    this.name = 'ApiError';
  }

  toJSON(): { code: string; detail: string } {
    return { code: this.code, detail: this.detail };
  }
}

/** Request input that breaks the API's schema. The wire shape depends on the API family. */
export class ValidationError extends HttpError {
  constructor(
    readonly issues: Issue[],
    readonly family: Family,
  ) {
    super(issues.map((i) => `${i.loc.join('.')}: ${i.msg}`).join('; '));
    this.name = 'ValidationError';
  }

  get statusCode(): number {
    // Svix answers schema violations with 422 HTTPValidationError; nextAuth with a bare 400.
    return this.family === 'svix' ? 422 : 400;
  }

  toJSON(): unknown {
    if (this.family === 'svix') return { detail: this.issues };
    return { code: 'validation_error', detail: this.message };
  }
}

/**
 * An error answer from the upstream, passed on with its status. Only the upstream's documented
 * shape is passed (re-serialised from its known fields), so nothing it echoed can leak through.
 */
export class UpstreamResponseError extends HttpError {
  constructor(
    readonly statusCode: number,
    private readonly payload: unknown,
    headers: Record<string, string> = {},
  ) {
    super(`upstream answered ${statusCode}`);
    this.name = 'UpstreamResponseError';
    Object.assign(this.headers, headers);
  }

  toJSON(): unknown {
    return this.payload;
  }
}

/** The upstream could not be reached, failed (5xx) or did not answer in time: 502, 503 or 504. */
export class UpstreamUnavailableError extends ApiError {
  constructor(statusCode: 502 | 503 | 504, detail: string, options?: ErrorOptions & { retryAfter?: string }) {
    const code = { 502: 'bad_gateway', 503: 'service_unavailable', 504: 'gateway_timeout' }[statusCode];
    super(statusCode, code, detail, options);
    this.name = 'UpstreamUnavailableError';
    if (options?.retryAfter) this.headers['retry-after'] = options.retryAfter;
  }
}

/** A transport failure of one attempt; the retry policy decides what it becomes. */
export class UpstreamTransportError extends Error {
  constructor(
    /** `invalid`: the exchange can never succeed (Node refused the request, the answer is too large). */
    readonly kind: 'timeout' | 'unreachable' | 'invalid',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'UpstreamTransportError';
  }
}

/** A required environment variable is missing or malformed. Names the variable, never a value. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

/** Secrets Manager (or the local secrets file) could not give us a secret we have no cached copy of. */
export class SecretUnavailableError extends ApiError {
  constructor(
    readonly secretId: string,
    options?: ErrorOptions,
  ) {
    // The secret's id is logged by the caller; the response stays generic.
    super(503, 'service_unavailable', 'The gateway cannot reach its credentials store; try again later.', options);
    this.name = 'SecretUnavailableError';
  }
}

/** Anything else: a bug. Answered 500 without a word about what went wrong inside. */
export const internalErrorResponse = (): ErrorResponse => new ApiError(500, 'internal_server_error', 'Internal server error.').toResponse();
