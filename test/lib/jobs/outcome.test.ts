import { describe, expect, it } from 'vitest';
import { ApiError, ConfigError, UpstreamResponseError, UpstreamTransportError, UpstreamUnavailableError } from '#lib/errors';
import { classify } from '#lib/jobs/outcome';

describe('classify', () => {
  it('is done when nothing was thrown', () => {
    expect(classify(undefined, 'svix.expire-all')).toEqual({ kind: 'done' });
  });

  it('makes a 404 permanent, saying what does not exist for each kind of target', () => {
    expect(classify(new UpstreamResponseError(404, {}), 'svix.expire-all')).toEqual({ kind: 'permanent', status: 404, reason: '404: no such Svix app' });
    expect(classify(new ApiError(404, 'not_found', 'x'), 'nextauth.logout')).toEqual({
      kind: 'permanent',
      status: 404,
      reason: '404: no such nextAuth server (or no key for it in the gateway secret)',
    });
  });

  it('a 429 is rate-limited, with when the upstream said to come back', () => {
    const refused = new UpstreamResponseError(429, {}, { 'retry-after': '3' });
    expect(classify(refused, 'svix.expire-all')).toEqual({ kind: 'rate-limited', status: 429, reason: '429: upstream answered 429', retryAfterMs: 3_000 });
    expect(classify(new UpstreamResponseError(429, {}), 'nextauth.logout')).toEqual({
      kind: 'rate-limited',
      status: 429,
      reason: '429: upstream answered 429',
    });
  });

  it('retries conflicts, timeouts and server faults', () => {
    for (const status of [408, 409, 425]) {
      expect(classify(new UpstreamResponseError(status, {}), 'svix.expire-all')).toEqual({
        kind: 'transient',
        status,
        reason: `${status}: upstream answered ${status}`,
      });
    }
    expect(classify(new UpstreamUnavailableError(503, 'The upstream is unavailable.'), 'nextauth.logout')).toEqual({
      kind: 'transient',
      status: 503,
      reason: '503: The upstream is unavailable.',
    });
  });

  it('does not retry any other 4xx', () => {
    for (const status of [400, 401, 403, 422]) {
      expect(classify(new UpstreamResponseError(status, {}), 'svix.expire-all')).toMatchObject({ kind: 'permanent', status });
    }
  });

  it('does not retry an exchange that can never succeed, even as a 5xx', () => {
    const cause = new UpstreamTransportError('invalid', 'answer too large');

    expect(classify(new UpstreamUnavailableError(502, 'too large', { cause }), 'svix.expire-all')).toMatchObject({ kind: 'permanent', status: 502 });
    expect(classify(new UpstreamUnavailableError(504, 'slow', { cause: new UpstreamTransportError('timeout', 't') }), 'svix.expire-all')).toMatchObject({
      kind: 'transient',
    });
  });

  it('retries an error answer outside 4xx and 5xx (nothing a client expects)', () => {
    expect(classify(new ApiError(302, 'redirect', 'moved'), 'svix.expire-all')).toEqual({ kind: 'transient', status: 302, reason: '302: moved' });
  });

  it('retries configuration errors and bugs, naming them without their message', () => {
    expect(classify(new ConfigError('SVIX_API_URL', 'is not set'), 'svix.expire-all')).toEqual({
      kind: 'transient',
      reason: 'configuration: SVIX_API_URL is not set',
    });
    expect(classify(new TypeError('secret in a message'), 'nextauth.logout')).toEqual({ kind: 'transient', reason: 'unexpected TypeError' });
    expect(classify('a string', 'nextauth.logout')).toEqual({ kind: 'transient', reason: 'unexpected error' });
  });
});
