import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '#local/routes';
import { type GatewaySandbox, startGatewaySandbox } from '#local/sandbox/for-gateway';
import { DEFAULT_SANDBOX_SERVER_ID } from '#local/sandbox/nextauth';
import { removeAfterTests, tempDir } from '../support/temp-dir.ts';

/**
 * `npm run job` as the README shows it, for a message that holds a session nonce: npm itself
 * echoes a script's command line before running it, so the nonce must travel in a file (`@file`)
 * or on standard input (`@-`), with `--silent`, and nothing the command prints may hold it.
 */

const NONCE = 'nonce-canary-job-cli-5f1e9a';
const MESSAGE = JSON.stringify({ serverid: DEFAULT_SANDBOX_SERVER_ID, nonce: NONCE });

interface Run {
  code: number | null;
  output: string;
  stdout: string;
}

/**
 * One folder for the file's message files, made before the tests: they run concurrently, and a
 * folder made inside one would be removed when whichever test finishes first (temp-dir.ts).
 */
let dir: string;
beforeAll(() => {
  dir = tempDir('job-cli');
});

/** Runs npm with these arguments from `cwd`, the way a developer's shell would. */
const npm = (args: string[], options: RunOptions = {}) => run('npm', args, options);

/**
 * Runs local/job.ts as `npm run job` does (`tsx local/job.ts`), without npm: for the tests of the
 * job itself rather than of how npm passes its arguments, which saves npm's own start-up.
 */
const job = (args: string[], env: Record<string, string> = {}) => run(process.execPath, ['--import', 'tsx', 'local/job.ts', ...args], { env });

interface RunOptions {
  cwd?: string;
  stdin?: string;
  /** Set for the child only, after the test environment's upstream variables are removed. */
  env?: Record<string, string>;
}

function run(command: string, args: string[], options: RunOptions = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    // A fresh sandbox per run unless `options.env` names a running one: not the test environment's.
    const env = { ...process.env };
    for (const name of ['SVIX_API_URL', 'NEXTAUTH_API_URL', 'SECRETS_FILE', 'JOB_REQUESTS_PER_SECOND']) delete env[name];
    Object.assign(env, options.env);
    const child = spawn(command, args, { cwd: options.cwd ?? PROJECT_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output, stdout }));
    child.stdin.end(options.stdin ?? '');
  });
}

// Three npm + tsx processes at once, each a job: 10 s here when quiet, past 20 s when two suites
// share the two cores. The bound is a hang guard, not a speed target (that is `npm run bench`'s).
describe.concurrent('npm run job with a message that holds a nonce', { timeout: 60_000 }, () => {
  it('inline and without --silent, npm prints the nonce with the command line (why the README avoids it)', async () => {
    const run = await npm(['run', 'job', '--', 'logout', MESSAGE]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`> tsx local/job.ts logout ${MESSAGE}`);
  });

  it('`npm run --silent job -- logout @file` does the job and prints no nonce; the path is relative to the caller', async () => {
    writeFileSync(join(dir, 'offboarding.json'), MESSAGE);
    const run = await npm(['--prefix', PROJECT_ROOT, 'run', '--silent', 'job', '--', 'logout', '@offboarding.json'], { cwd: dir });
    expect(run.output).toContain('done 1, unfinished 0, dead-lettered 0');
    expect(run.code).toBe(0);
    expect(run.output).not.toContain(NONCE);
  });

  it('`@-` reads the message from standard input', async () => {
    const run = await npm(['run', '--silent', 'job', '--', 'logout', '@-'], { stdin: MESSAGE });
    expect(run.output).toContain('target 0  nextAuth logout');
    expect(run.code).toBe(0);
    expect(run.output).not.toContain(NONCE);
  });
});

describe.concurrent('the job (local/job.ts): who sent a message', { timeout: 60_000 }, () => {
  it('refuses an event claiming a source the job does not accept, and names the real sender (--logs shows the record)', async () => {
    const forged = { 'detail-type': 'authgate.expire-all.requested', source: 'com.example.hr', id: 'evt-forged', detail: { appId: 'app_demo' } };
    writeFileSync(join(dir, 'forged.json'), JSON.stringify(forged));
    const run = await job(['expire-all', `@${join(dir, 'forged.json')}`, '--logs']);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('dead-lettered: invalid message: source "com.example.hr" is not one of this job\'s event sources');
    expect(run.stdout).toContain('from sqs:AIDAEXAMPLELOCAL (claims source "com.example.hr")');
    expect(run.output).toContain('"caller":{"id":"sqs:AIDAEXAMPLELOCAL","sender":"AIDAEXAMPLELOCAL","claimedSource":"com.example.hr"}');
    expect(run.output).not.toContain('event:com.example.hr');
  });

  it('--eventbridge delivers as our rule does: done, naming the rule and the source as claimed', async () => {
    const run = await job(['expire-all', '{"appId":"app_demo"}', '--eventbridge']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /from sqs:AIDAEVENTBRIDGELOCAL\|arn:aws:events:\S+:rule\/authgate-local-expire-all-requested \(through rule \S+, claims source "authgate.requests"\)/,
    );
  });
});

/**
 * A running sandbox with a rate limit (as `npm start -- --rate-limit=1 --rate-burst=1` runs one),
 * which the job is pointed at through SVIX_API_URL, NEXTAUTH_API_URL and SECRETS_FILE: two Svix
 * targets on the one org key, of which the bucket lets one through at a time.
 */
describe('the job against a rate-limited upstream: continued as SQS would deliver it', () => {
  let limited: GatewaySandbox;
  let runningSandbox: Record<string, string>;
  const TWO_TARGETS = JSON.stringify({
    targets: [
      { appId: 'app_demo', sessionIds: ['s-1'] },
      { appId: 'app_demo', sessionIds: ['s-2'] },
    ],
  });
  beforeAll(async () => {
    limited = await startGatewaySandbox({ rateLimit: { rate: 1, burst: 1 } });
    removeAfterTests(dirname(limited.secretsFile));
    runningSandbox = { SVIX_API_URL: limited.sandbox.url, NEXTAUTH_API_URL: limited.sandbox.url, SECRETS_FILE: limited.secretsFile };
  });
  afterAll(() => limited?.sandbox.close());
  /** Calls the sandbox refused with 429, all credentials. */
  const refused = () => Object.values(limited.sandbox.rateLimit.stats()).reduce((sum, c) => sum + c.refused, 0);

  it('defers the target refused with 429, delivers the continuation after its delay, and ends done (exit 0)', async () => {
    // One call every 4 s, the bucket full (set() refills it): of the two targets, one is refused
    // (at 1/s a loaded machine could stall a second between them, and both would pass). Which one
    // is the race's: a message's targets go out together (lib/jobs/runner.ts), in no promised order.
    limited.sandbox.rateLimit.set({ rate: 0.25, burst: 1 });
    const run = await job(['expire-all', TWO_TARGETS], runningSandbox);
    const deferred = /message 1 +delivery 1 +\S+ +deferred \d+ s: target ([01]): .*429/.exec(run.stdout)?.[1];
    expect(deferred, run.output).toBeDefined();
    expect(run.stdout).toMatch(/message 1 +delivery 2 +\S+ +continued \(verified\): done/);
    // The continuation does not call the other target again: it was done on the first delivery.
    expect(run.stdout).toContain(`target ${deferred === '0' ? 1 : 0}  done on an earlier delivery, not called again`);
    expect(run.stdout).toContain('done 1, unfinished 0, dead-lettered 0 (2 deliveries, 1 continuation)');
    expect(run.code, run.output).toBe(0);
    expect(refused()).toBeGreaterThan(0);
  }, 30_000);

  it('--rate=R paces the job as jobRequestsPerSecond does in AWS: its share of R, so no 429 and one delivery', async () => {
    // One call a second, the bucket full again.
    limited.sandbox.rateLimit.set({ rate: 1, burst: 1 });
    const refusedBefore = refused();
    // jobMaxConcurrency 2 (the least the stage allows): each invocation's share is 1 call every 2 s.
    const run = await job(['expire-all', TWO_TARGETS, '--rate=1'], { ...runningSandbox, JOB_MAX_CONCURRENCY: '2' });
    expect(run.stdout).toContain('paced at 1 request(s)/s per upstream credential (0.5/s per invocation)');
    expect(run.stdout).toMatch(/message 1 +delivery 1 +\S+ +done/);
    expect(run.stdout).not.toContain('deferred');
    expect(run.code, run.output).toBe(0);
    expect(refused()).toBe(refusedBefore);
  }, 30_000);

  it('refuses a --rate that is not a whole number of requests per second, naming the setting', async () => {
    const run = await job(['expire-all', TWO_TARGETS, '--rate=fast'], runningSandbox);
    expect(run.code).toBe(2);
    expect(run.output).toContain('--rate');
    expect(run.output).toContain('JOB_REQUESTS_PER_SECOND');
  });
});
