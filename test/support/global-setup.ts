import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Packages the service once per test run with the real `serverless package` (osls, offline, no
 * AWS account), so the infra tests assert on the CloudFormation template that would deploy.
 */
export const PACKAGE_DIR = '.serverless-test';

export default function setup(): void {
  if (process.env.SKIP_PACKAGE === '1') return;
  const root = join(import.meta.dirname, '..', '..');
  execFileSync(join(root, 'node_modules', '.bin', 'serverless'), ['package', '--stage', 'test', '--package', PACKAGE_DIR], {
    cwd: root,
    env: { ...process.env, CI: 'true', SLS_TELEMETRY_DISABLED: '1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
