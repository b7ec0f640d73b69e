import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Packages the service once per test run with the real `serverless package` (osls, offline, no
 * AWS account), so the infra tests assert on the CloudFormation template that would deploy.
 */
export const PACKAGE_DIR = '.serverless-test';
/**
 * The same service packaged with its non-default switches: SigV4 callers (`callerAuth=iam`) and
 * browser CORS on for one origin. One package for both: each run of `serverless package` costs
 * 8–15 s of every test run, and the two switches touch different resources (routes, the API).
 */
export const PACKAGE_DIR_IAM = '.serverless-test-iam';
export const CORS_TEST_ORIGIN = 'https://app.example.com';

export default function setup(): void {
  if (process.env.SKIP_PACKAGE === '1') return;
  const root = join(import.meta.dirname, '..', '..');
  const pack = (dir: string, ...extra: string[]) =>
    execFileSync(join(root, 'node_modules', '.bin', 'serverless'), ['package', '--stage', 'test', '--package', dir, ...extra], {
      cwd: root,
      env: { ...process.env, CI: 'true', SLS_TELEMETRY_DISABLED: '1' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  pack(PACKAGE_DIR);
  pack(PACKAGE_DIR_IAM, '--param=callerAuth=iam', '--param=cors=on', `--param=corsAllowedOrigins=${CORS_TEST_ORIGIN}`);
}
