import { randomBytes } from 'node:crypto';
import { useSecretsFile, writeSecretsFile } from '../secrets-file.ts';
import { DEFAULT_SANDBOX_SERVER_ID, SECOND_SANDBOX_SERVER_ID } from './nextauth.ts';
import type { RateLimitSettings } from './rate-limit.ts';
import { type Sandbox, type SandboxOptions, startSandbox } from './server.ts';

/**
 * A sandbox upstream wired to the gateway code in this process, the way AWS wires the real ones:
 * fresh upstream keys, handed to the handlers as secrets (a temporary file read through local/secrets-file.ts,
 * mode 0600) and the upstream URLs in the environment. Used by `npm start`, `npm run job` and tests.
 */

export interface GatewaySandboxOptions {
  port?: number;
  /** Fixed keys (tests use canaries); fresh random ones otherwise. */
  keys?: { svix: string; nextauth: string };
  serverId?: string;
  faults?: string;
  /** A rate limit per upstream credential (rate-limit.ts); absent = none. */
  rateLimit?: RateLimitSettings;
  observe?: SandboxOptions['observe'];
}

export interface GatewaySandbox {
  sandbox: Sandbox;
  keys: { svix: string; nextauth: string };
  serverId: string;
  /** A second nextAuth server with a key of its own (the secret maps each server to its key). */
  secondServer: { id: string; apiKey: string };
  secretsFile: string;
}

export const SECRET_IDS = { svix: 'local/svix', nextauth: 'local/nextauth' } as const;

export async function startGatewaySandbox(options: GatewaySandboxOptions = {}): Promise<GatewaySandbox> {
  const keys = options.keys ?? { svix: `sk_sandbox_${randomBytes(18).toString('base64url')}`, nextauth: randomBytes(24).toString('base64url') };
  const serverId = options.serverId ?? process.env.SANDBOX_NEXTAUTH_SERVER_ID ?? DEFAULT_SANDBOX_SERVER_ID;
  const secondServer = { id: SECOND_SANDBOX_SERVER_ID, apiKey: `${keys.nextauth}-second-server` };
  // The per-server form of the nextAuth secret (lib/upstream/nextauth-credentials.ts).
  const nextauthSecret = { servers: { [serverId]: { apiKey: keys.nextauth }, [secondServer.id]: { apiKey: secondServer.apiKey } } };
  const secretsFile = writeSecretsFile({ [SECRET_IDS.svix]: keys.svix, [SECRET_IDS.nextauth]: nextauthSecret });
  const sandbox = await startSandbox({
    ...(options.port === undefined ? {} : { port: options.port }),
    svixKey: keys.svix,
    nextauth: { apiKey: keys.nextauth, serverId, servers: [secondServer] },
    ...(options.faults === undefined ? {} : { faults: options.faults }),
    ...(options.rateLimit === undefined ? {} : { rateLimit: options.rateLimit }),
    ...(options.observe === undefined ? {} : { observe: options.observe }),
  });
  Object.assign(process.env, {
    SECRETS_FILE: secretsFile,
    SVIX_API_URL: sandbox.url,
    SVIX_SECRET_ID: SECRET_IDS.svix,
    NEXTAUTH_API_URL: sandbox.url,
    NEXTAUTH_SECRET_ID: SECRET_IDS.nextauth,
  });
  useSecretsFile(secretsFile);
  return { sandbox, keys, serverId, secondServer, secretsFile };
}
