import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '#local/routes';
import { PACKAGE_DIR } from '../support/global-setup.ts';
import { readZip } from '../support/zip.ts';

/**
 * What init does is decided by what the bundler keeps: every function that holds an upstream key
 * fetches it at init (lib/upstream/credentials.ts, `prefetchSecretAtInit`), and Svix logout, which holds none, carries no
 * Secrets Manager call at all. No function carries the AWS SDK: its clients cost ~150 KB of each zip
 * and ~55 ms of each cold init for two calls, which lib/aws/ makes with a SigV4 signer of 9 KB
 * (docs/decisions.md). The timings are the bench's (docs/performance.md); sizes are facts, here.
 */
const FUNCTIONS = readdirSync(join(PROJECT_ROOT, PACKAGE_DIR))
  .filter((name) => name.endsWith('.zip'))
  .map((name) => name.slice(0, -'.zip'.length));
/** Every deployed zip (they were 160–175 KB with the SDK bundled). */
const ZIP_BUDGET_BYTES = 40 * 1024;
const code = (fn: string) => {
  const files = readZip(join(PROJECT_ROOT, PACKAGE_DIR, `${fn}.zip`));
  const js = [...files].filter(([name]) => name.endsWith('.cjs'));
  expect(js).toHaveLength(1);
  return js[0]![1].toString('utf8');
};
const PREFETCH = 'secret prefetch at init failed';

describe('deployed bundles: work started at init', () => {
  it.each(['svixAppPortalAccess', 'svixDashboardAccess', 'svixExpireAll', 'nextauthGetSession', 'nextauthProvokeLogin', 'jobLogout', 'jobExpireAll'])(
    '%s fetches its secret and opens its upstream connection at init',
    (fn) => {
      const js = code(fn);
      expect(js).toContain(PREFETCH);
      expect(js).toContain('early upstream connection');
    },
  );

  it('Svix logout only connects: no secret fetch, no AWS call', () => {
    const js = code('svixLogout');
    expect(js).toContain('early upstream connection');
    expect(js).not.toContain(PREFETCH);
    expect(js).not.toMatch(/GetSecretValue|SecretsManager|@aws-sdk|smithy|aws4_request/i);
    expect(js.length).toBeLessThan(64 * 1024);
  });

  it('packages every function', () => expect(FUNCTIONS.length).toBeGreaterThanOrEqual(12));

  it.each(FUNCTIONS)('%s carries no AWS SDK and its zip is within 40 KB', (fn) => {
    const js = code(fn);
    expect(js).not.toMatch(/@aws-sdk|@smithy|smithy-client/);
    expect(statSync(join(PROJECT_ROOT, PACKAGE_DIR, `${fn}.zip`)).size).toBeLessThanOrEqual(ZIP_BUDGET_BYTES);
  });
});
