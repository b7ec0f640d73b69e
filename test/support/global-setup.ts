import { type ChildProcess, execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

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
/**
 * The same service with every fair-limit option on (edge, reserved concurrency; docs/limits.md),
 * and the alarm e-mail that subscribes to the stack's own alarm topic.
 */
export const PACKAGE_DIR_LIMITS = '.serverless-test-limits';
export const LIMITS_PARAMS = {
  edge: 'on',
  edgeWebAclArn: 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/authgate-test-edge/0f1e2d3c',
  logoutConcurrency: '20',
  svixConcurrency: '50',
  nextauthConcurrency: '40',
  // No alarm topic given here: the stack's own topic, with an e-mail subscription.
  alarmEmail: 'oncall@example.com',
} as const;
/**
 * The IAM-mode package also sets every alarm and log parameter away from its default, so the
 * template tests see alarms both with the stack's own topic (the default package) and with a topic
 * and thresholds of their own, and logs with and without a customer KMS key.
 */
export const ALARM_PARAMS_IAM = {
  // The topic under its older name, which stages deployed before alarmTopicArn still give: every
  // alarm must reach it just the same (test/infra/observability-template.test.ts).
  jobAlarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:authgate-test-alarms',
  apiErrorRateAlarmPercent: '2',
  apiLatencyP99AlarmMs: '1500',
  functionErrorsAlarmThreshold: '3',
  functionThrottlesAlarmThreshold: '2',
  upstreamFailuresAlarmThreshold: '7',
  // And logs kept longer than the default, under a customer KMS key (CT.CLOUDWATCH.PR.3 passes).
  logRetentionDays: '731',
  logKmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
};
export const CORS_TEST_ORIGIN = 'https://app.example.com';

/**
 * The three packages are built at once (about 5 s instead of 3 × 4–5 s one after another). Each
 * `serverless package` writes to `.serverless/` and `.esbuild/` in its service folder whatever
 * `--package` says, and empties them first, so each run gets a service folder of its own: a
 * temporary folder of links to the project's files. Nor is a developer's `.serverless/` (what
 * `npm start -- --packaged` reuses) overwritten by a test run any more.
 */
export default function setup(): () => Promise<void> {
  if (process.env.SKIP_PACKAGE === '1') return async () => {};
  const root = ROOT;
  const pack = async (dir: string, ...extra: string[]) => {
    const service = linkedServiceFolder(root);
    services.add(service);
    try {
      const run = execFileAsync(join(root, 'node_modules', '.bin', 'serverless'), ['package', '--stage', 'test', '--package', join(root, dir), ...extra], {
        cwd: service,
        env: { ...process.env, CI: 'true', SLS_TELEMETRY_DISABLED: '1' },
      });
      running.add(run.child);
      run.child.stderr?.pipe(process.stderr);
      await run.finally(() => running.delete(run.child));
    } finally {
      // Removes the links, not what they point to.
      rmSync(service, { recursive: true, force: true });
      services.delete(service);
    }
  };
  // vitest exits at once on Ctrl-C or SIGTERM (process.exit), its teardown not run: a packaging
  // left running would go on writing the package folders under the next run.
  process.once('exit', () => {
    for (const child of running) child.kill();
    for (const service of services) rmSync(service, { recursive: true, force: true });
  });
  // In the background: vitest starts no test file until every global setup has returned, and the
  // other layers need no package (docs/testing.md, where the time goes). The packaged files wait
  // for the status file instead (packagesReady, in their setup file).
  writeStatus({ state: 'running' });
  const packs = [
    pack(PACKAGE_DIR),
    pack(
      PACKAGE_DIR_IAM,
      '--param=callerAuth=iam',
      '--param=cors=on',
      `--param=corsAllowedOrigins=${CORS_TEST_ORIGIN}`,
      ...Object.entries(ALARM_PARAMS_IAM).map(([name, value]) => `--param=${name}=${value}`),
    ),
    pack(PACKAGE_DIR_LIMITS, ...Object.entries(LIMITS_PARAMS).map(([name, value]) => `--param=${name}=${value}`)),
  ];
  const packaging = Promise.all(packs).then(
    () => writeStatus({ state: 'done' }),
    (err: Error & { stdout?: string }) => {
      // One failed: every packaged file fails on it, so the other packagings are not waited for.
      for (const child of running) child.kill();
      writeStatus({ state: 'failed', error: `${err.message}\n${err.stdout ?? ''}` });
    },
  );
  // The teardown: the run does not end, nor leave a `serverless package` behind, before they have.
  return async () => {
    await packaging;
    await Promise.allSettled(packs);
  };
}

const ROOT = join(import.meta.dirname, '..', '..');
/** How the background packaging went, for the packaged files to wait on. */
const STATUS_FILE = join(ROOT, '.serverless-test-status.json');
type Status = { state: 'running' | 'done' } | { state: 'failed'; error: string };
const writeStatus = (status: Status) => writeFileSync(STATUS_FILE, JSON.stringify(status));
/** The `serverless package` runs under way, and their link folders: for a run that ends early. */
const running = new Set<ChildProcess>();
const services = new Set<string>();

/**
 * Resolves once the three packages are written; throws what `serverless package` printed if it
 * failed. The packaged project's setup file (packages-ready.ts) awaits it before each file.
 */
export async function packagesReady({ timeoutMs = 180_000 } = {}): Promise<void> {
  if (process.env.SKIP_PACKAGE === '1') {
    // Else each packaged file fails on a missing template, not saying why it is missing.
    for (const dir of [PACKAGE_DIR, PACKAGE_DIR_IAM, PACKAGE_DIR_LIMITS]) {
      if (!existsSync(join(ROOT, dir))) throw new Error(`SKIP_PACKAGE=1 reuses the packages of an earlier run, and ${dir} has none: run once without it`);
    }
    return;
  }
  const until = Date.now() + timeoutMs;
  for (;;) {
    const status = JSON.parse(readFileSync(STATUS_FILE, 'utf8')) as Status;
    if (status.state === 'done') return;
    if (status.state === 'failed') throw new Error(`serverless package failed in the global setup:\n${status.error}`);
    if (Date.now() > until) throw new Error(`serverless package still running after ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

/**
 * A temporary folder holding a link to each of the project's top-level entries but the build
 * outputs (and a copy of serverless.yml). esbuild follows the links (its default), so modules resolve in the project itself.
 */
function linkedServiceFolder(root: string): string {
  const service = mkdtempSync(join(tmpdir(), 'authgate-package-'));
  for (const entry of readdirSync(root)) {
    if (entry === '.esbuild' || entry.startsWith('.serverless')) continue;
    // osls takes no linked serverless.yml for a service ("can only be run in a service directory").
    if (entry === 'serverless.yml') copyFileSync(join(root, entry), join(service, entry));
    else symlinkSync(join(root, entry), join(service, entry));
  }
  return service;
}
