import { describe, expect, it } from 'vitest';
import { callerOf, tokenHolder } from '#lib/caller';

const jwt = (claims: Record<string, unknown>) => ({ authorizer: { jwt: { claims, scopes: [] } } });

describe('callerOf', () => {
  it('names a JWT caller by sub, with client_id or azp', () => {
    expect(callerOf(jwt({ sub: 'billing' }))).toEqual({ id: 'jwt:billing', sub: 'billing' });
    expect(callerOf(jwt({ sub: 'billing', client_id: 'web' }))).toEqual({ id: 'jwt:billing|web', sub: 'billing', clientId: 'web' });
    expect(callerOf(jwt({ sub: 'billing', azp: 'spa' }))).toEqual({ id: 'jwt:billing|spa', sub: 'billing', clientId: 'spa' });
    // client_id wins over azp when both are there.
    expect(callerOf(jwt({ sub: 's', client_id: 'c', azp: 'a' }))?.clientId).toBe('c');
  });

  it('names a client-credentials caller without sub by its client', () => {
    expect(callerOf(jwt({ client_id: 'batch' }))).toEqual({ id: 'jwt:|batch', clientId: 'batch' });
  });

  it('names an IAM caller by its ARN, before any claim', () => {
    const arn = 'arn:aws:iam::123456789012:role/billing';

    expect(callerOf({ authorizer: { iam: { userArn: arn }, jwt: { claims: { sub: 'x' } } } })).toEqual({ id: `iam:${arn}`, arn });
  });

  it('names nobody without an authorizer or without usable claims', () => {
    expect(callerOf(undefined)).toBeUndefined();
    expect(callerOf({})).toBeUndefined();
    expect(callerOf(jwt({}))).toBeUndefined();
    expect(callerOf(jwt({ sub: '   ', client_id: '' }))).toBeUndefined();
    // Claims are strings in payload 2.0; a number or an object names no one.
    expect(callerOf(jwt({ sub: 42, azp: { a: 1 } }))).toBeUndefined();
    expect(callerOf({ authorizer: { iam: { userArn: 7 } } })).toBeUndefined();
  });
});

describe('tokenHolder', () => {
  it('names the holder by a digest of the token, never the token', () => {
    const token = 'appsk_0123456789abcdefghij';

    const holder = tokenHolder(token);

    expect(holder.id).toMatch(/^token:[A-Za-z0-9_-]{22}$/);
    expect(holder.id).not.toContain(token.slice(6, 18));
    expect(tokenHolder(token)).toEqual(holder);
    expect(tokenHolder(`${token}x`).id).not.toBe(holder.id);
  });
});

describe('caller ids cannot collide', () => {
  it('escapes the separator in each part: a `|` in sub is not a client', () => {
    const joined = callerOf(jwt({ sub: 'billing|web' }));
    const pair = callerOf(jwt({ sub: 'billing', client_id: 'web' }));

    expect(joined?.id).toBe('jwt:billing%7Cweb');
    expect(pair?.id).toBe('jwt:billing|web');
    // The claims themselves are kept as they came.
    expect(joined?.sub).toBe('billing|web');
  });

  it('escapes `%` too, so an escape cannot be written by hand, and control characters', () => {
    expect(callerOf(jwt({ sub: 'billing%7Cweb' }))?.id).toBe('jwt:billing%257Cweb');
    expect(callerOf(jwt({ sub: 'a\r\nb\u0000c\u001b[31m\u2028' }))?.id).toBe('jwt:a%0D%0Ab%00c%1B[31m%E2%80%A8');
    expect(callerOf({ authorizer: { iam: { userArn: 'arn:aws:iam::1:user/a|b' } } })?.id).toBe('iam:arn:aws:iam::1:user/a%7Cb');
  });

  it('bounds each part of a long id and keeps distinct long values distinct', () => {
    const long = 'x'.repeat(6_000);
    const a = callerOf(jwt({ sub: `${long}a`, client_id: long }));
    const b = callerOf(jwt({ sub: `${long}b`, client_id: long }));

    expect(a?.id.length).toBeLessThanOrEqual('jwt:'.length + 120 + 1 + 120);
    expect(a?.id).not.toBe(b?.id);
    expect(a?.sub?.length).toBeLessThanOrEqual(256);
    expect(a?.sub).not.toBe(b?.sub);
    // A short value that looks like a shortened one cannot pass for it: `…` is escaped in ids.
    const [head] = (a?.id ?? '').slice(4).split('|');
    expect(callerOf(jwt({ sub: head, client_id: long }))?.id).not.toBe(a?.id);
  });
});
