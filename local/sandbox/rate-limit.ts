import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { readSetting, replyJson as reply } from './admin.ts';
import { routeOf } from './faults.ts';
import type { Clock, SandboxRequest } from './types.ts';

/**
 * A rate limit like a real upstream's, per credential: the Svix org key (and each app token), each
 * nextAuth server's key. A token bucket of `burst` tokens refilled at `rate` per second; a call
 * that finds it empty is refused with 429 and spends nothing. Off unless set, so nothing else
 * changes. Set at start-up (`npm start -- --rate-limit=R --rate-burst=B`), from the console, in
 * tests (`startSandbox({ rateLimit })`), or at run time:
 *
 *   GET    /_sandbox/rate-limit      {limit, credentials: {<label>: {allowed, refused, routes}}}
 *   PUT    /_sandbox/rate-limit      body: {rate, burst?}   (burst defaults to rate, at least 1)
 *   DELETE /_sandbox/rate-limit      off, counts cleared
 *
 * Headers, on every limited answer: `RateLimit-Limit` (the rate per second), `RateLimit-Remaining`
 * (whole tokens left), `RateLimit-Reset` (seconds until a token is back), and `Retry-After` (the
 * same seconds) on a 429. The IETF names (draft-ietf-httpapi-ratelimit-headers) rather than
 * `X-RateLimit-*`: the vendor-prefixed ones disagree on `Reset` (an epoch time at GitHub, seconds
 * elsewhere), and the gateway's clients only read `Retry-After` (lib/upstream/retry.ts) anyway.
 * Seconds are rounded up, never to 0: a client that waits what it was told finds a token.
 *
 * Written here rather than taken from a library: the popular limiters (`rate-limiter-flexible`,
 * `limiter`) are for protecting a server, not for playing an upstream with an injected clock in a
 * test; this is a screen of code.
 */

export interface RateLimitSettings {
  /** Tokens per second per credential (> 0). */
  rate: number;
  /** The bucket's size: calls a credential may make at once after a quiet spell. Default: `rate`, at least 1. */
  burst?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

interface Counts {
  allowed: number;
  refused: number;
  routes: Record<string, { allowed: number; refused: number }>;
}

export type RateDecision = { limited: false } | { limited: true; allowed: boolean; limit: number; remaining: number; resetSeconds: number };

/** Checks a body or flag value; a string is what is wrong with it. */
export function parseRateLimit(input: unknown): Required<RateLimitSettings> | string {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return 'a rate limit is a JSON object {rate, burst?}';
  const r = input as Record<string, unknown>;
  const unknown = Object.keys(r).filter((k) => k !== 'rate' && k !== 'burst');
  if (unknown.length) return `unknown fields: ${unknown.join(', ')}`;
  if (typeof r.rate !== 'number' || !Number.isFinite(r.rate) || r.rate <= 0 || r.rate > 1_000_000) return 'rate must be a number of calls per second above 0';
  const burst = r.burst ?? Math.max(1, Math.ceil(r.rate));
  if (typeof burst !== 'number' || !Number.isInteger(burst) || burst < 1 || burst > 1_000_000) return 'burst must be a whole number of calls, at least 1';
  return { rate: r.rate, burst };
}

/** Which credential a call spends, or undefined for one that carries none (it is refused 401 anyway). */
export function credentialOf(req: SandboxRequest): string | undefined {
  const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
  if (bearer) return `svix:${label(bearer)}`;
  const apiKey = req.headers['x-apikey'];
  if (typeof apiKey === 'string' && apiKey !== '') return `nextauth:${label(apiKey)}`;
  return undefined;
}

/** A credential named without itself: the admin route is readable by any local tool. */
const label = (secret: string) => createHash('sha256').update(secret).digest('hex').slice(0, 10);

export class RateLimiter {
  private settings: Required<RateLimitSettings> | undefined;
  private readonly buckets = new Map<string, Bucket>();
  private readonly counts = new Map<string, Counts>();

  constructor(
    initial: RateLimitSettings | undefined,
    private readonly clock: Clock = Date.now,
  ) {
    if (initial) this.set(initial);
  }

  set(settings: RateLimitSettings | undefined): void {
    if (settings === undefined) {
      this.settings = undefined;
      this.counts.clear();
    } else {
      const parsed = parseRateLimit(settings);
      if (typeof parsed === 'string') throw new Error(`rate limit: ${parsed}`);
      this.settings = parsed;
    }
    this.buckets.clear();
  }

  get limit(): Required<RateLimitSettings> | undefined {
    return this.settings ? { ...this.settings } : undefined;
  }

  /** Per credential label: calls allowed and refused, in all and per route. */
  stats(): Record<string, Counts> {
    return structuredClone(Object.fromEntries(this.counts));
  }

  /** Spends a token of this request's credential, if the limit is on and the request is an upstream call. */
  take(req: SandboxRequest): RateDecision {
    const settings = this.settings;
    const route = routeOf(req.method, req.url.pathname);
    const credential = credentialOf(req);
    if (!settings || !route || !credential) return { limited: false };
    const now = this.clock();
    const bucket = this.buckets.get(credential) ?? { tokens: settings.burst, at: now };
    bucket.tokens = Math.min(settings.burst, bucket.tokens + ((now - bucket.at) / 1000) * settings.rate);
    bucket.at = now;
    this.buckets.set(credential, bucket);
    // A little slack for floating point: 0.9999999 tokens after exactly one interval is a token.
    const allowed = bucket.tokens >= 1 - 1e-9;
    if (allowed) bucket.tokens = Math.max(0, bucket.tokens - 1);
    const counts = this.counts.get(credential) ?? { allowed: 0, refused: 0, routes: {} };
    const perRoute = counts.routes[route] ?? { allowed: 0, refused: 0 };
    counts.routes[route] = perRoute;
    counts[allowed ? 'allowed' : 'refused']++;
    perRoute[allowed ? 'allowed' : 'refused']++;
    this.counts.set(credential, counts);
    const missing = Math.max(0, 1 - bucket.tokens);
    return {
      limited: true,
      allowed,
      limit: settings.rate,
      remaining: Math.floor(bucket.tokens + 1e-9),
      resetSeconds: Math.max(1, Math.ceil(missing / settings.rate - 1e-9)),
    };
  }

  /** The admin route. Returns true when it answered. */
  admin(req: SandboxRequest, res: ServerResponse): boolean {
    if (!/^\/_sandbox\/rate-limit\/?$/.test(req.url.pathname)) return false;
    const state = () => ({ limit: this.limit ?? null, credentials: this.stats() });
    if (req.method === 'GET') return reply(res, 200, state());
    if (req.method === 'DELETE') {
      this.set(undefined);
      return reply(res, 200, state());
    }
    if (req.method !== 'PUT') return reply(res, 405, { error: 'use GET, PUT {rate, burst?} or DELETE /_sandbox/rate-limit' });
    const settings = readSetting(req, res, parseRateLimit);
    if (settings === undefined) return true;
    this.set(settings);
    return reply(res, 200, state());
  }
}

/**
 * Adds the rate-limit headers to the answer, and answers 429 itself when the call was refused.
 * Returns true when it answered.
 */
export function applyRateDecision(decision: RateDecision, res: ServerResponse): boolean {
  if (!decision.limited) return false;
  res.setHeader('ratelimit-limit', String(decision.limit));
  res.setHeader('ratelimit-remaining', String(decision.remaining));
  res.setHeader('ratelimit-reset', String(decision.resetSeconds));
  if (decision.allowed) return false;
  res
    .writeHead(429, { 'content-type': 'application/json', 'retry-after': String(decision.resetSeconds) })
    .end(JSON.stringify({ code: 'rate_limit_exceeded', detail: 'Too many requests: the sandbox rate limit for this credential is spent.' }));
  return true;
}
