import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_MARGIN_MS, deadlineFromContext, deadlineIn } from '#lib/deadline';
import { frozenContext } from '../support/context.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('deadlineFromContext', () => {
  it("is the Lambda's remaining time less the default margin of 250 ms", () => {
    const deadline = deadlineFromContext(frozenContext(5_000));

    expect(DEFAULT_MARGIN_MS).toBe(250);
    expect(deadline.remainingMs()).toBe(4_750);
  });

  it('takes another margin, and goes negative when the time is already spent', () => {
    expect(deadlineFromContext(frozenContext(1_000), 400).remainingMs()).toBe(600);
    expect(deadlineFromContext(frozenContext(100)).remainingMs()).toBe(-150);
  });

  it('reads the context on every call (the clock runs down)', () => {
    let remaining = 3_000;
    const deadline = deadlineFromContext({ getRemainingTimeInMillis: () => remaining });

    remaining = 1_000;

    expect(deadline.remainingMs()).toBe(750);
  });
});

describe('deadlineIn', () => {
  it('counts down from now', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(0);
    const deadline = deadlineIn(2_000);

    vi.setSystemTime(1_500);

    expect(deadline.remainingMs()).toBe(500);
    vi.setSystemTime(2_600);
    expect(deadline.remainingMs()).toBe(-600);
  });
});
