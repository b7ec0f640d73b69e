import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeSecretsFile } from '#local/secrets-file';
import { startLocalStack } from '../support/local-stack.ts';
import { removeAfterTests, tempDir } from '../support/temp-dir.ts';

/**
 * The test support code leaves nothing in the OS temp directory: a secrets file is readable by
 * its owner only while it exists, and its folder is gone once the tests that made it are done.
 */

const mode = (path: string) => statSync(path).mode & 0o777;

describe('temporary folders and secrets files', () => {
  it('a secrets file is created 0600, in a folder of its own (0700)', () => {
    const file = writeSecretsFile({ 'local/svix': 'sk_temp_folder_test' });
    removeAfterTests(dirname(file));
    expect(mode(file)).toBe(0o600);
    expect(mode(dirname(file))).toBe(0o700);
    expect(dirname(file)).toMatch(/[/\\]authgate-[^/\\]+$/);
  });

  it("the local stack's secrets file is 0600, and its folder (keys, dev JWT key) is gone after close()", async () => {
    const stack = await startLocalStack();
    const file = process.env.SECRETS_FILE as string;
    const dir = dirname(file);
    expect(mode(file)).toBe(0o600);
    expect(existsSync(join(dir, 'jwt'))).toBe(true);
    await stack.close();
    expect(existsSync(dir)).toBe(false);
  });

  let made: string | undefined;
  it('tempDir: a fresh authgate-* folder (0700) while the test runs', () => {
    made = tempDir('temp-folders');
    expect(mode(made)).toBe(0o700);
    expect(made).toMatch(/[/\\]authgate-temp-folders-[^/\\]+$/);
  });
  it('tempDir: gone once that test finished', () => {
    expect(made && existsSync(made)).toBe(false);
  });
});
