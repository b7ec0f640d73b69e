import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, onTestFinished } from 'vitest';

/**
 * Temporary folders for tests, never left behind: secrets files, dev keys and job messages are
 * written in them, and the OS temp directory is shared (and kept) across runs.
 *
 * Every folder is removed after the file's tests at the latest (the `afterAll` below registers
 * when a test file imports this module); one made inside a test goes when that test finishes.
 */

const pending = new Set<string>();

const remove = (path: string) => {
  rmSync(path, { recursive: true, force: true });
  pending.delete(path);
};

afterAll(() => {
  for (const path of [...pending]) remove(path);
});

/** Removes `path` (made by code under test, e.g. a secrets file's folder) after the file's tests. */
export function removeAfterTests(path: string): void {
  pending.add(path);
}

/**
 * A fresh `authgate-<prefix>-XXXXXX` folder (mode 0700) under the OS temp directory. Not inside a
 * concurrent test: vitest's global `onTestFinished` may then belong to a sibling, which would remove
 * the folder while this test still uses it; make it in `beforeAll` instead.
 *
 * @example
 * const dir = tempDir('job-cli'); // gone when this test finishes
 */
export function tempDir(prefix: string): string {
  const path = mkdtempSync(join(tmpdir(), `authgate-${prefix}-`));
  removeAfterTests(path);
  try {
    onTestFinished(() => remove(path));
  } catch {
    // Made outside a test (beforeAll): the afterAll above removes it.
  }
  return path;
}
