import { describe, expect, it } from 'vitest';
import { type IdempotencyScope, upstreamIdempotencyKey } from '#lib/idempotency';

const scope = (fields: Partial<IdempotencyScope> = {}): IdempotencyScope => ({
  caller: { id: 'jwt:billing', sub: 'billing' },
  operation: 'svix.expire-all',
  target: ['app_1'],
  ...fields,
});

const KEY_FORMAT = /^authgate_[A-Za-z0-9_-]{43}$/;

describe('upstreamIdempotencyKey', () => {
  it("derives the same key for the same caller, operation, target and caller's key", () => {
    const first = upstreamIdempotencyKey('onboard-1', scope());

    expect(first).toMatch(KEY_FORMAT);
    expect(upstreamIdempotencyKey('onboard-1', scope())).toBe(first);
    expect(first).not.toContain('onboard-1');
  });

  it('derives another key when anything else differs', () => {
    const base = upstreamIdempotencyKey('k', scope());

    const others = [
      upstreamIdempotencyKey('k2', scope()),
      upstreamIdempotencyKey('k', scope({ caller: { id: 'jwt:shop', sub: 'shop' } })),
      upstreamIdempotencyKey('k', scope({ caller: { id: 'jwt:billing|web', sub: 'billing', clientId: 'web' } })),
      upstreamIdempotencyKey('k', scope({ operation: 'svix.app-portal-access' })),
      upstreamIdempotencyKey('k', scope({ target: ['app_2'] })),
    ];

    expect(new Set([base, ...others]).size).toBe(6);
  });

  it('cannot be collided by moving characters between fields', () => {
    const a = upstreamIdempotencyKey('x', scope({ target: ['a|b'] }));
    const b = upstreamIdempotencyKey('b|x', scope({ target: ['a'] }));

    expect(a).not.toBe(b);
  });

  it('makes a fresh key per request when the caller sends none', () => {
    const keys = new Set([upstreamIdempotencyKey(undefined, scope()), upstreamIdempotencyKey(undefined, scope())]);

    expect(keys.size).toBe(2);
    for (const key of keys) expect(key).toMatch(KEY_FORMAT);
  });

  // The header's bounds are the contract's (lib/schemas/svix.ts IdempotencyKey, tested there).
  it('takes any printable ASCII up to 256 characters, spaces and commas included', () => {
    expect(upstreamIdempotencyKey('a b,c', scope())).toMatch(KEY_FORMAT);
    expect(upstreamIdempotencyKey('k'.repeat(256), scope())).toMatch(KEY_FORMAT);
  });
});
