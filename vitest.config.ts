import { configDefaults, defineConfig } from 'vitest/config';
import WaitersFirst from './test/support/sequencer.ts';

/**
 * Three layers (docs/testing.md). Only `packaged` runs the global setup that packages the service
 * with `serverless package`: vitest runs a project's global setup only when one of its files is
 * selected, so `npm run test:unit` or a single unit test file never waits for packaging.
 */
export default defineConfig({
  test: {
    setupFiles: ['test/support/setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Each file gets fresh modules, like a fresh Lambda container.
    isolate: true,
    // Four files at a time, whatever the cores: many files mostly wait (on a child process, a rate
    // limit, a signal), so on the 2-core development machine four overlap their waits with two
    // files' work. Measured on it, quiet: 76 s with two workers, 60 s with four; six made the
    // real-time rate-limit run miss its own overload (docs/testing.md, where the time goes).
    maxWorkers: 4,
    sequence: { sequencer: WaitersFirst },
    projects: [
      // Modules and handlers called in-process, the local-only code, the fuzzer: no packaging.
      // Everything not in the two other layers, so a new test folder is never left out of `npm test`.
      {
        extends: true,
        test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, 'test/{e2e,infra,artifacts}/**'] },
      },
      // Over the wire through the local API and the sandbox upstreams.
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'] } },
      // The CloudFormation template and the zips `serverless package` writes.
      {
        extends: true,
        test: {
          name: 'packaged',
          include: ['test/{infra,artifacts}/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles: ['test/support/packages-ready.ts', 'test/support/packaged-leaks.ts'],
          // Files that read what was written, keeping no module state between them: one process
          // for all, instead of one each, saves a third of the layer's CPU (16.7 → 11.1 s here).
          isolate: false,
        },
      },
    ],
    // `npm run coverage`: the unit layer over what ships. CI fails under these figures (docs/testing.md).
    coverage: {
      provider: 'v8',
      include: ['lib/**/*.ts', 'functions/**/*.ts'],
      reporter: ['text-summary', 'text'],
      // Measured 97.1 / 92.5 / 98.5 / 98.0 % (statements / branches / functions / lines), docs/testing.md.
      thresholds: { statements: 96, branches: 91, functions: 97, lines: 97 },
    },
  },
});
