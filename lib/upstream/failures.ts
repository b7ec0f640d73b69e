import { type HttpError, UpstreamUnavailableError } from '../errors.ts';
import type { UpstreamReply } from './transport.ts';

/**
 * What an upstream error status becomes for our caller. Server faults are ours to explain
 * (502/503, with the upstream's `Retry-After` kept); client-side statuses are the upstream's
 * answer to the caller and go back through the family-specific `passThrough`.
 */
export function failureFor(reply: UpstreamReply, passThrough: (reply: UpstreamReply) => HttpError): HttpError {
  const retryAfter = retryAfterOf(reply);
  if (reply.status === 503) {
    return new UpstreamUnavailableError(503, 'The upstream is unavailable.', retryAfter ? { retryAfter } : {});
  }
  if (reply.status >= 500) return new UpstreamUnavailableError(502, `The upstream failed (HTTP ${reply.status}).`);
  if (reply.status >= 400) return passThrough(reply);
  // 1xx/3xx: nothing a client of the upstream API expects; redirects are not followed on purpose.
  return new UpstreamUnavailableError(502, `The upstream answered an unexpected HTTP ${reply.status}.`);
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

export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}
