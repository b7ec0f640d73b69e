import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalApi, startLocalApi } from '#local/api';
import { DEFAULT_SANDBOX_SERVER_ID } from '#local/sandbox/nextauth';
import { type Sandbox, startSandbox } from '#local/sandbox/server';

/** The whole local system over real HTTP, as `npm start` runs it, on ephemeral ports. */
export interface LocalStack {
  api: LocalApi;
  sandbox: Sandbox;
  keys: { svix: string; nextauth: string };
  serverId: string;
  close(): Promise<void>;
}

export async function startLocalStack(): Promise<LocalStack> {
  const keys = { svix: 'sk_canary_stack_svix_key', nextauth: 'canary-stack-nextauth-key' };
  const serverId = DEFAULT_SANDBOX_SERVER_ID;
  const sandbox = await startSandbox({ svixKey: keys.svix, nextauth: { apiKey: keys.nextauth, serverId } });
  const dir = mkdtempSync(join(tmpdir(), 'authgate-test-'));
  const secretsFile = join(dir, 'secrets.json');
  writeFileSync(secretsFile, JSON.stringify({ 'local/svix': keys.svix, 'local/nextauth': { apiKey: keys.nextauth } }));
  Object.assign(process.env, {
    SECRETS_SOURCE: 'file',
    SECRETS_FILE: secretsFile,
    SVIX_API_URL: sandbox.url,
    SVIX_SECRET_ID: 'local/svix',
    NEXTAUTH_API_URL: sandbox.url,
    NEXTAUTH_SECRET_ID: 'local/nextauth',
  });
  const api = await startLocalApi();
  return {
    api,
    sandbox,
    keys,
    serverId,
    close: async () => {
      await Promise.all([api.close(), sandbox.close()]);
    },
  };
}
