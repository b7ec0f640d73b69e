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
  const config = configOnce(() => {
    const baseUrl = envUrl(baseUrlVariable);
    const attemptTimeoutMs = envInt('UPSTREAM_ATTEMPT_TIMEOUT_MS', DEFAULT_POLICY.attemptTimeoutMs, { min: 100, max: 29_000 });
    // Worked out once: the base without query, fragment or trailing slash, so each call parses one
    // absolute URL instead of resolving against the base (a measurable part of a warm call).
    const root = new URL(baseUrl);
    root.search = '';
    root.hash = '';
    return {
      root: root.href.replace(/\/$/, ''),
      // Shared by every call, so frozen.
      policies: {
        true: Object.freeze({ ...DEFAULT_POLICY, safe: true, attemptTimeoutMs }),
        false: Object.freeze({ ...DEFAULT_POLICY, safe: false, attemptTimeoutMs }),
      },
    };
  });
  return {
    url: (path) => new URL(config().root + path),
    policy: (safe) => config().policies[`${safe}`],
  };
}
