import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from './temp-dir.ts';

/**
 * The packaged layer's global setup packages in the background (global-setup.ts): what becomes of
 * its `serverless package` runs when one fails, and when vitest is stopped (Ctrl-C or SIGTERM:
 * vitest then exits at once, its teardown not run). Run on a copy of global-setup.ts in a project
 * folder of its own, whose `serverless` is a stand-in: the real one takes seconds and two cores.
 */

/** Records its pid; the limits package fails after half a second, the others take 30 s. */
const FAKE_SERVERLESS = `#!/bin/sh
echo $$ >> "$FAKE_SERVERLESS_PIDS"
case "$*" in
  *--package*-limits*) [ -n "$FAKE_SERVERLESS_FAIL" ] && { sleep 0.5; echo "limits: the template would not compile" >&2; exit 1; } ;;
esac
exec sleep 30
`;

/**
 * Stands in for vitest: runs the global setup, exits as vitest does on SIGTERM (process.exit, no
 * teardown), and otherwise waits for the packaged files' verdict, runs the teardown and exits.
 */
const DRIVER = `
const setup = (await import(process.argv[1])).default;
process.once('SIGTERM', () => process.exit(143));
const teardown = setup();
const { packagesReady } = await import(process.argv[1]);
await packagesReady({ timeoutMs: 10_000 }).catch((err) => console.log('packaged files see: ' + err.message));
await teardown();
process.exit(0);
`;

let root = '';
let scratch = '';
let driver: ChildProcess | undefined;

beforeEach(() => {
  root = tempDir('setup-project');
  scratch = tempDir('setup-scratch');
  mkdirSync(join(root, 'test', 'support'), { recursive: true });
  copyFileSync(join(import.meta.dirname, 'global-setup.ts'), join(root, 'test', 'support', 'global-setup.ts'));
  mkdirSync(join(root, 'node_modules', '.bin'), { recursive: true });
  writeFileSync(join(root, 'node_modules', '.bin', 'serverless'), FAKE_SERVERLESS);
  chmodSync(join(root, 'node_modules', '.bin', 'serverless'), 0o755);
  writeFileSync(join(root, 'serverless.yml'), 'service: stand-in\n');
  writeFileSync(join(root, 'package.json'), JSON.stringify({ type: 'module' }));
});

afterEach(() => {
  // Whatever the verdict, none of the stand-ins outlives the test (each started here, by pid).
  for (const pid of pids()) if (alive(pid)) process.kill(pid, 'SIGKILL');
  if (driver?.exitCode === null) driver.kill('SIGKILL');
});

const pids = () => readFileSync(join(scratch, 'pids'), { encoding: 'utf8', flag: 'a+' }).split('\n').filter(Boolean).map(Number);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function startDriver(env: Record<string, string> = {}) {
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', DRIVER, join(root, 'test', 'support', 'global-setup.ts')],
    {
      cwd: root,
      // The link folders go to a temp directory of the test's, to be seen gone.
      env: { ...process.env, SKIP_PACKAGE: '', FAKE_SERVERLESS_PIDS: join(scratch, 'pids'), TMPDIR: scratch, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  driver = child;
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

const until = async (condition: () => boolean, what: string) => {
  for (const started = Date.now(); !condition(); await new Promise((r) => setTimeout(r, 50))) {
    if (Date.now() - started > 10_000) throw new Error(`still waiting for ${what}`);
  }
};

describe('the packaged layer’s background packaging', () => {
  it('when one package fails: says why, stops the other two, removes its link folders, and ends', async () => {
    const run = startDriver({ FAKE_SERVERLESS_FAIL: '1' });
    expect(await run.exited, run.output()).toBe(0);
    expect(run.output()).toContain('packaged files see: serverless package failed in the global setup:');
    expect(run.output()).toContain('limits: the template would not compile');
    expect(pids()).toHaveLength(3);
    await until(() => pids().every((pid) => !alive(pid)), 'the other packagings to stop');
    expect(readdirSync(scratch).filter((entry) => entry.startsWith('authgate-package-'))).toEqual([]);
  });

  it('with SKIP_PACKAGE=1 and no earlier packages: says so, naming the variable', async () => {
    const run = startDriver({ SKIP_PACKAGE: '1' });
    expect(await run.exited, run.output()).toBe(0);
    expect(run.output()).toContain('packaged files see: SKIP_PACKAGE=1 reuses the packages of an earlier run, and .serverless-test has none');
    expect(pids()).toEqual([]);
  });

  it('when vitest is stopped mid-packaging (SIGTERM or Ctrl-C: process.exit, no teardown): no packaging outlives it', async () => {
    const run = startDriver();
    await until(() => pids().length === 3, 'the three packagings to start');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(143);
    await until(() => pids().every((pid) => !alive(pid)), 'the packagings to stop');
    expect(readdirSync(scratch).filter((entry) => entry.startsWith('authgate-package-'))).toEqual([]);
  });
});
