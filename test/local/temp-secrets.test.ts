import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '#local/routes';

/**
 * `npm start` and `npm run job` write this run's upstream keys to a temporary secrets file; it
 * must not outlive them, however they end. The scripts run with a TMPDIR of this file's own (the
 * runs are sequential), so the `authgate-*` directories in it are exactly what a run left behind.
 * (tsx keeps its compile cache there too, which is why that TMPDIR is shared: a warm cache.)
 */

const children: ChildProcess[] = [];
let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'authgate-cleanup-test-'));
});
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Run {
  child: ChildProcess;
  output: () => string;
  /** Resolves once stdout has printed `text`. */
  printed: (text: string) => Promise<void>;
  exited: Promise<number | null>;
}

function run(script: string, args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, TMPDIR: tmp, PORT: '0', SANDBOX_PORT: '0', SVIX_API_URL: '', NEXTAUTH_API_URL: '', SECRETS_FILE: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  const waiters: Array<() => void> = [];
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    for (const w of waiters.splice(0)) w();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const printed = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (out.includes(text)) return resolve();
        if (child.exitCode !== null) return reject(new Error(`exited before printing "${text}":\n${out}`));
        waiters.push(check);
      };
      check();
    });
  return { child, output: () => out, printed, exited };
}

/** What startGatewaySandbox left under the runs' TMPDIR: `authgate-*` directories (with a secrets.json). */
const leftovers = () => readdirSync(tmp).filter((name) => name.startsWith('authgate-'));
const secretsFiles = () => leftovers().filter((name) => existsSync(join(tmp, name, 'secrets.json')));

describe('temporary secrets files', () => {
  it('npm start: the secrets file exists while it runs and is gone after Ctrl-C', async () => {
    const start = run('local/start.ts', []);
    await start.printed('Ctrl-C stops both.');
    expect(secretsFiles()).toHaveLength(1);
    start.child.kill('SIGINT');
    expect(await start.exited).toBe(0);
    expect(leftovers()).toEqual([]);
  }, 30_000);

  it('npm run job: gone after a normal run', async () => {
    const job = run('local/job.ts', ['expire-all', '{"appId":"app_demo"}']);
    expect(await job.exited, job.output()).toBe(0);
    expect(job.output()).toContain('done 1');
    expect(leftovers()).toEqual([]);
  }, 30_000);

  it('npm run job: gone after Ctrl-C in the middle of a run', async () => {
    // Every upstream call hangs, so the job is surely mid-run when interrupted.
    const job = run('local/job.ts', ['expire-all', '{"appId":"app_demo"}'], { SANDBOX_FAULTS: '{"*":{"hang":true}}' });
    await job.printed('upstream ');
    expect(secretsFiles()).toHaveLength(1);
    job.child.kill('SIGINT');
    expect(await job.exited).toBe(130);
    expect(leftovers()).toEqual([]);
  }, 30_000);
});
