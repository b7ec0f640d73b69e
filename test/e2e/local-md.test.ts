import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '#local/routes';
import { tempDir } from '../support/temp-dir.ts';

/**
 * docs/local.md as a reader uses it: `npm start` on ports of its own (not the defaults), its printed
 * `export` lines pasted into bash, then every shell block of the Svix and nextAuth walkthroughs run
 * as written, in order, with `set -eu` (a variable the banner does not export fails the run).
 */

const DOC = readFileSync(join(PROJECT_ROOT, 'docs', 'local.md'), 'utf8');

/** The ```sh blocks between two headings of docs/local.md. */
function shellBlocks(from: string, to: string): string[] {
  const section = DOC.slice(DOC.indexOf(from), DOC.indexOf(to));
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```/gm)].map((m) => m[1] as string);
}
const WALKTHROUGH = shellBlocks('## Svix, by example', '## Jobs');

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

let start: ChildProcess;
let banner = '';

beforeAll(async () => {
  const [port, sandboxPort] = [await freePort(), await freePort()];
  start = spawn(join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'), ['local/start.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, PORT: String(port), SANDBOX_PORT: String(sandboxPort) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    start.stdout?.on('data', (chunk: Buffer) => {
      banner += chunk.toString();
      if (banner.includes('Ctrl-C stops both.')) resolve();
    });
    start.on('exit', (code) => reject(new Error(`npm start exited (${code}) before its banner:\n${banner}`)));
  });
}, 30_000);

afterAll(async () => {
  if (start.exitCode !== null) return;
  const exited = new Promise((resolve) => start.on('exit', resolve));
  start.kill('SIGTERM');
  await exited;
});

describe('docs/local.md, pasted as printed', () => {
  it('has walkthrough blocks that name no port and no placeholder token', () => {
    expect(WALKTHROUGH.length).toBeGreaterThanOrEqual(4);
    for (const block of WALKTHROUGH) {
      expect(block).not.toMatch(/127\.0\.0\.1|localhost|:3000|:4010|TOKEN=eyJ/);
    }
  });

  it('runs every Svix and nextAuth command with only the exports npm start printed', async () => {
    const exports = banner.split('\n').filter((line) => line.startsWith('export '));
    expect(exports.join('\n')).toMatch(/API=.*SANDBOX=[\s\S]*SID=[\s\S]*SID2=[\s\S]*TOKEN=/);
    const script = ['set -eu', ...exports, ...WALKTHROUGH].join('\n');
    const { stdout } = await promisify(execFile)('bash', ['-c', script], { cwd: tempDir('local-md'), maxBuffer: 10 * 1024 * 1024 });
    // Svix: a portal token minted, the deprecated route marked so.
    expect(stdout).toMatch(/"token":"appsk_/);
    expect(stdout).toMatch(/deprecation: true/i);
    // nextAuth on both servers (each with its own key), then alice logged in by the scan and by the push.
    expect(stdout.match(/"loggedin":false/g)?.length).toBeGreaterThanOrEqual(2);
    expect(stdout.match(/"loggedin":true,"userid":"alice"/g)).toHaveLength(2);
  }, 60_000);
});
