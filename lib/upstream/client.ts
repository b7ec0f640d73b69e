import type { UrlVariable } from '../config.ts';
import type { Deadline } from '../deadline.ts';
import type { HttpError } from '../errors.ts';
import { upstreamEndpoint } from './endpoint.ts';
import { ensureOk } from './failures.ts';
import { callWithRetry } from './retry.ts';
import { send, type UpstreamReply } from './transport.ts';
import { preconnectAtInit } from './warm-up.ts';

/**
 * The one way to call an upstream, for both families: the URL under the base URL (endpoint.ts),
 * the credentials (credentials.ts, or the caller's own), the retry policy with its per-attempt
 * bound (retry.ts) over one transport (transport.ts), what a failure becomes for our caller
 * (failures.ts, `Retry-After` included). In Lambda the connection is opened at init (warm-up.ts).
 * svix.ts and nextauth.ts only say what each operation sends, and read what it gets back with its
 * schema (answer.ts).
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
  deadline: Deadline;
}

/** Where a request's credentials come from: `use` runs `attempt` with them (and may run it again after a rotation). */
export interface CredentialSource<C, R> {
  use(request: R, attempt: (credentials: C) => Promise<UpstreamReply>): Promise<UpstreamReply>;
}

export interface UpstreamClientOptions<C, R extends UpstreamRequest> {
  baseUrlVariable: UrlVariable;
  credentials: CredentialSource<C, R>;
  /** Every header of one attempt (`attempt` counts from 1), credentials included; `content-type` and `user-agent` are added. */
  headers(credentials: C, request: R, attempt: number): Record<string, string>;
  /** What an upstream 4xx becomes for our caller (failures.ts). */
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
 * const reply = await client.call({ operation, method: 'POST', path, body, safe: true, deadline });
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
      { deadline: request.deadline, policy: endpoint.policy(request.safe), operation: request.operation },
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

/** Credentials the request carries itself (Svix logout: the caller's own app token). */
export function givenCredentials<C, R>(of: (request: R) => C): CredentialSource<C, R> {
  return { use: (request, attempt) => attempt(of(request)) };
}
