import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BulkJobFigures, startBulkJobHarness } from '#local/bulk-job-run';

/**
 * `npm run bench`'s bulk-job section scaled to a few seconds (local/bulk-job-run.ts): the real job
 * handlers on real SQS event shapes, a simulated queue and event source mapping, the sandbox rate-
 * limiting each credential, interactive callers through the real HTTP handlers at the same time.
 * The correctness goals of the bench hold on every run: no target lost, none dead-lettered for the
 * upstream being busy, none carried out more than twice; and a job sized by docs/jobs.md#sizing
 * leaves the interactive callers without 429s. (Times are the bench's: this machine is shared.)
 */

let harness: Awaited<ReturnType<typeof startBulkJobHarness>>;
beforeAll(async () => {
  harness = await startBulkJobHarness();
});
afterAll(() => harness.close());

function expectCorrect(f: BulkJobFigures) {
  expect(f.lost).toBe(0);
  expect(f.targetsDone).toBe(f.scenario.targets);
  expect(f.deadLettered).toEqual({ rateLimited: 0, other: 0, redriven: 0 });
  expect(f.calledMoreThanTwice).toBe(0);
}

describe.each(['expire-all', 'logout'] as const)('a bulk %s job under the upstream rate limit', (kind) => {
  it('sized for the limit: all done, and the interactive callers sharing the credential are never refused', async () => {
    // Limit 200/s; interactive 60/s (0.3 R); jobs allowed 130/s (0.65 R), shared by 5 invocations.
    const f = await harness.run({
      kind,
      targets: 200,
      targetsPerMessage: 8,
      rateLimit: { rate: 200, burst: 200 },
      jobRequestsPerSecond: 130,
      interactivePerSecond: 60,
    });
    expectCorrect(f);
    expect(f.calledMoreThanOnce).toBe(0);
    expect(f.interactive.calls).toBeGreaterThan(25);
    expect(f.interactive.refused429).toBe(0);
    expect(f.interactive.upstream429).toBe(0);
  });

  it('overloaded (unpaced, short Lambda time): refused calls and unfinished records are continued, never dead-lettered', async () => {
    const f = await harness.run({
      kind,
      targets: 150,
      targetsPerMessage: 10,
      rateLimit: { rate: 100, burst: 20 },
      jobRequestsPerSecond: 0,
      lambdaTimeoutMs: 6_000,
      // A machine loaded enough (CI's, two suites at once here) sends slower than 100/s and meets
      // no limit: five refusals whatever its speed, so the path under test always runs.
      forcedRefusals: 5,
    });
    expectCorrect(f);
    // The upstream did refuse, and records did go back to their queue: the path under test ran.
    expect(f.jobRefused).toBeGreaterThanOrEqual(5);
    expect(f.queue.continuations).toBeGreaterThan(0);
    expect(f.queue.batchItemFailures).toBe(0);
  });
});
