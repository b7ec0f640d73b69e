import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import {
  AccountId,
  Img,
  LoginStatus,
  MAX_LOGO_CHARS,
  MAX_USER_CONTEXT_BYTES,
  Nonce,
  OptionalUserContext,
  QrLoginQuery,
  ServerId,
  SessionInfo,
  Size,
  UserContext,
  UserId,
} from '#lib/schemas/nextauth';

const ok = (schema: v.GenericSchema, input: unknown) => v.safeParse(schema, input).success;

describe('ServerId', () => {
  it('takes 1 to 256 characters of base64, either alphabet, padding optional', () => {
    expect(['c2VydmVy', 'c2Vy+/dmdA==', 'c2Vy-_dmdA', 'A'.repeat(256)].map((id) => ok(ServerId, id))).toEqual([true, true, true, true]);
    expect(['', 'A'.repeat(257), 'c2Vy dm', 'c2V=y', 'c2Vy===', 'a.b'].map((id) => ok(ServerId, id))).toEqual([false, false, false, false, false, false]);
  });

  it('refuses wrong padding and lengths no base64 has', () => {
    expect(['c2Vy+/dm==', 'abcd==', 'abcde', 'abcdeA=='].map((id) => ok(ServerId, id))).toEqual([false, false, false, true]);
  });

  it('gives every consumer the standard alphabet with its padding', () => {
    expect(v.parse(ServerId, 'c2Vy-_dmdA')).toBe('c2Vy+/dmdA==');
    expect(v.parse(ServerId, 'c2Vy+/dmdA==')).toBe('c2Vy+/dmdA==');
  });
});

describe('Nonce', () => {
  it('takes 1 to 512 visible ASCII characters without commas', () => {
    expect(['n', '!~', 'n'.repeat(512)].map((n) => ok(Nonce, n))).toEqual([true, true, true]);
    expect(['', 'n'.repeat(513), 'a,b', 'a b', 'a\tb', 'é'].map((n) => ok(Nonce, n))).toEqual([false, false, false, false, false, false]);
  });

  it('says the header is required when it is missing', () => {
    const result = v.safeParse(Nonce, undefined);

    expect(!result.success && result.issues[0].message).toBe('the X-Nonce header is required');
  });
});

describe('AccountId', () => {
  it('reads 1 to 18 digits as a safe integer, dropping leading zeros', () => {
    expect(v.parse(AccountId, '007')).toBe(7);
    expect(v.parse(AccountId, '0')).toBe(0);
    expect(v.parse(AccountId, '9007199254740991')).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('refuses signs, exponents, 19 digits and integers past the safe range', () => {
    expect(['-1', '+1', '1e3', '1.0', '', '1'.repeat(19), '9007199254740992', '999999999999999999'].map((id) => ok(AccountId, id))).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});

describe('UserId', () => {
  it('takes 1 to 256 characters with no slash or control character', () => {
    expect(['alice', 'a b@c.d', 'ü'.repeat(256), '...'].map((id) => ok(UserId, id))).toEqual([true, true, true, true]);
    expect(['', 'u'.repeat(257), 'a/b', 'a\nb', 'a\u007fb', 'a\u0085b', '.', '..'].map((id) => ok(UserId, id))).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});

describe('Size and Img (getQrLogin query)', () => {
  it('takes a size from 50 to 2000 as a number', () => {
    expect(v.parse(Size, '50')).toBe(50);
    expect(v.parse(Size, '2000')).toBe(2_000);
    expect(['49', '2001', '0500', '-50', '5e2', ''].map((s) => ok(Size, s))).toEqual([false, false, true, false, false, false]);
  });

  it('takes img=png only, case-sensitive, and ignores other parameters', () => {
    expect([ok(Img, 'png'), ok(Img, 'PNG'), ok(Img, 'jpg')]).toEqual([true, false, false]);
    expect(v.parse(QrLoginQuery, { img: 'png', s: '300', other: 'x' })).toEqual({ img: 'png', s: 300 });
    expect(v.parse(QrLoginQuery, {})).toEqual({});
  });
});

describe('SessionInfo', () => {
  it('bounds ip to 64 and useragent to 1024 characters', () => {
    expect([ok(SessionInfo, { ip: 'i'.repeat(64) }), ok(SessionInfo, { useragent: 'u'.repeat(1_024) })]).toEqual([true, true]);
    expect([ok(SessionInfo, { ip: 'i'.repeat(65) }), ok(SessionInfo, { useragent: 'u'.repeat(1_025) })]).toEqual([false, false]);
  });

  it(`takes a base64 logo of up to ${MAX_LOGO_CHARS} characters`, () => {
    expect(ok(SessionInfo, { logo: 'A'.repeat(MAX_LOGO_CHARS) })).toBe(true);
    expect(ok(SessionInfo, { logo: 'A'.repeat(MAX_LOGO_CHARS + 4) })).toBe(false);
    expect([ok(SessionInfo, { logo: '' }), ok(SessionInfo, { logo: 'aGk=' }), ok(SessionInfo, { logo: 'aGk' })]).toEqual([true, true, true]);
    expect([ok(SessionInfo, { logo: 'a' }), ok(SessionInfo, { logo: 'aG k=' }), ok(SessionInfo, { logo: 'aG-_' })]).toEqual([false, false, false]);
  });

  it('takes info as a JSON object only, and null for nothing', () => {
    expect(ok(SessionInfo, { info: { any: ['thing'] } })).toBe(true);
    expect([ok(SessionInfo, { info: [] }), ok(SessionInfo, { ip: null }), ok(SessionInfo, [])]).toEqual([false, false, false]);
  });
});

describe('UserContext', () => {
  it('takes announceinfo and sessioninfo, drops the rest, and is optional as a body', () => {
    expect(v.parse(UserContext, { announceinfo: { ip: '10.0.0.1' }, other: 1 })).toEqual({ announceinfo: { ip: '10.0.0.1' } });
    expect(ok(OptionalUserContext, undefined)).toBe(true);
    expect(ok(UserContext, { sessioninfo: { logo: '!' } })).toBe(false);
  });

  it('allows a body that holds two logos at their bound', () => {
    const logo = 'A'.repeat(MAX_LOGO_CHARS);
    const body = JSON.stringify({ announceinfo: { logo, ip: '10.0.0.1' }, sessioninfo: { logo, useragent: 'u'.repeat(1_024) } });

    expect(ok(UserContext, JSON.parse(body))).toBe(true);
    expect(MAX_USER_CONTEXT_BYTES).toBe(589_824);
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_USER_CONTEXT_BYTES);
  });
});

describe('LoginStatus (the getSession answer)', () => {
  it('reads a missing loggedin as false and keeps only the documented fields', () => {
    expect(v.parse(LoginStatus, { userid: 'alice', accountid: 1, extra: 'x' })).toEqual({ loggedin: false, userid: 'alice', accountid: 1 });
  });

  it('drops an ill-typed optional field instead of refusing the answer', () => {
    const out = v.parse(LoginStatus, { loggedin: true, accountid: 1.5, canprovoke: 'yes', pk: null, hsid: 'h' });

    expect(out).toMatchObject({ loggedin: true, hsid: 'h' });
    expect(out.accountid).toBeUndefined();
    expect(out.canprovoke).toBeUndefined();
    expect(out.pk).toBeUndefined();
  });

  it('refuses a loggedin that is present but not a boolean, and anything but a JSON object', () => {
    for (const answer of [{ loggedin: 'true' }, { loggedin: null }, [], null, 'loggedin', undefined]) {
      expect(ok(LoginStatus, answer), JSON.stringify(answer)).toBe(false);
    }
  });
});
