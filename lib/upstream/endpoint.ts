import { configOnce, envInt, envUrl } from '../config.ts';
import { DEFAULT_POLICY, type RetryPolicy } from './retry.ts';

/**
 * Where an upstream lives and how long one attempt may take, read once per container: the part
 * of calling an upstream that does not depend on which upstream it is.
 *
 * @example
 * const svix = upstreamEndpoint('SVIX_API_URL');
 * send({ method: 'POST', url: svix.url('/api/v1/auth/logout'), ... }) // under svix.policy(true)
 */
export interface UpstreamEndpoint {
  /** `path` (already percent-encoded) under the base URL, keeping any base path. */
  url(path: string): URL;
  /** The retry policy with this deployment's per-attempt bound; `safe`: repeating is harmless. */
  policy(safe: boolean): RetryPolicy;
}

export function upstreamEndpoint(baseUrlVariable: string): UpstreamEndpoint {
  const config = configOnce(() => ({
    baseUrl: envUrl(baseUrlVariable),
    attemptTimeoutMs: envInt('UPSTREAM_ATTEMPT_TIMEOUT_MS', DEFAULT_POLICY.attemptTimeoutMs, { min: 100, max: 29_000 }),
  }));
  return {
    url: (path) => {
      const { baseUrl } = config();
      return new URL(baseUrl.pathname.replace(/\/$/, '') + path, baseUrl);
    },
    policy: (safe) => ({ ...DEFAULT_POLICY, safe, attemptTimeoutMs: config().attemptTimeoutMs }),
  };
}
