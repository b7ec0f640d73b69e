import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type LocalApi, type LocalApiOptions, startLocalApi } from '#local/api';
import { allScopes, type DevKey, loadOrCreateDevKey, type MintOptions, mintToken, TENANT_CLAIMS } from '#local/jwt';
import { httpRoutes } from '#local/routes';
import { startGatewaySandbox } from '#local/sandbox/for-gateway';
import { DEFAULT_SANDBOX_SERVER_ID } from '#local/sandbox/nextauth';
import type { Sandbox } from '#local/sandbox/server';
import { removeAfterTests } from './temp-dir.ts';

/** The whole local system over real HTTP, as `npm start` runs it, on ephemeral ports. */
export interface LocalStack {
  api: LocalApi;
  sandbox: Sandbox;
  keys: { svix: string; nextauth: string };
  serverId: string;
  /** The sandbox's second nextAuth server, with a key of its own in the per-server secret. */
  secondServer: { id: string; apiKey: string };
  authKey: DevKey;
  /** A token with every scope and every tenant, like the one `npm start` prints. */
  devToken: string;
  /** Mint a narrower (or broken) token with the same key. */
  token(options: Partial<MintOptions>): Promise<string>;
  close(): Promise<void>;
}

export interface LocalStackOptions {
  extra?: LocalApiOptions['extra'];
  cors?: LocalApiOptions['cors'];
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const { sandbox, keys, serverId, secondServer, secretsFile } = await startGatewaySandbox({
    keys: { svix: 'sk_canary_stack_svix_key', nextauth: 'canary-stack-nextauth-key' },
    serverId: DEFAULT_SANDBOX_SERVER_ID,
  });
  // This run's secrets file and JWT key: removed by close(), or after the file's tests at the latest.
  const dir = dirname(secretsFile);
  removeAfterTests(dir);
  Object.assign(process.env, {
    SVIX_TENANT_CLAIM: TENANT_CLAIMS.svix,
    NEXTAUTH_TENANT_CLAIM: TENANT_CLAIMS.nextauth,
  });
  const routes = httpRoutes();
  // A key of the test run's own, not the developer's `.local/` one.
  const authKey = await loadOrCreateDevKey(join(dir, 'jwt'));
  const scopes = allScopes(routes);
  const token = (mint: Partial<MintOptions>) =>
    mintToken(authKey, { scopes, claims: { [TENANT_CLAIMS.svix]: ['*'], [TENANT_CLAIMS.nextauth]: ['*'] }, ...mint });
  const devToken = await token({});
  const api = await startLocalApi({ authKey, routes, ...(options.extra ? { extra: options.extra } : {}), ...(options.cors ? { cors: options.cors } : {}) });
  return {
    api,
    sandbox,
    keys,
    serverId,
    secondServer,
    authKey,
    devToken,
    token,
    close: async () => {
      await Promise.all([api.close(), sandbox.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
