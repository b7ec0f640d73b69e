import { readFile } from 'node:fs/promises';
import { type SecretSource, useSecretSource } from '#lib/secrets';

/**
 * The local runs' secret source: the sandbox's keys in a JSON file `{ "<secret id>": "<value>" |
 * {...} }` (written mode 0600 by local/sandbox/for-gateway.ts), read on every fetch so a test can
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
