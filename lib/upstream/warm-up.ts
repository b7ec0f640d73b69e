import { AWS_LAMBDA_FUNCTION_NAME, type SecretIdVariable, setting, type UrlVariable } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { log } from '../log.ts';
import { getSecret } from '../secrets.ts';
import { preconnect } from './transport.ts';

/**
 * What the first request of a fresh container would otherwise wait for in series (a Secrets
 * Manager round trip, then a new connection to the upstream, then the call), started during init
 * instead, so that the secret's fetch, the upstream connection and the rest of the module load
 * overlap. AWS's advice for Lambda: do such work in the init phase, outside the handler
 * (docs.aws.amazon.com/lambda/latest/dg/best-practices.html).
 *
 * Neither can fail init: every error is caught and logged. A Secrets Manager that fails or hangs
 * at init leaves the first request as it was without this: that request joins the fetch still in
 * flight, or starts its own, bounded by the client's timeouts, and answers 503 when nothing could
 * be had. The fetched secret goes into the same cache, with the same max age.
 *
 * Only in a Lambda execution environment (AWS_LAMBDA_FUNCTION_NAME is set): tests and the local
 * API import handler modules before they configure them.
 */

const inLambda = () => setting(AWS_LAMBDA_FUNCTION_NAME) !== undefined;

/** A function without the variable (Svix logout holds no key) has nothing to fetch; its absence is not init's to report. */
function secretIdOrNone(variable: SecretIdVariable): string | undefined {
  try {
    return setting(variable);
  } catch (error) {
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
}

/**
 * Opens the connection to the upstream at `baseUrlVariable` for the first request (preconnect.ts).
 *
 * @example
 * preconnectAtInit(SVIX_API_URL);   // lib/upstream/svix.ts, at module scope
 */
export function preconnectAtInit(baseUrlVariable: UrlVariable): void {
  if (!inLambda()) return;
  try {
    preconnect(setting(baseUrlVariable));
  } catch (error) {
    // A missing or malformed URL is reported by the first request, with the variable's name.
    log.warn('upstream pre-connect skipped', { variable: baseUrlVariable.name, error });
  }
}

/**
 * Starts fetching the secret named by `secretIdVariable` into the cache. Returns the fetch, which
 * never rejects (a function without the variable, or outside Lambda: nothing to wait for).
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
