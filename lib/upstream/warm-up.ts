import { envUrl, optionalEnv } from '../config.ts';
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
 * It can never fail init: every error is caught and logged. A Secrets Manager that fails or
 * hangs at init leaves the first request as it was without this: that request joins the fetch
 * still in flight, or starts its own, bounded by the client's timeouts, and answers 503 when
 * nothing could be had. The fetched secret goes into the same cache, with the same max age.
 *
 * Only in a Lambda execution environment (AWS_LAMBDA_FUNCTION_NAME is set): tests and the local
 * API import handler modules before they configure them.
 *
 * @example
 * // lib/upstream/svix.ts, at module scope
 * warmUpAtInit({ baseUrlVariable: 'SVIX_API_URL', secretIdVariable: 'SVIX_SECRET_ID' });
 */
export function warmUpAtInit(options: { baseUrlVariable: string; secretIdVariable?: string }): void {
  if (!optionalEnv('AWS_LAMBDA_FUNCTION_NAME')) return;
  // The connection first: its handshake starts at once, the SDK's request only after the load.
  try {
    preconnect(envUrl(options.baseUrlVariable));
  } catch (error) {
    // A missing or malformed URL is reported by the first request, with the variable's name.
    log.warn('upstream pre-connect skipped', { variable: options.baseUrlVariable, error });
  }
  // A function without the variable (Svix logout has no secret) only connects.
  const secretId = options.secretIdVariable === undefined ? undefined : optionalEnv(options.secretIdVariable);
  if (secretId !== undefined) {
    getSecret(secretId).catch((error: unknown) => {
      log.warn('secret prefetch at init failed; the first request fetches it again', { secretId, error });
    });
  }
}
