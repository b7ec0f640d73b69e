import { setting, UPSTREAM_ATTEMPT_TIMEOUT_MS, type UrlVariable } from '../config.ts';
import { DEFAULT_POLICY, type RetryPolicy } from './retry.ts';

/**
 * Where an upstream lives and how long one attempt may take (both from lib/config.ts): the part
 * of calling an upstream that does not depend on which upstream it is.
 *
 * @example
 * const svix = upstreamEndpoint(SVIX_API_URL);
 * send({ method: 'POST', url: svix.url('/api/v1/auth/logout'), ... }) // under svix.policy(true)
 */
export interface UpstreamEndpoint {
  /**
   * `path` (already percent-encoded) under the base URL, keeping any base path. Shared between
   * calls to the same path: read it, never change it (a query goes on a copy).
   */
  url(path: string): URL;
  /** The retry policy with this deployment's per-attempt bound; `safe`: repeating is harmless. */
  policy(safe: boolean): RetryPolicy;
}

/**
 * Parsed URLs kept per path: a URL parse measured 8 µs of a warm request in the bench
 * (docs/performance-warm.md). Paths carry caller-chosen ids, so the cache is bounded: when full it
 * starts again.
 */
const MAX_CACHED_URLS = 256;

interface Derived {
  base: URL;
  attemptTimeoutMs: number;
  root: string;
  policies: { true: RetryPolicy; false: RetryPolicy };
  urls: Map<string, URL>;
}

export function upstreamEndpoint(baseUrlVariable: UrlVariable): UpstreamEndpoint {
  let derived: Derived | undefined;
  // Worked out once per configuration (config.ts reads each variable once per container): the base
  // without query, fragment or trailing slash, so each call parses one absolute URL instead of
  // resolving against the base (a measurable part of a warm call).
  const config = (): Derived => {
    const base = setting(baseUrlVariable);
    const attemptTimeoutMs = setting(UPSTREAM_ATTEMPT_TIMEOUT_MS);
    if (derived?.base === base && derived.attemptTimeoutMs === attemptTimeoutMs) return derived;
    const root = new URL(base);
    root.search = '';
    root.hash = '';
    derived = {
      base,
      attemptTimeoutMs,
      root: root.href.replace(/\/$/, ''),
      // Shared by every call, so frozen.
      policies: {
        true: Object.freeze({ ...DEFAULT_POLICY, safe: true, attemptTimeoutMs }),
        false: Object.freeze({ ...DEFAULT_POLICY, safe: false, attemptTimeoutMs }),
      },
      urls: new Map(),
    };
    return derived;
  };
  return {
    url: (path) => {
      const { root, urls } = config();
      let url = urls.get(path);
      if (!url) {
        if (urls.size >= MAX_CACHED_URLS) urls.clear();
        url = new URL(root + path);
        urls.set(path, url);
      }
      return url;
    },
    policy: (safe) => config().policies[`${safe}`],
  };
}
