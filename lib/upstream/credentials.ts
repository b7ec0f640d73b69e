import { inLambda, type SecretIdVariable, setting } from '../config.ts';
import { ConfigError, type Family, type HttpError } from '../errors.ts';
import { log } from '../log.ts';
import { freshSecret, getSecret } from '../secrets.ts';
import type { UpstreamReply } from './transport.ts';

/**
 * Where a call's credentials come from (the client asks its `CredentialSource`, client.ts): the
 * caller's own (`givenCredentials`), or the upstream's key in a secret (`secretCredentials`),
 * which survives a key rotation: on a 401 the secret is refetched once and, if it changed, the
 * call is repeated with the new credentials. That repeat is safe for every operation,
 * provoke-login included: a 401 is answered before the upstream does anything.
 */

/** Where a request's credentials come from: `use` runs `attempt` with them (and may run it again after a rotation). */
export interface CredentialSource<C, R> {
  use(request: R, attempt: (credentials: C) => Promise<UpstreamReply>): Promise<UpstreamReply>;
}

/** Credentials the request carries itself (Svix logout: the caller's own app token). */
export function givenCredentials<C, R>(of: (request: R) => C): CredentialSource<C, R> {
  return { use: (request, attempt) => attempt(of(request)) };
}

/** What may go into a credential header: printable ASCII, no spaces (an API key or token is one token). */
export const HEADER_TOKEN = /^[\x21-\x7e]{1,4096}$/;

/**
 * The secret has no credentials for what is asked (a nextAuth server it does not list). Thrown by
 * `parse`; the secret is refetched once (it may have just been extended), then the error stands.
 */
export class MissingCredentialsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingCredentialsError';
  }
}

export interface RotatingCredentials<C> {
  upstream: Family;
  secretId: string;
  operation: string;
  /** Reads (and checks) the credentials in the secret's value. */
  parse: (secret: string) => C;
  same: (a: C, b: C) => boolean;
}

async function currentCredentials<C>(source: RotatingCredentials<C>): Promise<C> {
  try {
    return source.parse(await getSecret(source.secretId));
  } catch (err) {
    if (!(err instanceof MissingCredentialsError)) throw err;
    // At most every 30 s per container (secrets.ts), so unknown ids cannot turn into a refetch storm;
    // a budget of its own, so they cannot spend the rotation pickup below either.
    return source.parse(await getSecret(source.secretId, { refetch: 'missing' }));
  }
}

/** The credentials in the cached secret, read without an await (the warm path); `undefined`: ask `currentCredentials`. */
function cachedCredentials<C>(source: RotatingCredentials<C>): C | undefined {
  const secret = freshSecret(source.secretId);
  if (secret === undefined) return undefined;
  try {
    return source.parse(secret);
  } catch (err) {
    if (err instanceof MissingCredentialsError) return undefined;
    throw err;
  }
}

export async function withRotatingCredentials<C>(source: RotatingCredentials<C>, call: (credentials: C) => Promise<UpstreamReply>): Promise<UpstreamReply> {
  const credentials = cachedCredentials(source) ?? (await currentCredentials(source));
  const reply = await call(credentials);
  if (reply.status !== 401) return reply;
  const fresh = source.parse(await getSecret(source.secretId, { refetch: 'rejected' }));
  if (source.same(fresh, credentials)) {
    log.error(`${source.upstream} rejected the gateway key`, { operation: source.operation, secretId: source.secretId });
    return reply;
  }
  log.info(`${source.upstream} key was rotated; retrying with the refetched key`, { operation: source.operation });
  return call(fresh);
}

export interface SecretCredentials<C, R> {
  upstream: Family;
  secretIdVariable: SecretIdVariable;
  /** Reads (and checks) the credentials `request` needs in the secret's value. */
  parse: (secret: string, secretId: string, request: R) => C;
  same: (a: C, b: C) => boolean;
  /** What a `MissingCredentialsError` becomes for the caller (by default it is thrown as is). */
  missing?: (request: R, secretId: string) => HttpError;
}

/**
 * The credentials in the secret named by `secretIdVariable`, with rotation (above). In Lambda, the
 * secret's fetch starts at init (`prefetchSecretAtInit`, below): create the source at module scope, marked with
 * esbuild's `@__PURE__` comment, so that a bundle that never uses it drops it, and the Secrets Manager client (lib/aws/) with it.
 *
 * @example
 * const orgKey = secretCredentials({ upstream: 'svix', secretIdVariable: SVIX_SECRET_ID, parse, same });   // svix.ts
 */
export function secretCredentials<C, R extends { operation: string }>(source: SecretCredentials<C, R>): CredentialSource<C, R> {
  prefetchSecretAtInit(source.secretIdVariable);
  return {
    async use(request, attempt) {
      const secretId = setting(source.secretIdVariable);
      const rotating = {
        upstream: source.upstream,
        secretId,
        operation: request.operation,
        same: source.same,
        parse: (secret: string) => source.parse(secret, secretId, request),
      };
      try {
        return await withRotatingCredentials(rotating, attempt);
      } catch (err) {
        if (source.missing && err instanceof MissingCredentialsError) throw source.missing(request, secretId);
        throw err;
      }
    },
  };
}

/**
 * The first request of a fresh container would otherwise wait in series for a Secrets Manager round
 * trip, then a new connection to the upstream, then the call. In Lambda both start during init
 * instead (this fetch, and transport.ts's `preconnectAtInit`), so that they and the rest of the
 * module load overlap. AWS's advice for Lambda: do such work in the init phase, outside the handler
 * (docs.aws.amazon.com/lambda/latest/dg/best-practices.html).
 *
 * It cannot fail init: every error is caught and logged. A Secrets Manager that fails or hangs at
 * init leaves the first request as it was without this: that request joins the fetch still in
 * flight, or starts its own, bounded by the client's timeouts, and answers 503 when nothing could
 * be had. The fetched secret goes into the same cache (lib/secrets.ts), with the same max age.
 *
 * Returns the fetch, which never rejects (a function without the variable, or outside Lambda:
 * nothing to wait for).
 *
 * @example
 * const keyAtInit = prefetchSecretAtInit(NEXTAUTH_SECRET_ID);   // at module scope
 */
export function prefetchSecretAtInit(secretIdVariable: SecretIdVariable): Promise<void> {
  const secretId = inLambda() ? secretIdOrNone(secretIdVariable) : undefined;
  if (secretId === undefined) return Promise.resolve();
  return getSecret(secretId).then(
    () => undefined,
    (error: unknown) => {
      log.warn('secret prefetch at init failed; the first request fetches it again', { secretId, error });
    },
  );
}

/** A function without the variable (Svix logout holds no key) has nothing to fetch; its absence is not init's to report. */
function secretIdOrNone(variable: SecretIdVariable): string | undefined {
  try {
    return setting(variable);
  } catch (error) {
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
}
