import { type HttpError, UpstreamUnavailableError } from '../errors.ts';
import type { UpstreamReply } from './transport.ts';

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
