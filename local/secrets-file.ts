import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type SecretSource, useSecretSource } from '#lib/secrets';

/**
 * The local runs' secret source: the sandbox's keys in a JSON file `{ "<secret id>": "<value>" |
 * {...} }` (written by `writeSecretsFile` below), read on every fetch so a test can
 * rotate a key by rewriting the file. Injected into lib/secrets.ts; never shipped.
 */
export function fileSecretSource(path: string): SecretSource {
  return async (secretId) => {
    let all: Record<string, unknown>;
    try {
      all = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    } catch {
      // JSON.parse's message quotes the text it choked on: the secrets themselves.
      throw new Error('the secrets file is missing or not valid JSON');
    }
    const value = all[secretId];
    if (value === undefined) throw new Error('secret id not in the secrets file');
    return typeof value === 'string' ? value : JSON.stringify(value);
  };
}

/** Reads this process's secrets from `path` from now on. */
export function useSecretsFile(path: string): void {
  useSecretSource(fileSecretSource(path));
}

/**
 * Writes `secrets` (secret id → value) to a new `authgate-XXXXXX/secrets.json` under the OS
 * temp directory and returns its path. The folder is 0700 (mkdtemp) and the file is created
 * 0600 (`wx`: a new file, so the mode applies at creation; a chmod afterwards would leave a
 * moment when other users could read it). Whoever writes one removes its folder (local/cleanup.ts).
 *
 * @example
 * const file = writeSecretsFile({ 'local/svix': 'sk_…' });
 */
export function writeSecretsFile(secrets: Record<string, unknown>): string {
  const file = join(mkdtempSync(join(tmpdir(), 'authgate-')), 'secrets.json');
  writeFileSync(file, JSON.stringify(secrets), { mode: 0o600, flag: 'wx' });
  return file;
}
