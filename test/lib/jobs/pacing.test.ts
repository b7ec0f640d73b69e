import { describe, expect, it } from 'vitest';
import { invocationShare, Pacer } from '#lib/jobs/pacing';

/** A pacer on a clock that only moves when it waits (or when the test moves it). */
function pacerAt(ratePerSecond: number) {
  const clock = { now: 0 };
  const pacer = new Pacer({
    ratePerSecond,
    clock: () => clock.now,
    wait: async (ms: number) => {
      clock.now += ms;
    },
  });
  return { pacer, clock };
}

describe('Pacer', () => {
  it('spaces calls of one credential 1/rate apart, and each credential on its own schedule', async () => {
    const { pacer, clock } = pacerAt(10);
    const starts: number[] = [];
    for (let i = 0; i < 5; i++) {
      await pacer.acquire('svix', Number.POSITIVE_INFINITY);
      starts.push(clock.now);
    }
    expect(starts).toEqual([0, 100, 200, 300, 400]);
    // Another credential is not held back by the first.
    const before = clock.now;
    await pacer.acquire('nextauth:server-2', Number.POSITIVE_INFINITY);
    expect(clock.now).toBe(before);
  });

  it("says how far off a credential's next slot is, and counts its 429s, so a slot reserved before one can be known stale", async () => {
    const { pacer } = pacerAt(10);
    expect([pacer.waitMs('svix'), pacer.refusals('svix')]).toEqual([0, 0]);
    await pacer.acquire('svix', Number.POSITIVE_INFINITY);
    expect(pacer.waitMs('svix')).toBe(100);
    pacer.rateLimited('svix', 2_000);
    pacer.rateLimited('svix');
    expect([pacer.waitMs('svix'), pacer.refusals('svix')]).toEqual([2_000, 2]);
    // Another credential's schedule and count are its own.
    expect([pacer.waitMs('nextauth:server-2'), pacer.refusals('nextauth:server-2')]).toEqual([0, 0]);
  });

  it('forgets idle credentials at full rate, so a stream of distinct nextAuth servers cannot grow it without bound', async () => {
    const { pacer, clock } = pacerAt(10);
    pacer.rateLimited('nextauth:busy', 600_000);
    // A direct sender names any server id it likes (100 targets a message, 256 characters each).
    for (let i = 0; i < 100_000; i++) {
      await pacer.acquire(`nextauth:${'s'.repeat(240)}${i}`, Number.POSITIVE_INFINITY);
      clock.now += 1;
    }
    expect(pacer.size).toBeLessThanOrEqual(1_000);
    // What a 429 taught it is kept (its Retry-After is still ahead): only a schedule a fresh one would equal is dropped.
    expect(await pacer.acquire('nextauth:busy', clock.now + 1_000)).toMatchObject({ ok: false });
  });

  it('refuses a slot past the latest start, with how long it would have waited, and reserves nothing', async () => {
    const { pacer } = pacerAt(2);
    expect(await pacer.acquire('svix', 1_000)).toEqual({ ok: true });
    expect(await pacer.acquire('svix', 400)).toEqual({ ok: false, retryAfterMs: 500 });
    // The refused slot is still free for a call that may start that late.
    expect(await pacer.acquire('svix', 500)).toEqual({ ok: true });
  });

  it('halves the rate on a 429 (once per second however many calls see it), honours Retry-After, and recovers additively', async () => {
    const { pacer, clock } = pacerAt(20);
    pacer.rateLimited('svix', 2_000);
    pacer.rateLimited('svix', 2_000);
    pacer.rateLimited('svix');
    expect(pacer.rateOf('svix')).toBe(10);
    // Nothing starts before the upstream said.
    await pacer.acquire('svix', Number.POSITIVE_INFINITY);
    expect(clock.now).toBe(2_000);
    // A tenth of the share (2/s) comes back each second: 10 → 20 in 5 s, never above.
    expect(pacer.rateOf('svix')).toBeCloseTo(14);
    clock.now += 1_000;
    expect(pacer.rateOf('svix')).toBeCloseTo(16);
    clock.now += 10_000;
    expect(pacer.rateOf('svix')).toBe(20);
  });

  it('never cuts below the floor (a tenth of the share by default)', () => {
    let now = 0;
    const pacer = new Pacer({ ratePerSecond: 16, recoveryPerSecond: 0, clock: () => now });
    for (let i = 0; i < 10; i++) {
      pacer.rateLimited('svix');
      now += 1_000;
    }
    expect(pacer.rateOf('svix')).toBeCloseTo(1.6);
  });

  it('unpaced (Infinity) never waits, but still keeps clear of a Retry-After', async () => {
    const { pacer, clock } = pacerAt(Number.POSITIVE_INFINITY);
    for (let i = 0; i < 100; i++) await pacer.acquire('svix', 0);
    expect(clock.now).toBe(0);
    pacer.rateLimited('svix', 1_000);
    expect(await pacer.acquire('svix', 500)).toEqual({ ok: false, retryAfterMs: 1_000 });
  });
});

describe('invocationShare', () => {
  it('is the stage figure over the queue maximum concurrency; 0 is unpaced', () => {
    expect(invocationShare(100, 5)).toBe(20);
    expect(invocationShare(0, 5)).toBe(Number.POSITIVE_INFINITY);
  });
});
