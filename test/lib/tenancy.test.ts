import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '#lib/errors';
import { assertTenant, parseClaimList } from '#lib/tenancy';

const ctx = (claims: Record<string, unknown>) => ({ authorizer: { jwt: { claims } } });

afterEach(() => {
  delete process.env.SVIX_TENANT_CLAIM;
  delete process.env.NEXTAUTH_TENANT_CLAIM;
});

describe('parseClaimList', () => {
  it('reads the flattened array API Gateway hands to Lambda, real arrays and comma lists', () => {
    expect(parseClaimList('[app_1 app_2]')).toEqual(['app_1', 'app_2']);
    expect(parseClaimList(['a', 'b'])).toEqual(['a', 'b']);
    expect(parseClaimList('a,b')).toEqual(['a', 'b']);
    expect(parseClaimList('[]')).toEqual([]);
    expect(parseClaimList(undefined)).toEqual([]);
  });
});

describe('assertTenant', () => {
  it('is off when no claim is configured', () => {
    expect(() => assertTenant(undefined, 'svix', 'app_1')).not.toThrow();
  });

  it('allows listed ids and refuses others with 403', () => {
    process.env.SVIX_TENANT_CLAIM = 'apps';
    expect(() => assertTenant(ctx({ apps: '[app_1 app_2]' }), 'svix', 'app_2')).not.toThrow();
    const err = (() => {
      try {
        assertTenant(ctx({ apps: '[app_1]' }), 'svix', 'app_10');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).statusCode).toBe(403);
  });

  it('grants nothing for a "*" in the claim: it is an id like any other', () => {
    process.env.SVIX_TENANT_CLAIM = 'apps';
    expect(() => assertTenant(ctx({ apps: '[*]' }), 'svix', 'app_1')).toThrow(ApiError);
  });

  it('fails closed without claims', () => {
    process.env.SVIX_TENANT_CLAIM = 'apps';
    expect(() => assertTenant(undefined, 'svix', 'app_1')).toThrow(ApiError);
    expect(() => assertTenant(ctx({}), 'svix', 'app_1')).toThrow(ApiError);
  });

  it('compares nextAuth server ids in one spelling: base64url or standard, in the claim or the path', () => {
    process.env.NEXTAUTH_TENANT_CLAIM = 'servers';
    const standard = 'c2FuZGJveC1zZXJ2ZXI/Pj4+MQ==';
    const urlSafe = 'c2FuZGJveC1zZXJ2ZXI_Pj4-MQ';
    for (const [claim, id] of [
      [urlSafe, standard],
      [standard, urlSafe],
      [`${urlSafe}==`, urlSafe],
    ]) {
      expect(() => assertTenant(ctx({ servers: `[b3RoZXI= ${claim}]` }), 'nextauth', id)).not.toThrow();
    }
    expect(() => assertTenant(ctx({ servers: `[${urlSafe}]` }), 'nextauth', 'c2FuZGJveC1zZXJ2ZXI/Pj4+Mg==')).toThrow(ApiError);
    // Svix app ids are compared as they are: `-` and `_` are ordinary characters there.
    process.env.SVIX_TENANT_CLAIM = 'apps';
    expect(() => assertTenant(ctx({ apps: '[app-1]' }), 'svix', 'app+1')).toThrow(ApiError);
  });
});
