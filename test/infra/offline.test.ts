import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * `npm test` needs no registry once `npm ci` is done (docs/testing.md#offline). What could reach
 * one from inside the suite is a command that fetches packages: `npx`, or npm installing. No test,
 * no support or local code the tests run, and no script they spawn may name one outside a comment.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const SELF = relative(ROOT, import.meta.filename);
const FETCHES = /\bnpx\b|\bnpm\s+(?:i|install|exec|dlx)\b|\bpnpm\s+dlx\b|\byarn\s+dlx\b/;

const code = (dir: string) =>
  readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|cjs|js|sh)$/.test(entry.name))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)))
    .filter((file) => file !== SELF);

/** The lines of `text` that fetch, comments left out (they explain, they do not run). */
const fetching = (text: string) =>
  text
    .split('\n')
    .filter((line) => !/^\s*(\/\/|\*|\/\*|#)/.test(line))
    .filter((line) => FETCHES.test(line.replace(/\/\/.*$/, '')));

describe('npm test runs offline', () => {
  const files = ['test', 'local', 'scripts'].flatMap(code);

  it('reads the suite, what it runs and what it spawns', () => {
    expect(files).toContain('test/support/global-setup.ts');
    expect(files.length).toBeGreaterThan(100);
  });

  it('names no npx and no package install outside comments', () => {
    const offenders = files.flatMap((file) => fetching(readFileSync(join(ROOT, file), 'utf8')).map((line) => `${file}: ${line.trim()}`));
    expect(offenders).toEqual([]);
  });

  it('would catch one (the check can fail)', () => {
    expect(fetching("await run('npx', ['--yes', '@biomejs/biome', 'lint']);")).toHaveLength(1);
    expect(fetching('  // npx would fetch it')).toHaveLength(0);
  });
});
