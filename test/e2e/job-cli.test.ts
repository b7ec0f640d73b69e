import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '#local/routes';
import { DEFAULT_SANDBOX_SERVER_ID } from '#local/sandbox/nextauth';
import { tempDir } from '../support/temp-dir.ts';

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
const npm = (args: string[], options: { cwd?: string; stdin?: string } = {}) => run('npm', args, options);

/**
 * Runs local/job.ts as `npm run job` does (`tsx local/job.ts`), without npm: for the tests of the
 * job itself rather than of how npm passes its arguments, which saves npm's own start-up.
 */
const job = (args: string[]) => run(process.execPath, ['--import', 'tsx', 'local/job.ts', ...args]);

function run(command: string, args: string[], options: { cwd?: string; stdin?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    // A fresh sandbox per run: no SVIX_API_URL / SECRETS_FILE from the test environment.
    const env = { ...process.env };
    for (const name of ['SVIX_API_URL', 'NEXTAUTH_API_URL', 'SECRETS_FILE']) delete env[name];
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

describe.concurrent('npm run job with a message that holds a nonce', () => {
  it('inline and without --silent, npm prints the nonce with the command line (why the README avoids it)', async () => {
    const run = await npm(['run', 'job', '--', 'logout', MESSAGE]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`> tsx local/job.ts logout ${MESSAGE}`);
  });

  it('`npm run --silent job -- logout @file` does the job and prints no nonce; the path is relative to the caller', async () => {
    writeFileSync(join(dir, 'offboarding.json'), MESSAGE);
    const run = await npm(['--prefix', PROJECT_ROOT, 'run', '--silent', 'job', '--', 'logout', '@offboarding.json'], { cwd: dir });
    expect(run.output).toContain('done 1, retried 0, dead-lettered 0');
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

describe.concurrent('the job (local/job.ts): who sent a message', () => {
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
