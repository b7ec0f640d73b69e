import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '#local/routes';
import { PACKAGE_DIR } from '../support/global-setup.ts';
import { readZip } from '../support/zip.ts';

/**
 * What init does is decided by what the bundler keeps: every function that holds an upstream key
 * fetches it at init (lib/upstream/warm-up.ts), and Svix logout, which holds none, must not even
 * carry the AWS SDK (it would cost its cold start ~60 ms for nothing).
 */
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

  it('Svix logout only connects: no secret fetch, no AWS SDK', () => {
    const js = code('svixLogout');
    expect(js).toContain('early upstream connection');
    expect(js).not.toContain(PREFETCH);
    expect(js).not.toMatch(/GetSecretValue|SecretsManager|@aws-sdk|smithy/i);
    expect(js.length).toBeLessThan(64 * 1024);
  });
});
