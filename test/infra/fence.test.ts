import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/**
 * The fence between what ships and what does not: nothing under functions/ or lib/ may import
 * local/ or test/. Checked on the import graph esbuild resolves (the bundler that builds the zips),
 * from every file of functions/ and lib/ as an entry point, so a file no handler imports yet is
 * fenced too. biome.json's noRestrictedImports says the same in the editor; this is the proof, and
 * it needs no network and writes no file.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const SHIPPED = ['functions', 'lib'];

const sources = (dir: string): string[] =>
  readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));

/** Every project file reachable from `entries` (or from `stdin`, a file's text placed in `dir`). */
async function reachable(entries: string[], stdin?: { contents: string; dir: string }): Promise<string[]> {
  const result = await build({
    absWorkingDir: ROOT,
    ...(stdin ? { stdin: { contents: stdin.contents, resolveDir: join(ROOT, stdin.dir), loader: 'ts' } } : { entryPoints: entries }),
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    outdir: 'out',
    packages: 'external',
    logLevel: 'silent',
  });
  return Object.keys(result.metafile.inputs);
}

const fenced = (files: string[]) => files.filter((file) => /^(local|test)\//.test(file));

describe('the fence: shipped code imports nothing local-only', () => {
  it('no file of functions/ or lib/ reaches local/ or test/', async () => {
    const entries = SHIPPED.flatMap(sources);
    const inputs = await reachable(entries);
    expect(entries.length).toBeGreaterThan(40);
    expect(inputs).toEqual(expect.arrayContaining(entries));
    expect(fenced(inputs)).toEqual([]);
  });

  // The same check on a file that crosses the fence, three ways (subpath import, relative path,
  // test support), so the assertion above is known to be able to fail.
  it.each(['lib', 'functions'])('would catch a file in %s/ that imports local-only code', async (dir) => {
    const contents = [
      "import { startLocalApi } from '#local/api';",
      "import { startSandbox } from '../local/sandbox/server.ts';",
      "import { invoke } from '../test/support/invoke.ts';",
      'export const used = [startLocalApi, startSandbox, invoke];',
    ].join('\n');
    const found = fenced(await reachable([], { contents, dir }));
    expect(found).toEqual(expect.arrayContaining(['local/api.ts', 'local/sandbox/server.ts', 'test/support/invoke.ts']));
  });
});
