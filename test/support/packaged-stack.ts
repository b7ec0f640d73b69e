import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalApi, startLocalApi } from '#local/api';
import { allScopes, loadOrCreateDevKey, mintToken, TENANT_CLAIMS } from '#local/jwt';
import type { CfnTemplate, PackagedFunction } from '#local/packaged/package';
import { type PackagedFunctions, startPackagedFunctions } from '#local/packaged/start';
import { httpRoutes, PROJECT_ROOT } from '#local/routes';
import { DEFAULT_SANDBOX_SERVER_ID } from '#local/sandbox/nextauth';
import { type Sandbox, startSandbox } from '#local/sandbox/server';
import { PACKAGE_DIR } from './global-setup.ts';

/**
 * The local API serving every route from the zips the global setup packaged (no second
 * `serverless package`), against a fresh sandbox: what `npm start -- --packaged` runs.
 */
export interface PackagedStack {
  api: LocalApi;
  sandbox: Sandbox;
  packaged: PackagedFunctions;
  serverId: string;
  keys: { svix: string; nextauth: string };
  /** A token with every scope and every tenant. */
  devToken: string;
  /** Every line the functions logged, as `<function>: <line>`. */
  logs: string[];
  close(): Promise<void>;
}

export async function startPackagedStack(options: { template?: CfnTemplate; packageDir?: string } = {}): Promise<PackagedStack> {
  const keys = { svix: 'sk_canary_packaged_svix_key', nextauth: 'canary-packaged-nextauth-key' };
  const serverId = DEFAULT_SANDBOX_SERVER_ID;
  const sandbox = await startSandbox({ svixKey: keys.svix, nextauth: { apiKey: keys.nextauth, serverId } });
  const logs: string[] = [];
  const packaged = await startPackagedFunctions({
    packageDir: options.packageDir ?? join(PROJECT_ROOT, PACKAGE_DIR),
    ...(options.template ? { template: options.template } : {}),
    sandboxUrl: sandbox.url,
    secretValues: { svix: keys.svix, nextauth: JSON.stringify({ apiKey: keys.nextauth }) },
    onLog: (fn: PackagedFunction, line: string) => logs.push(`${fn.name}: ${line}`),
  }).catch(async (err: unknown) => {
    await sandbox.close();
    throw err;
  });
  const routes = httpRoutes();
  const keyDir = mkdtempSync(join(tmpdir(), 'authgate-packaged-jwt-'));
  const authKey = await loadOrCreateDevKey(join(keyDir, 'jwt'));
  const devToken = await mintToken(authKey, { scopes: allScopes(routes), claims: { [TENANT_CLAIMS.svix]: ['*'], [TENANT_CLAIMS.nextauth]: ['*'] } });
  const api = await startLocalApi({ authKey, routes, handlerFor: packaged.handlerFor });
  return {
    api,
    sandbox,
    packaged,
    serverId,
    keys,
    devToken,
    logs,
    close: async () => {
      await Promise.all([api.close(), sandbox.close(), packaged.close()]);
      rmSync(keyDir, { recursive: true, force: true });
    },
  };
}
