import { describe, expect, it } from 'vitest';
import { ApiError, type HttpError, UpstreamUnavailableError } from '#lib/errors';
import { parseJson } from '#lib/upstream/answer';
import { ensureOk, failureFor, headerValue, retryAfterOf } from '#lib/upstream/failures';
import type { UpstreamReply } from '#lib/upstream/transport';

const reply = (status: number, headers: UpstreamReply['headers'] = {}): UpstreamReply => ({ status, headers, body: Buffer.from('{"code":"x","detail":"y"}') });

/** The family's pass-through, recording what it was given. */
const passThrough = (reply: UpstreamReply): HttpError => new ApiError(reply.status, 'passed', `passed ${reply.status}`);

describe('failureFor', () => {
  it('makes a 503 ours, keeping a valid Retry-After', () => {
    const err = failureFor(reply(503, { 'retry-after': '7' }), passThrough);

    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect(err.statusCode).toBe(503);
    expect(err.toResponse().headers['retry-after']).toBe('7');
  });

  it('makes any other 5xx a 502 without Retry-After', () => {
    const err = failureFor(reply(500, { 'retry-after': '7' }), passThrough);

    expect(err.statusCode).toBe(502);
    expect(err.toJSON()).toEqual({ code: 'bad_gateway', detail: 'The upstream failed (HTTP 500).' });
    expect(err.toResponse().headers).not.toHaveProperty('retry-after');
  });

  it("passes 4xx on through the family's pass-through", () => {
    expect(failureFor(reply(404), passThrough).toJSON()).toEqual({ code: 'passed', detail: 'passed 404' });
    expect(failureFor(reply(429), passThrough).statusCode).toBe(429);
  });

  it('makes a redirect or an informational status a 502 (redirects are not followed)', () => {
    expect(failureFor(reply(302), passThrough).toJSON()).toEqual({ code: 'bad_gateway', detail: 'The upstream answered an unexpected HTTP 302.' });
    expect(failureFor(reply(101), passThrough).statusCode).toBe(502);
  });
});

describe('ensureOk', () => {
  it('lets every 2xx through and throws what anything else becomes', () => {
    expect(() => ensureOk(reply(200), passThrough)).not.toThrow();
    expect(() => ensureOk(reply(204), passThrough)).not.toThrow();
    expect(() => ensureOk(reply(299), passThrough)).not.toThrow();
    expect(() => ensureOk(reply(300), passThrough)).toThrow(UpstreamUnavailableError);
    expect(() => ensureOk(reply(400), passThrough)).toThrow('passed 400');
  });
});

describe('retryAfterOf', () => {
  const of = (value: string | string[] | undefined) => retryAfterOf(reply(429, value === undefined ? {} : { 'retry-after': value as string }));

  it('passes delay-seconds on, trimmed, up to 9 digits', () => {
    expect(of('0')).toBe('0');
    expect(of(' 120 ')).toBe('120');
    expect(of('999999999')).toBe('999999999');
  });

  it('passes a valid HTTP-date on', () => {
    expect(of('Wed, 21 Oct 2015 07:28:00 GMT')).toBe('Wed, 21 Oct 2015 07:28:00 GMT');
  });

  it('keeps anything else (an echo of what we sent) to itself', () => {
    for (const value of ['', '1234567890', '-1', '1.5', 'soon', '120 sk_live_echo', 'Wed, 21 Oct 2015 07:28:00 UTC', 'Xyz, 99 Foo 2015 99:99:99 GMT']) {
      expect(of(value), value).toBeUndefined();
    }
    expect(of(undefined)).toBeUndefined();
  });

  it('reads the first of repeated headers', () => {
    expect(of(['5', 'later'])).toBe('5');
  });
});

describe('headerValue', () => {
  it('reads a header, or the first of a list', () => {
    const r = reply(200, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] });

    expect(headerValue(r, 'content-type')).toBe('application/json');
    expect(headerValue(r, 'set-cookie')).toBe('a=1');
    expect(headerValue(r, 'x-missing')).toBeUndefined();
  });
});

describe('parseJson', () => {
  it('parses JSON bytes and gives undefined for anything else', () => {
    expect(parseJson(Buffer.from('{"a":[1,2]}'))).toEqual({ a: [1, 2] });
    expect(parseJson(Buffer.from('<html>'))).toBeUndefined();
    expect(parseJson(Buffer.alloc(0))).toBeUndefined();
  });
});
