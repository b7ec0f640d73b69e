import { afterEach, describe, expect, it } from 'vitest';
import { resetConfig, SVIX_API_URL } from '#lib/config';
import { upstreamEndpoint } from '#lib/upstream/endpoint';

afterEach(() => {
  delete process.env.SVIX_API_URL;
});

describe('upstreamEndpoint', () => {
  it('puts a path under the base URL, keeping its base path and credentials, dropping its query', () => {
    const cases: Array<[string, string]> = [
      ['https://api.eu.svix.com', 'https://api.eu.svix.com/api/v1/auth/logout'],
      ['https://api.eu.svix.com/', 'https://api.eu.svix.com/api/v1/auth/logout'],
      ['http://127.0.0.1:4010/proxy/svix/', 'http://127.0.0.1:4010/proxy/svix/api/v1/auth/logout'],
      ['https://u:p@gw.example/base?x=1#f', 'https://u:p@gw.example/base/api/v1/auth/logout'],
    ];
    for (const [base, expected] of cases) {
      process.env.SVIX_API_URL = base;
      resetConfig(); // another container
      const url = upstreamEndpoint(SVIX_API_URL).url('/api/v1/auth/logout');
      expect(url.href, base).toBe(expected);
    }
  });

  it('parses a path once (the URL is shared: the client puts a query on a copy) and has one frozen policy per kind', () => {
    process.env.SVIX_API_URL = 'https://api.nextauth.com';
    const endpoint = upstreamEndpoint(SVIX_API_URL);
    const first = endpoint.url('/servers/x/sessions/qr/login');
    expect(endpoint.url('/servers/x/sessions/qr/login')).toBe(first);
    expect(endpoint.url('/servers/y/sessions/qr/login').href).toBe('https://api.nextauth.com/servers/y/sessions/qr/login');
    expect(endpoint.policy(true)).toBe(endpoint.policy(true));
    expect(endpoint.policy(true).safe).toBe(true);
    expect(endpoint.policy(false).safe).toBe(false);
    expect(Object.isFrozen(endpoint.policy(false))).toBe(true);
  });

  it("keeps at most 256 parsed paths (ids in paths are the caller's): past that it starts again", () => {
    process.env.SVIX_API_URL = 'https://api.svix.com';
    const endpoint = upstreamEndpoint(SVIX_API_URL);
    const first = endpoint.url('/app/0');
    for (let i = 1; i < 256; i++) endpoint.url(`/app/${i}`);
    expect(endpoint.url('/app/0')).toBe(first);
    endpoint.url('/app/256');
    const again = endpoint.url('/app/0');
    expect(again).not.toBe(first);
    expect(again.href).toBe('https://api.svix.com/app/0');
  });
});
