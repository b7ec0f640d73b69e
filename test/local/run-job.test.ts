import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJobInProcess } from '#local/run-job';
import { type GatewaySandbox, startGatewaySandbox } from '#local/sandbox/for-gateway';
import { removeAfterTests } from '../support/temp-dir.ts';

/**
 * The local runner's bounds (local/run-job.ts): it delivers again what the queue would, but stops,
 * and says why, when waiting longer would not finish the run. A real sandbox over HTTP, faults and
 * rate limit set per test.
 */

let gateway: GatewaySandbox;
beforeAll(async () => {
  gateway = await startGatewaySandbox();
  removeAfterTests(dirname(gateway.secretsFile));
});
afterAll(() => gateway?.sandbox.close());

const targets = (n: number) => ({ targets: Array.from({ length: n }, (_, i) => ({ appId: 'app_demo', sessionIds: [`s-${i}`] })) });

describe('runJobInProcess: bounds', () => {
  it('a record that failed for real is retried after the 190 s visibility timeout: the run stops at once, unfinished', async () => {
    gateway.sandbox.faults.set('svix.expire-all', { status: 503 });
    try {
      const started = Date.now();
      const run = await runJobInProcess('expire-all', [targets(1)]);
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(run.deliveries.map((d) => d.result)).toEqual(['retry']);
      expect(run.messages).toEqual([{ message: 1, result: 'unfinished', last: 'retry', nextDeliveryInMs: expect.any(Number) }]);
      expect(run.messages[0]?.nextDeliveryInMs).toBeGreaterThan(60_000);
      expect(run.stopped).toBe('stopped: the next delivery would come after the 60 s bound');
      expect(run.lines.at(-1)).toMatch(/^done 0, unfinished 1, dead-lettered 0 \(1 delivery, 0 continuations\): stopped/);
    } finally {
      gateway.sandbox.faults.clear();
    }
  }, 30_000);

  it('a message still deferred after maxDeliveries deliveries stops the run, its continuation left in the queue', async () => {
    gateway.sandbox.rateLimit.set({ rate: 1, burst: 1 });
    try {
      const run = await runJobInProcess('expire-all', [targets(3)], { maxDeliveries: 2 });
      expect(run.deliveries.map((d) => [d.delivery, d.arrived, d.result])).toEqual([
        [1, 'first', 'deferred'],
        [2, 'continued (verified)', 'deferred'],
      ]);
      // The second delivery did not call target 0 again, did target 1, and deferred target 2.
      expect(run.deliveries[1]?.targets.map((t) => [t.index, t.outcome, t.before ?? false])).toEqual([
        [0, 'done', true],
        [1, 'done', false],
        [2, 'rate-limited', false],
      ]);
      expect(run.stopped).toBe('stopped: a message was delivered 2 times');
      expect(run.messages).toEqual([{ message: 1, result: 'unfinished', last: 'deferred', nextDeliveryInMs: expect.any(Number) }]);
      expect(run.counts).toMatchObject({ done: 0, unfinished: 1, continuations: 2 });
    } finally {
      gateway.sandbox.rateLimit.set(undefined);
    }
  }, 30_000);
});
