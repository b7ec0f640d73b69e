import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { AppId, ApplicationTokenExpireIn, AppPortalAccessIn, BearerHeader, IdempotencyKey, PortalAccessOut } from '#lib/schemas/svix';

const ok = (schema: v.GenericSchema, input: unknown) => v.safeParse(schema, input).success;
const ids = (n: number, prefix = 's') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('AppId', () => {
  it('takes 1 to 256 characters of [a-zA-Z0-9-_.]', () => {
    expect(['a', 'app_2Q-x.y', 'a'.repeat(256)].map((id) => ok(AppId, id))).toEqual([true, true, true]);
    expect(['', 'a'.repeat(257), 'app/1', 'app 1', 'äpp'].map((id) => ok(AppId, id))).toEqual([false, false, false, false, false]);
  });

  it('refuses the dot segments the pattern would admit', () => {
    expect([ok(AppId, '.'), ok(AppId, '..'), ok(AppId, '...')]).toEqual([false, false, true]);
  });
});

describe('AppPortalAccessIn', () => {
  it('takes an empty object and drops unknown keys', () => {
    expect(v.parse(AppPortalAccessIn, { unknown: 1 })).toEqual({});
  });

  it('takes an expiry from 3600 to 604800 seconds, integers only', () => {
    expect([3_600, 604_800].map((expiry) => ok(AppPortalAccessIn, { expiry }))).toEqual([true, true]);
    expect([3_599, 604_801, 3_600.5].map((expiry) => ok(AppPortalAccessIn, { expiry }))).toEqual([false, false, false]);
  });

  it('takes up to 25 unique feature flags of up to 256 characters', () => {
    expect(ok(AppPortalAccessIn, { featureFlags: [] })).toBe(true);
    expect(ok(AppPortalAccessIn, { featureFlags: ids(25, 'f') })).toBe(true);
    expect(ok(AppPortalAccessIn, { featureFlags: ids(26, 'f') })).toBe(false);
    expect(ok(AppPortalAccessIn, { featureFlags: ['f', 'f'] })).toBe(false);
    expect(ok(AppPortalAccessIn, { featureFlags: ['f'.repeat(256)] })).toBe(true);
    expect(ok(AppPortalAccessIn, { featureFlags: ['f'.repeat(257)] })).toBe(false);
  });

  it('takes unique known capabilities only', () => {
    expect(ok(AppPortalAccessIn, { capabilities: ['ViewBase', 'ManageEndpoint'] })).toBe(true);
    expect(ok(AppPortalAccessIn, { capabilities: ['ViewBase', 'ViewBase'] })).toBe(false);
    expect(ok(AppPortalAccessIn, { capabilities: ['Everything'] })).toBe(false);
  });

  it('takes a session id of 1 to 64 characters of [a-zA-Z0-9@_-]', () => {
    expect([ok(AppPortalAccessIn, { sessionId: 'a' }), ok(AppPortalAccessIn, { sessionId: 'u@x_-'.padEnd(64, 'z') })]).toEqual([true, true]);
    expect([
      ok(AppPortalAccessIn, { sessionId: '' }),
      ok(AppPortalAccessIn, { sessionId: 'z'.repeat(65) }),
      ok(AppPortalAccessIn, { sessionId: 'a.b' }),
    ]).toEqual([false, false, false]);
  });

  it('takes null for the nullable fields and refuses a non-object body', () => {
    expect(ok(AppPortalAccessIn, { expiry: null, sessionId: null, application: null, readOnly: null })).toBe(true);
    expect([ok(AppPortalAccessIn, []), ok(AppPortalAccessIn, null), ok(AppPortalAccessIn, 'x')]).toEqual([false, false, false]);
  });

  it("bounds the embedded application's throttle rate to 1..65535", () => {
    const app = (throttleRate: number) => ({ application: { name: 'n', throttleRate } });
    expect([ok(AppPortalAccessIn, app(1)), ok(AppPortalAccessIn, app(65_535))]).toEqual([true, true]);
    expect([ok(AppPortalAccessIn, app(0)), ok(AppPortalAccessIn, app(65_536))]).toEqual([false, false]);
  });
});

describe('ApplicationTokenExpireIn', () => {
  it('takes an expiry from 0 to 259200 seconds', () => {
    expect([0, 259_200].map((expiry) => ok(ApplicationTokenExpireIn, { expiry }))).toEqual([true, true]);
    expect([-1, 259_201, 0.5].map((expiry) => ok(ApplicationTokenExpireIn, { expiry }))).toEqual([false, false, false]);
  });

  it('takes up to 1000 session ids', () => {
    expect(ok(ApplicationTokenExpireIn, { sessionIds: ids(1_000) })).toBe(true);
    expect(ok(ApplicationTokenExpireIn, { sessionIds: ids(1_001) })).toBe(false);
    expect(ok(ApplicationTokenExpireIn, { sessionIds: ['bad id'] })).toBe(false);
  });
});

describe('PortalAccessOut', () => {
  it('needs a non-empty url and token', () => {
    expect(ok(PortalAccessOut, { url: 'https://p/', token: 't' })).toBe(true);
    expect(ok(PortalAccessOut, { url: '', token: 't' })).toBe(false);
    expect(ok(PortalAccessOut, { url: 'u'.repeat(65_537), token: 't' })).toBe(false);
    expect(ok(PortalAccessOut, { url: 'https://p/' })).toBe(false);
  });
});

describe('IdempotencyKey', () => {
  it('takes 1 to 256 printable ASCII characters', () => {
    expect([ok(IdempotencyKey, 'k'), ok(IdempotencyKey, ' ~'), ok(IdempotencyKey, 'k'.repeat(256))]).toEqual([true, true, true]);
    expect([ok(IdempotencyKey, ''), ok(IdempotencyKey, 'k'.repeat(257)), ok(IdempotencyKey, 'a\x1b[31m'), ok(IdempotencyKey, 'é')]).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });
});

describe('BearerHeader', () => {
  it('takes "Bearer <token>" with a token of 1 to 4096 visible characters, scheme in any case', () => {
    expect([ok(BearerHeader, 'Bearer t'), ok(BearerHeader, `bearer ${'t'.repeat(4_096)}`)]).toEqual([true, true]);
    expect([
      ok(BearerHeader, 'Bearer '),
      ok(BearerHeader, `Bearer ${'t'.repeat(4_097)}`),
      ok(BearerHeader, 'Basic dXNlcg=='),
      ok(BearerHeader, 'Bearer a b'),
    ]).toEqual([false, false, false, false]);
  });
});
