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
