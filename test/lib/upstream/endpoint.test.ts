import { afterEach, describe, expect, it } from 'vitest';
import { resetConfig, SVIX_API_URL } from '#lib/config';
import { ConfigError } from '#lib/errors';
import { upstreamEndpoint } from '#lib/upstream/endpoint';
import { DEFAULT_POLICY } from '#lib/upstream/retry';

const VARIABLE = 'SVIX_API_URL';

afterEach(() => {
  delete process.env[VARIABLE];
  delete process.env.UPSTREAM_ATTEMPT_TIMEOUT_MS;
});

describe('upstreamEndpoint', () => {
  it('puts paths under the base URL, keeping its base path with or without a trailing slash', () => {
    process.env[VARIABLE] = 'https://api.example.test/v2/';
    const withSlash = upstreamEndpoint(SVIX_API_URL);
    const first = withSlash.url('/api/v1/auth/logout').href;
    process.env[VARIABLE] = 'https://other.example.test/v2';
    resetConfig(); // another container
    const withoutSlash = upstreamEndpoint(SVIX_API_URL);

    expect(first).toBe('https://api.example.test/v2/api/v1/auth/logout');
    expect(withoutSlash.url('/servers/abc%2F/sessions/').href).toBe('https://other.example.test/v2/servers/abc%2F/sessions/');
  });

  it('reads its configuration once per container', () => {
    process.env[VARIABLE] = 'http://127.0.0.1:4010';
    const endpoint = upstreamEndpoint(SVIX_API_URL);
    endpoint.url('/x');

    process.env[VARIABLE] = 'http://127.0.0.1:9999';

    expect(endpoint.url('/x').href).toBe('http://127.0.0.1:4010/x');
  });

  it('gives the default policy with the deployment attempt bound and the safety asked for', () => {
    process.env[VARIABLE] = 'http://127.0.0.1:4010';
    process.env.UPSTREAM_ATTEMPT_TIMEOUT_MS = '1500';

    const endpoint = upstreamEndpoint(SVIX_API_URL);

    expect(endpoint.policy(true)).toEqual({ ...DEFAULT_POLICY, safe: true, attemptTimeoutMs: 1_500 });
    expect(endpoint.policy(false).safe).toBe(false);
  });

  it('keeps the default attempt bound when none is set', () => {
    process.env[VARIABLE] = 'http://127.0.0.1:4010';

    expect(upstreamEndpoint(SVIX_API_URL).policy(false).attemptTimeoutMs).toBe(DEFAULT_POLICY.attemptTimeoutMs);
  });

  it('fails with the variable name on a missing or bad URL or attempt bound', () => {
    const missing = upstreamEndpoint(SVIX_API_URL);
    expect(() => missing.url('/x')).toThrow(new ConfigError(VARIABLE, 'is not set'));

    process.env[VARIABLE] = 'ftp://example.test';
    expect(() => upstreamEndpoint(SVIX_API_URL).url('/x')).toThrow(`${VARIABLE} must be an http(s) URL`);

    process.env[VARIABLE] = 'http://127.0.0.1:4010';
    process.env.UPSTREAM_ATTEMPT_TIMEOUT_MS = '29001';
    expect(() => upstreamEndpoint(SVIX_API_URL).policy(true)).toThrow('UPSTREAM_ATTEMPT_TIMEOUT_MS must be an integer from 100 to 29000');
  });
});
