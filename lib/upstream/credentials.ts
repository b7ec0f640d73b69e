import { log } from '../log.ts';
import { getSecret } from '../secrets.ts';
import type { UpstreamReply } from './transport.ts';

/**
 * Calls an upstream with the credentials in a secret and survives a key rotation: on a 401 the
 * secret is refetched once and, if it changed, the call is repeated with the new credentials.
 * That repeat is safe for every operation, provoke-login included: a 401 is answered before the
 * upstream does anything.
 */
export interface RotatingCredentials<C> {
  upstream: 'svix' | 'nextauth';
  secretId: string;
  operation: string;
  /** Reads (and checks) the credentials in the secret's value. */
  parse: (secret: string) => C;
  same: (a: C, b: C) => boolean;
}

export async function withRotatingCredentials<C>(source: RotatingCredentials<C>, call: (credentials: C) => Promise<UpstreamReply>): Promise<UpstreamReply> {
  const credentials = source.parse(await getSecret(source.secretId));
  const reply = await call(credentials);
  if (reply.status !== 401) return reply;
  const fresh = source.parse(await getSecret(source.secretId, { forceRefresh: true }));
  if (source.same(fresh, credentials)) {
    log.error(`${source.upstream} rejected the gateway key`, { operation: source.operation, secretId: source.secretId });
    return reply;
  }
  log.info(`${source.upstream} key was rotated; retrying with the refetched key`, { operation: source.operation });
  return call(fresh);
}
