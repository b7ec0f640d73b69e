import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '#local/routes';
import { tempDir } from '../support/temp-dir.ts';

/**
 * `npm start` and `npm run job` write this run's upstream keys to a temporary secrets file; it
 * must not outlive them, however they end. The scripts run with a TMPDIR of this file's own (the
 * runs are sequential), so the `authgate-*` directories in it are exactly what a run left behind.
 * (tsx keeps its compile cache there too, which is why that TMPDIR is shared: a warm cache.)
 */

const children: ChildProcess[] = [];
let tmp: string;

beforeAll(() => {
  // Removed after the file's tests (../support/temp-dir.ts).
  tmp = tempDir('cleanup-test');
});
afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    // `npm start` runs in a group of its own: whatever of it is left goes too.
    if (child.spawnargs[0] === 'npm' && child.pid && groupAlive(child.pid)) process.kill(-child.pid, 'SIGKILL');
  }
});

/** Whether any process of this process group is still running. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether something accepts connections on this URL's port. */
const listening = (url: string) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  for (const started = Date.now(); Date.now() - started < timeoutMs; await new Promise((r) => setTimeout(r, 100))) if (condition()) return true;
  return condition();
}
// Each test judges its own run: what an earlier (failed) one left does not count against it.
beforeEach(() => {
  for (const name of leftovers()) rmSync(join(tmp, name), { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  output: () => string;
  /** Resolves once stdout has printed `text`. */
  printed: (text: string) => Promise<void>;
  exited: Promise<number | null>;
}

// The orphan watch (local/orphan-watch.ts) polls every 50 ms instead of every second: the `kill -HUP`
// tests wait on it.
const ENV = { PORT: '0', SANDBOX_PORT: '0', SVIX_API_URL: '', NEXTAUTH_API_URL: '', SECRETS_FILE: '', ORPHAN_WATCH_INTERVAL_MS: '50' };

/** `script` run by Node with tsx, or (`npm`) the given npm command, in a process group of its own. */
function run(script: string, args: string[], env: Record<string, string> = {}, { npm = false } = {}): Run {
  const [command, argv] = npm ? ['npm', [script, ...args]] : [process.execPath, ['--import', 'tsx', script, ...args]];
  const child = spawn(command as string, argv as string[], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...ENV, TMPDIR: tmp, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: npm,
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
/** The local API's and the sandbox's URLs, as `npm start` printed them. */
const serverUrls = (start: Run) => [...start.output().matchAll(/^(?:authgate local API|sandbox upstream) +(http:\/\/\S+)/gm)].map((m) => m[1] as string);

// Each bound below is a hang guard, not a speed target: a real `npm start` took up to 15 s when two
// suites shared the two cores.
describe('temporary secrets files', () => {
  it('npm start: the secrets file exists while it runs and is gone after Ctrl-C', async () => {
    const start = run('local/start.ts', []);
    await start.printed('Ctrl-C stops both.');
    expect(secretsFiles()).toHaveLength(1);
    start.child.kill('SIGINT');
    expect(await start.exited).toBe(130);
    expect(leftovers()).toEqual([]);
  }, 60_000);

  it.each([
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)(
    'npm start: %s closes both servers, removes the secrets file, exits %i',
    async (signal, code) => {
      const start = run('local/start.ts', []);
      await start.printed('Ctrl-C stops both.');
      const urls = serverUrls(start);
      expect(urls).toHaveLength(2);
      start.child.kill(signal);
      expect(await start.exited).toBe(code);
      expect(leftovers()).toEqual([]);
      for (const url of urls) expect([url, await listening(url)]).toEqual([url, false]);
    },
    60_000,
  );

  it('`kill -HUP` of npm alone (npm forwards no SIGHUP): the whole `npm start` tree exits, nothing listens, no secrets file', async () => {
    const start = run('start', [], {}, { npm: true });
    await start.printed('Ctrl-C stops both.');
    const urls = serverUrls(start);
    expect(urls).toHaveLength(2);
    expect(secretsFiles()).toHaveLength(1);
    const group = start.child.pid as number;
    process.kill(group, 'SIGHUP');
    await start.exited;
    // npm is gone at once; what it started (sh, tsx, the servers) must follow within seconds.
    expect(await until(() => !groupAlive(group), 10_000), start.output()).toBe(true);
    for (const url of urls) expect([url, await listening(url)]).toEqual([url, false]);
    expect(leftovers()).toEqual([]);
  }, 60_000);

  it('npm run job: gone after a normal run', async () => {
    const job = run('local/job.ts', ['expire-all', '{"appId":"app_demo"}']);
    expect(await job.exited, job.output()).toBe(0);
    expect(job.output()).toContain('done 1');
    expect(leftovers()).toEqual([]);
  }, 60_000);

  it.each([
    { how: 'Ctrl-C', signal: 'SIGINT', code: 130 },
    { how: 'SIGHUP (a closed terminal)', signal: 'SIGHUP', code: 129 },
  ] as const)(
    'npm run job: gone after $how in the middle of a run, exit $code',
    async ({ signal, code }) => {
      // Every upstream call hangs, so the job is surely mid-run when interrupted.
      const job = run('local/job.ts', ['expire-all', '{"appId":"app_demo"}'], { SANDBOX_FAULTS: '{"*":{"hang":true}}' });
      await job.printed('upstream ');
      expect(secretsFiles()).toHaveLength(1);
      job.child.kill(signal);
      expect(await job.exited).toBe(code);
      expect(leftovers()).toEqual([]);
    },
    60_000,
  );

  it('`kill -HUP` of npm alone during `npm run job`: the whole tree exits, no secrets file', async () => {
    const job = run('run', ['job', '--', 'expire-all', '{"appId":"app_demo"}'], { SANDBOX_FAULTS: '{"*":{"hang":true}}' }, { npm: true });
    await job.printed('upstream ');
    expect(secretsFiles()).toHaveLength(1);
    const group = job.child.pid as number;
    process.kill(group, 'SIGHUP');
    await job.exited;
    // Well before the consumer's own timeout would end the hung run anyway.
    expect(await until(() => !groupAlive(group), 5_000), job.output()).toBe(true);
    expect(leftovers()).toEqual([]);
  }, 60_000);
});
