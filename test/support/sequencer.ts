import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * The files that spend most of their time waiting (on child processes, a real-time rate limit, a
 * browser) rather than computing, longest first. Measured alone on the 2-core machine, wall
 * against CPU seconds: jobs-rate-limit 21 / 4, job-cli 11 / 9, console 13 / 7, temp-secrets
 * 9.5 / 7, canary-secrets 9 / 3, nextauth-handlers 6 / 3, jobs 6 / 2, job-continuation 5.5 / 2,
 * resilience 5 / 2.
 */
export const WAITERS = [
  'test/e2e/jobs-rate-limit.test.ts',
  'test/e2e/job-cli.test.ts',
  'test/e2e/console.test.ts',
  'test/local/temp-secrets.test.ts',
  'test/e2e/canary-secrets.test.ts',
  'test/functions/nextauth-handlers.test.ts',
  'test/functions/jobs.test.ts',
  'test/functions/job-continuation.test.ts',
  'test/e2e/resilience.test.ts',
];

/**
 * `npm test`'s order: the waiters first, so the other files' work fills their waits; then the
 * packaged layer, whose global setup has packaged in the background meanwhile (last, its files
 * would be the run's tail); then the rest.
 * vitest's own order runs the projects by name (e2e, packaged, unit), and without a timing cache
 * (a clean clone, as CI runs) each project's files by size: temp-secrets, a 13 s wait, started
 * at 42 s of a 60 s run.
 */
export default class WaitersFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    for (const file of WAITERS) if (!existsSync(join(ROOT, file))) throw new Error(`test/support/sequencer.ts names ${file}, which is gone`);
    const rank = (spec: TestSpecification) => {
      const waiter = WAITERS.indexOf(relative(ROOT, spec.moduleId));
      if (waiter !== -1) return waiter;
      return spec.project.name === 'packaged' ? WAITERS.length : WAITERS.length + 1;
    };
    // Array#sort is stable: within a rank, vitest's own order.
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}
