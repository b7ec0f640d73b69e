import { afterEach, describe, expect, it, vi } from 'vitest';
import { deadlineIn } from '#lib/deadline';
import { UpstreamTransportError, UpstreamUnavailableError } from '#lib/errors';
import { callWithRetry, DEFAULT_POLICY, retryAfterMs } from '#lib/upstream/retry';
import type { UpstreamReply } from '#lib/upstream/transport';
import { parsedLogs } from '../../support/logs.ts';

const reply = (status: number, headers: Record<string, string> = {}): UpstreamReply => ({ status, headers, body: Buffer.alloc(0) });
const fast = { ...DEFAULT_POLICY, baseDelayMs: 1, maxDelayMs: 4 };

function scripted(...outcomes: Array<UpstreamReply | UpstreamTransportError>) {
  const timeouts: number[] = [];
  const attempt = async (timeoutMs: number) => {
    timeouts.push(timeoutMs);
    const next = outcomes.shift();
    if (!next) throw new Error('no more outcomes');
    if (next instanceof Error) throw next;
    return next;
  };
  return { attempt, timeouts };
}

describe('retryAfterMs', () => {
  it('reads seconds and HTTP dates', () => {
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 7_000)).toBe(3000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });
});

describe('callWithRetry', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('retries 5xx when the call is safe, and returns the first success', async () => {
    const { attempt, timeouts } = scripted(reply(500), reply(502), reply(200));
    const out = await callWithRetry(attempt, { deadline: deadlineIn(5000), policy: { ...fast, safe: true }, operation: 't' });
    expect(out.status).toBe(200);
    expect(timeouts).toHaveLength(3);
  });

  it('never repeats an unsafe call', async () => {
    const { attempt, timeouts } = scripted(reply(500), reply(200));
    const out = await callWithRetry(attempt, { deadline: deadlineIn(5000), policy: { ...fast, safe: false }, operation: 't' });
    expect(out.status).toBe(500);
    expect(timeouts).toHaveLength(1);
  });

  it('does not retry 4xx, nor a 429 without Retry-After', async () => {
    for (const status of [400, 404, 409, 429]) {
      const { attempt, timeouts } = scripted(reply(status), reply(200));
      expect((await callWithRetry(attempt, { deadline: deadlineIn(5000), policy: { ...fast, safe: true }, operation: 't' })).status).toBe(status);
      expect(timeouts).toHaveLength(1);
    }
  });

  it('waits what Retry-After says when it fits the deadline, and not when it does not', async () => {
    const ok = scripted(reply(429, { 'retry-after': '0' }), reply(200));
    expect((await callWithRetry(ok.attempt, { deadline: deadlineIn(5000), policy: { ...fast, safe: true }, operation: 't' })).status).toBe(200);
    const tooLong = scripted(reply(503, { 'retry-after': '30' }), reply(200));
    const started = Date.now();
    const out = await callWithRetry(tooLong.attempt, { deadline: deadlineIn(2000), policy: { ...fast, safe: true }, operation: 't' });
    expect(out.status).toBe(503);
    expect(tooLong.timeouts).toHaveLength(1);
    // Far below the 30 s it asked for (generous for a loaded CI machine).
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('returns a 429 at once, short Retry-After and all, to a caller that does not wait out rate limits (a job)', async () => {
    const { attempt, timeouts } = scripted(reply(429, { 'retry-after': '0' }), reply(200));
    const out = await callWithRetry(attempt, { deadline: deadlineIn(5000), policy: { ...fast, safe: true }, operation: 't', waitOutRateLimits: false });
    expect(out.status).toBe(429);
    expect(timeouts).toHaveLength(1);
    // A 5xx is still retried for it.
    const flaky = scripted(reply(503), reply(200));
    expect(
      (await callWithRetry(flaky.attempt, { deadline: deadlineIn(5000), policy: { ...fast, safe: true }, operation: 't', waitOutRateLimits: false })).status,
    ).toBe(200);
  });

  it('leaves a Retry-After longer than maxRetryAfterMs to the caller, even when the deadline would allow it', async () => {
    const long = scripted(reply(503, { 'retry-after': '3' }), reply(200));
    const out = await callWithRetry(long.attempt, { deadline: deadlineIn(10_000), policy: { ...fast, safe: true }, operation: 't' });
    expect(out.status).toBe(503);
    expect(out.headers['retry-after']).toBe('3');
    expect(long.timeouts).toHaveLength(1);
    const short = scripted(reply(503, { 'retry-after': '1' }), reply(200));
    expect((await callWithRetry(short.attempt, { deadline: deadlineIn(10_000), policy: { ...fast, safe: true }, operation: 't' })).status).toBe(200);
    expect(short.timeouts).toHaveLength(2);
  });

  it('bounds each attempt by the remaining time', async () => {
    // The clock stands still: the bound is exactly what remains, however slow the machine.
    vi.useFakeTimers({ toFake: ['Date'] });
    const { attempt, timeouts } = scripted(reply(200));
    await callWithRetry(attempt, { deadline: deadlineIn(700), policy: { ...fast, attemptTimeoutMs: 5000 }, operation: 't' });
    expect(timeouts).toEqual([700]);
  });

  it('turns persistent timeouts into 504 and connection failures into 503', async () => {
    const timeouts = scripted(...Array.from({ length: 3 }, () => new UpstreamTransportError('timeout', 't')));
    await expect(callWithRetry(timeouts.attempt, { deadline: deadlineIn(5000), policy: { ...fast, safe: true }, operation: 't' })).rejects.toMatchObject({
      statusCode: 504,
    });
    const refused = scripted(new UpstreamTransportError('unreachable', 'r'));
    const err = await callWithRetry(refused.attempt, { deadline: deadlineIn(5000), policy: fast, operation: 't' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamUnavailableError);
    expect((err as UpstreamUnavailableError).statusCode).toBe(503);
  });

  it('starts no attempt when the deadline has (nearly) passed', async () => {
    const { attempt, timeouts } = scripted(reply(200));
    await expect(callWithRetry(attempt, { deadline: deadlineIn(50), policy: fast, operation: 't' })).rejects.toMatchObject({ statusCode: 504 });
    expect(timeouts).toHaveLength(0);
  });

  it('backs off with full jitter, within the exponential cap', async () => {
    const waits: number[] = [];
    const { attempt } = scripted(reply(500), reply(500), reply(500));
    let last = Date.now();
    const timed = async (t: number, _n: number) => {
      waits.push(Date.now() - last);
      const r = await attempt(t);
      last = Date.now();
      return r;
    };
    await callWithRetry(timed, {
      deadline: deadlineIn(5000),
      policy: { ...DEFAULT_POLICY, safe: true, baseDelayMs: 40, maxDelayMs: 60 },
      operation: 't',
      random: () => 0.999,
    });
    // The waits chosen, as logged: attempt 2 after 40 ms (40·2⁰), attempt 3 after 60 (min(60, 40·2¹)),
    // not the uncapped 80. Read from the log, not the clock: a loaded machine stalls longer than 20 ms.
    const chosen = parsedLogs().filter((l) => l.msg === 'upstream attempt failed' && l.retrying);
    expect(chosen.map((l) => l.waitMs)).toEqual([40, 60]);
    // And they were waited: a timer never fires early.
    expect(waits[1]).toBeGreaterThanOrEqual(35);
    expect(waits[2]).toBeGreaterThanOrEqual(55);
  });
});

describe('callWithRetry: every attempt metered once, whatever became of it', () => {
  it('meters an attempt that threw something other than a transport fault, and one Node refused to send', async () => {
    process.env.METRICS_NAMESPACE = 'authgate/unit';
    try {
      const { publishMetrics } = await import('#lib/metrics');
      const { parsedLogs } = await import('../../support/logs.ts');
      const options = (operation: string) => ({ deadline: deadlineIn(5_000), policy: { ...fast, safe: true }, operation });
      let n = 0;
      const flaky = async () => {
        n++;
        if (n < 3) throw new UpstreamTransportError('unreachable', 'refused');
        throw new TypeError('a bug in the attempt');
      };
      await expect(callWithRetry(flaky, options('svix.metered-bug'))).rejects.toThrow(TypeError);
      await expect(
        callWithRetry(async () => {
          throw new UpstreamTransportError('invalid', 'bad header');
        }, options('svix.metered-invalid')),
      ).rejects.toThrow(UpstreamUnavailableError);
      publishMetrics();
      const byOperation = Object.fromEntries(parsedLogs().map((r) => [r.operation, r]));
      expect(byOperation['svix.metered-bug']).toMatchObject({
        upstreamCalls: 1,
        upstreamAttempts: 3,
        upstreamConnectionErrors: [1, 1, 0],
        upstream2xx: [0, 0, 0],
      });
      expect(byOperation['svix.metered-bug']?.upstreamLatency).toHaveLength(3);
      expect(byOperation['svix.metered-invalid']).toMatchObject({ upstreamCalls: 1, upstreamAttempts: 1, upstreamConnectionErrors: 0, upstream5xx: 0 });
    } finally {
      delete process.env.METRICS_NAMESPACE;
    }
  });
});
