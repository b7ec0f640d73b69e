import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * The fence between what ships and what does not: nothing under functions/ or lib/ may import
 * local/ or test/ (biome.json, noRestrictedImports). Checked by running the linter on probe files,
 * so a change to the configuration that opens the fence fails here, not in a deployed bundle.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);

async function lint(relativePath: string, source: string): Promise<{ ok: boolean; output: string }> {
  const file = join(ROOT, relativePath);
  writeFileSync(file, source);
  try {
    await run('npx', ['--yes', '@biomejs/biome@2.6.8', 'lint', '--max-diagnostics=20', relativePath], { cwd: ROOT });
    return { ok: true, output: '' };
  } catch (err) {
    const { stdout, stderr } = err as { stdout: string; stderr: string };
    return { ok: false, output: `${stdout}${stderr}` };
  } finally {
    rmSync(file, { force: true });
  }
}

const FENCED = [
  "import { startLocalApi } from '#local/api';",
  "import { startSandbox } from '../local/sandbox/server.ts';",
  "import { invoke } from '../test/support/invoke.ts';",
];

describe('the fence: shipped code imports nothing local-only', { timeout: 60_000 }, () => {
  it.each([
    ['lib/fence-probe.ts', '../local/sandbox/server.ts'],
    ['functions/fence-probe.ts', '../local/sandbox/server.ts'],
  ])('refuses local/ and test/ imports in %s', async (path, _sample) => {
    const { ok, output } = await lint(path, `${FENCED.join('\n')}\nexport const used = [startLocalApi, startSandbox, invoke];\n`);
    expect(ok).toBe(false);
    expect(output.match(/noRestrictedImports/g)?.length).toBe(FENCED.length);
  });

  it('lets local/ import lib/ and local/', async () => {
    const { ok, output } = await lint(
      'local/fence-probe.ts',
      "import { log } from '#lib/log';\nimport { startSandbox } from './sandbox/server.ts';\nexport const used = [log, startSandbox];\n",
    );
    expect(output).not.toMatch(/noRestrictedImports/);
    expect(ok).toBe(true);
  });
});
