import { describe, expect, it } from 'vitest';
import {
  ApiError,
  ConfigError,
  internalErrorResponse,
  SecretUnavailableError,
  UpstreamResponseError,
  UpstreamTransportError,
  UpstreamUnavailableError,
  ValidationError,
} from '#lib/errors';

const issue = { loc: ['body', 'expiry'], msg: 'Invalid value', type: 'value_error' };

describe('ApiError', () => {
  it('answers {code, detail} as JSON with its status', () => {
    const response = new ApiError(409, 'conflict', 'Already there.').toResponse();

    expect(response).toEqual({ statusCode: 409, headers: { 'content-type': 'application/json' }, body: '{"code":"conflict","detail":"Already there."}' });
  });
});

describe('ValidationError', () => {
  it('is a 422 HTTPValidationError for Svix', () => {
    const err = new ValidationError([issue], 'svix');

    expect(err.statusCode).toBe(422);
    expect(JSON.parse(err.toResponse().body)).toEqual({ detail: [issue] });
  });

  it('is a 400 {code, detail} for nextAuth, the detail naming where', () => {
    const err = new ValidationError([issue, { loc: ['path', 'serverid'], msg: 'must be base64', type: 'value_error' }], 'nextauth');

    expect(err.statusCode).toBe(400);
    expect(JSON.parse(err.toResponse().body)).toEqual({ code: 'validation_error', detail: 'body.expiry: Invalid value; path.serverid: must be base64' });
  });
});

describe('UpstreamResponseError', () => {
  it("passes the upstream's status, shaped payload and headers on", () => {
    const response = new UpstreamResponseError(429, { code: 'rate_limit', detail: 'Slow down' }, { 'retry-after': '3' }).toResponse();

    expect(response.statusCode).toBe(429);
    expect(response.headers).toEqual({ 'content-type': 'application/json', 'retry-after': '3' });
    expect(JSON.parse(response.body)).toEqual({ code: 'rate_limit', detail: 'Slow down' });
  });
});

describe('UpstreamUnavailableError', () => {
  it('names each status by its code and keeps Retry-After only when given', () => {
    const codes = ([502, 503, 504] as const).map((status) => JSON.parse(new UpstreamUnavailableError(status, 'd').toResponse().body).code);
    const withRetry = new UpstreamUnavailableError(503, 'down', { retryAfter: '30' }).toResponse();

    expect(codes).toEqual(['bad_gateway', 'service_unavailable', 'gateway_timeout']);
    expect(withRetry.headers['retry-after']).toBe('30');
    expect(new UpstreamUnavailableError(502, 'd').toResponse().headers).not.toHaveProperty('retry-after');
  });

  it('keeps its cause for the logs, not for the response', () => {
    const cause = new UpstreamTransportError('timeout', 'attempt timed out');
    const err = new UpstreamUnavailableError(504, 'The upstream did not answer in time.', { cause });

    expect(err.cause).toBe(cause);
    expect(err.toResponse().body).not.toContain('attempt timed out');
  });
});

describe('ConfigError', () => {
  it('names the variable and the problem', () => {
    const err = new ConfigError('SVIX_API_URL', 'is not set');

    expect(err.message).toBe('SVIX_API_URL is not set');
    expect(err.variable).toBe('SVIX_API_URL');
    expect(err.name).toBe('ConfigError');
  });
});

describe('SecretUnavailableError', () => {
  it('is a generic 503 that does not name the secret', () => {
    const response = new SecretUnavailableError('prod/svix/org-key').toResponse();

    expect(response.statusCode).toBe(503);
    expect(JSON.parse(response.body)).toEqual({ code: 'service_unavailable', detail: 'The gateway cannot reach its credentials store; try again later.' });
    expect(response.body).not.toContain('prod/svix');
  });
});

describe('internalErrorResponse', () => {
  it('is a 500 that says nothing about what went wrong', () => {
    expect(internalErrorResponse()).toEqual({
      statusCode: 500,
      headers: { 'content-type': 'application/json' },
      body: '{"code":"internal_server_error","detail":"Internal server error."}',
    });
  });
});
