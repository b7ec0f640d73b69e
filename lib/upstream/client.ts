import * as v from 'valibot';
import type { CallContext } from '../call-context.ts';
import { setting, UPSTREAM_ATTEMPT_TIMEOUT_MS, type UrlVariable } from '../config.ts';
import { type HttpError, UpstreamUnavailableError } from '../errors.ts';
import type { CredentialSource } from './credentials.ts';
import { callWithRetry, DEFAULT_POLICY, type RetryPolicy } from './retry.ts';
import { preconnectAtInit, send, type UpstreamReply } from './transport.ts';

/**
 * The one way to call an upstream, for both families, read top to bottom: where the call goes
 * (the URL under the base URL, the per-attempt bound), the credentials (credentials.ts, or the
 * caller's own), the retry policy (retry.ts) over one transport (transport.ts), what a failure
 * becomes for our caller (`Retry-After` included), and how a 2xx answer is read with its schema.
 * In Lambda the connection is opened at init (transport.ts, `preconnectAtInit`). svix.ts and
 * nextauth.ts only say what each operation sends, and read what it gets back (`answerOf`).
 *
 * Headers are built from scratch by the family's `headers`, so nothing a caller sent reaches the
 * upstream. Should the upstream (or a proxy before it) echo a key in its answer, lib/http.ts scrubs
 * the answer before it leaves (redaction.ts).
 */

/** One operation's call. */
export interface UpstreamRequest {
  /** For logs and metrics (`svix.expire-all`), never the URL with its ids. */
  operation: string;
  method: 'GET' | 'POST';
  /** Path from the API root, already percent-encoded. */
  path: string;
  query?: URLSearchParams;
  /** Sent as JSON when defined. */
  body?: unknown;
  /** Whether repeating the request is harmless: only then is it retried (retry.ts). */
  safe: boolean;
  /** The work's deadline, audit record and idempotency key (call-context.ts), as the caller passed them. */
  call: CallContext;
}

export interface UpstreamClientOptions<C, R extends UpstreamRequest> {
  baseUrlVariable: UrlVariable;
  credentials: CredentialSource<C, R>;
  /** Every header of one attempt (`attempt` counts from 1), credentials included; `content-type` and `user-agent` are added. */
  headers(credentials: C, request: R, attempt: number): Record<string, string>;
  /** What an upstream 4xx becomes for our caller (`failureFor`). */
  passThrough(reply: UpstreamReply): HttpError;
}

export interface UpstreamClient<R extends UpstreamRequest> {
  /** The 2xx reply; anything else is thrown as what it becomes for our caller. */
  call(request: R): Promise<UpstreamReply>;
}

const USER_AGENT = 'authgate/0.1';

/**
 * @example
 * const client = upstreamClient({ baseUrlVariable: SVIX_API_URL, credentials, headers, passThrough });
 * const reply = await client.call({ operation, method: 'POST', path, body, safe: true, call });
 */
export function upstreamClient<C, R extends UpstreamRequest>(options: UpstreamClientOptions<C, R>): UpstreamClient<R> {
  const endpoint = upstreamEndpoint(options.baseUrlVariable);
  preconnectAtInit(options.baseUrlVariable);

  function attempts(credentials: C, request: R): Promise<UpstreamReply> {
    const shared = endpoint.url(request.path);
    // The endpoint's URL is shared between calls: a query goes on a copy.
    const url = request.query?.size ? new URL(shared) : shared;
    if (request.query?.size) url.search = request.query.toString();
    const body = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
    return callWithRetry(
      (timeoutMs, attempt) => {
        const headers = options.headers(credentials, request, attempt);
        headers['user-agent'] = USER_AGENT;
        if (body) headers['content-type'] = 'application/json';
        return send({ method: request.method, url, headers, body, timeoutMs });
      },
      {
        deadline: request.call.deadline,
        audit: request.call.audit,
        policy: endpoint.policy(request.safe),
        operation: request.operation,
        waitOutRateLimits: request.call.waitOutRateLimits,
      },
    );
  }

  return {
    async call(request) {
      const reply = await options.credentials.use(request, (credentials) => attempts(credentials, request));
      ensureOk(reply, options.passThrough);
      return reply;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Where a call goes: the URL and the policy of one upstream.

/**
 * Where an upstream lives and how long one attempt may take (both from lib/config.ts): the part
 * of calling an upstream that does not depend on which upstream it is.
 *
 * @example
 * const svix = upstreamEndpoint(SVIX_API_URL);
 * send({ method: 'POST', url: svix.url('/api/v1/auth/logout'), ... }) // under svix.policy(true)
 */
export interface UpstreamEndpoint {
  /**
   * `path` (already percent-encoded) under the base URL, keeping any base path. Shared between
   * calls to the same path: read it, never change it (a query goes on a copy).
   */
  url(path: string): URL;
  /** The retry policy with this deployment's per-attempt bound; `safe`: repeating is harmless. */
  policy(safe: boolean): RetryPolicy;
}

/**
 * Parsed URLs kept per path: a URL parse measured 8 µs of a warm request in the bench
 * (docs/performance-warm.md). Paths carry caller-chosen ids, so the cache is bounded: when full it
 * starts again.
 */
const MAX_CACHED_URLS = 256;

interface Derived {
  base: URL;
  attemptTimeoutMs: number;
  root: string;
  policies: { true: RetryPolicy; false: RetryPolicy };
  urls: Map<string, URL>;
}

export function upstreamEndpoint(baseUrlVariable: UrlVariable): UpstreamEndpoint {
  let derived: Derived | undefined;
  // Worked out once per configuration (config.ts reads each variable once per container): the base
  // without query, fragment or trailing slash, so each call parses one absolute URL instead of
  // resolving against the base (a measurable part of a warm call).
  const config = (): Derived => {
    const base = setting(baseUrlVariable);
    const attemptTimeoutMs = setting(UPSTREAM_ATTEMPT_TIMEOUT_MS);
    if (derived?.base === base && derived.attemptTimeoutMs === attemptTimeoutMs) return derived;
    const root = new URL(base);
    root.search = '';
    root.hash = '';
    derived = {
      base,
      attemptTimeoutMs,
      root: root.href.replace(/\/$/, ''),
      // Shared by every call, so frozen.
      policies: {
        true: Object.freeze({ ...DEFAULT_POLICY, safe: true, attemptTimeoutMs }),
        false: Object.freeze({ ...DEFAULT_POLICY, safe: false, attemptTimeoutMs }),
      },
      urls: new Map(),
    };
    return derived;
  };
  return {
    url: (path) => {
      const { root, urls } = config();
      let url = urls.get(path);
      if (!url) {
        if (urls.size >= MAX_CACHED_URLS) urls.clear();
        url = new URL(root + path);
        urls.set(path, url);
      }
      return url;
    },
    policy: (safe) => config().policies[`${safe}`],
  };
}

// ---------------------------------------------------------------------------------------------
// What comes back: a failure for our caller, or a 2xx answer read with its schema.

/**
 * What an upstream error status becomes for our caller. Server faults are ours to explain
 * (502/503); client-side statuses are the upstream's answer to the caller and go back through the
 * family-specific `passThrough`. The upstream's `Retry-After` is kept on a 503 and on a 4xx (a 429
 * above all), here only: the pass-throughs do not deal with it.
 */
export function failureFor(reply: UpstreamReply, passThrough: (reply: UpstreamReply) => HttpError): HttpError {
  if (reply.status === 503) return withRetryAfter(new UpstreamUnavailableError(503, 'The upstream is unavailable.'), reply);
  if (reply.status >= 500) return new UpstreamUnavailableError(502, `The upstream failed (HTTP ${reply.status}).`);
  if (reply.status >= 400) return withRetryAfter(passThrough(reply), reply);
  // 1xx/3xx: nothing a client of the upstream API expects; redirects are not followed on purpose.
  return new UpstreamUnavailableError(502, `The upstream answered an unexpected HTTP ${reply.status}.`);
}

function withRetryAfter(error: HttpError, reply: UpstreamReply): HttpError {
  const retryAfter = retryAfterOf(reply);
  if (retryAfter) error.headers['retry-after'] = retryAfter;
  return error;
}

/** Throws what a non-2xx reply becomes for our caller (see `failureFor`). */
export function ensureOk(reply: UpstreamReply, passThrough: (reply: UpstreamReply) => HttpError): void {
  if (reply.status < 200 || reply.status >= 300) throw failureFor(reply, passThrough);
}

export function headerValue(reply: UpstreamReply, name: string): string | undefined {
  const value = reply.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The upstream's `Retry-After`, passed on only in one of the two forms HTTP defines (delay-seconds
 * or an HTTP-date): a header is the one upstream text a caller gets verbatim, so anything else in
 * it (an echo of what we sent) stays here.
 */
export function retryAfterOf(reply: UpstreamReply): string | undefined {
  const value = headerValue(reply, 'retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d{1,9}$/.test(value)) return value;
  return /^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(value) && !Number.isNaN(Date.parse(value)) ? value : undefined;
}

/** The JSON in `body`, or `undefined` for anything that is not JSON (an HTML error page, nothing). */
export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * An upstream's 2xx answer, read with its schema. An answer that does not fit is the upstream's
 * fault, not the caller's: 502, and its text is never passed on.
 *
 * @example
 * answerOf(reply.body, PortalAccessOut, 'Svix')   // { url, token }, or a 502
 */
export function answerOf<S extends v.GenericSchema>(body: Buffer, schema: S, upstream: string): v.InferOutput<S> {
  return checkedAnswer(parseJson(body), schema, upstream);
}

/** `answerOf` for an answer already parsed. */
export function checkedAnswer<S extends v.GenericSchema>(answer: unknown, schema: S, upstream: string): v.InferOutput<S> {
  const out = v.safeParse(schema, answer);
  if (!out.success) throw new UpstreamUnavailableError(502, `${upstream} answered with an unexpected body.`);
  return out.output;
}
