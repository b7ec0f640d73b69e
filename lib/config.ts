import { ConfigError } from './errors.ts';

/**
 * Every environment variable the shipped code reads, in one list (below): its parser, its default
 * and who reads it. Each is read once per container (memoised per variable, on first use), and fails with
 * the variable's name (never its value) when it is missing or malformed. docs/configuration.md
 * lists the same variables (test/lib/config-docs.test.ts holds the two together).
 *
 * @example
 * setting(SVIX_SECRET_ID)            // 'authgate/prod/svix', or a ConfigError naming the variable
 * setting(JOB_CONCURRENCY)           // 8 when unset
 */

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value.trim() === '') throw new ConfigError(name, 'is not set');
  return value.trim();
}

export function optionalEnv(name: string): string | undefined {
  const value = process.env[name]?.trim();
  return value === '' ? undefined : value;
}

export function envInt(name: string, fallback: number, bounds: { min: number; max: number }): number {
  const raw = optionalEnv(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < bounds.min || value > bounds.max) {
    throw new ConfigError(name, `must be an integer from ${bounds.min} to ${bounds.max}`);
  }
  return value;
}

export function envUrl(name: string): URL {
  const raw = requireEnv(name);
  try {
    const url = new URL(raw);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('protocol');
    return url;
  } catch {
    throw new ConfigError(name, 'must be an http(s) URL');
  }
}

/** A required comma-separated list: at least one item, none blank. */
function envList(name: string): readonly string[] {
  const items = requireEnv(name)
    .split(',')
    .map((item) => item.trim());
  if (items.some((item) => item === '')) throw new ConfigError(name, 'must be a comma-separated list with no blank item');
  return items;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LOG_LEVELS: readonly string[] = ['debug', 'info', 'warn', 'error'];

/** Any other value is `info`: a mistyped level must not silence the logs or fail every function. */
function envLogLevel(name: string): LogLevel {
  const raw = optionalEnv(name)?.toLowerCase();
  return raw !== undefined && LOG_LEVELS.includes(raw) ? (raw as LogLevel) : 'info';
}

/** One variable: its name and its parser, which holds its default and bounds. */
export interface Variable<T> {
  readonly name: string;
  readonly parse: (name: string) => T;
}
/** The variables holding an upstream's base URL / a secret's id. */
export type UrlVariable = Variable<URL>;
export type SecretIdVariable = Variable<string>;

/*
 * The list. One constant per variable rather than one object, so that a bundle carries only the
 * variables its function reads; the comment says who reads it and its default.
 */

/** lib/upstream/svix.ts; required by the Svix functions. */
export const SVIX_API_URL: UrlVariable = { name: 'SVIX_API_URL', parse: envUrl };
/** lib/upstream/svix.ts; required by the Svix functions that use the org key (not logout). */
export const SVIX_SECRET_ID: SecretIdVariable = { name: 'SVIX_SECRET_ID', parse: requireEnv };
/** lib/upstream/nextauth.ts; required by the nextAuth functions. */
export const NEXTAUTH_API_URL: UrlVariable = { name: 'NEXTAUTH_API_URL', parse: envUrl };
/** lib/upstream/nextauth.ts; required by the nextAuth functions. */
export const NEXTAUTH_SECRET_ID: SecretIdVariable = { name: 'NEXTAUTH_SECRET_ID', parse: requireEnv };
/** lib/secrets.ts; default 300. */
export const SECRETS_MAX_AGE_SECONDS: Variable<number> = { name: 'SECRETS_MAX_AGE_SECONDS', parse: (name) => envInt(name, 300, { min: 0, max: 86_400 }) };
/** lib/secrets.ts; default 900. */
export const SECRETS_STALE_IF_ERROR_SECONDS: Variable<number> = {
  name: 'SECRETS_STALE_IF_ERROR_SECONDS',
  parse: (name) => envInt(name, 900, { min: 0, max: 86_400 }),
};
/** lib/upstream/client.ts (`upstreamEndpoint`); default 8000, retry.ts's DEFAULT_POLICY.attemptTimeoutMs. */
export const UPSTREAM_ATTEMPT_TIMEOUT_MS: Variable<number> = {
  name: 'UPSTREAM_ATTEMPT_TIMEOUT_MS',
  parse: (name) => envInt(name, 8_000, { min: 100, max: 29_000 }),
};
/** lib/tenancy.ts; unset: Svix tenant binding off. */
export const SVIX_TENANT_CLAIM: Variable<string | undefined> = { name: 'SVIX_TENANT_CLAIM', parse: optionalEnv };
/** lib/tenancy.ts; unset: nextAuth tenant binding off. */
export const NEXTAUTH_TENANT_CLAIM: Variable<string | undefined> = { name: 'NEXTAUTH_TENANT_CLAIM', parse: optionalEnv };
/** lib/edge-origin.ts; unset: the edge guard is off. */
export const EDGE_ORIGIN_SECRET: Variable<string | undefined> = { name: 'EDGE_ORIGIN_SECRET', parse: optionalEnv };
/** lib/jobs/handler.ts; default 8, handler.ts's JOB_DEFAULTS.concurrency. */
export const JOB_CONCURRENCY: Variable<number> = { name: 'JOB_CONCURRENCY', parse: (name) => envInt(name, 8, { min: 1, max: 64 }) };
/** lib/jobs/handler.ts; unset: failed records are left to the queue's redrive policy. */
export const DLQ_URL: Variable<string | undefined> = { name: 'DLQ_URL', parse: optionalEnv };
/** lib/jobs/handler.ts; required by the job functions: the `source` values an event may claim (comma-separated). */
export const JOB_EVENT_SOURCES: Variable<readonly string[]> = { name: 'JOB_EVENT_SOURCES', parse: envList };
/** lib/jobs/handler.ts; required by the job functions: the ARN of the job's own EventBridge rule. */
export const JOB_RULE_ARN: Variable<string> = { name: 'JOB_RULE_ARN', parse: requireEnv };
/** lib/jobs/handler.ts; unset: a busy upstream's records are retried by SQS instead of continued (lib/jobs/continuation.ts). */
export const JOB_QUEUE_URL: Variable<string | undefined> = { name: 'JOB_QUEUE_URL', parse: optionalEnv };
/** lib/jobs/handler.ts; default 0 (unpaced): what all of a job's invocations may send per upstream credential per second. */
export const JOB_REQUESTS_PER_SECOND: Variable<number> = { name: 'JOB_REQUESTS_PER_SECOND', parse: (name) => envInt(name, 0, { min: 0, max: 100_000 }) };
/** lib/jobs/handler.ts; default 5: the queue's maximumConcurrency, which JOB_REQUESTS_PER_SECOND is shared by. */
export const JOB_MAX_CONCURRENCY: Variable<number> = { name: 'JOB_MAX_CONCURRENCY', parse: (name) => envInt(name, 5, { min: 2, max: 1_000 }) };
/** lib/jobs/handler.ts; default 24: how long a message may be deferred for a busy upstream before it is dead-lettered. */
export const JOB_MAX_DEFERRAL_HOURS: Variable<number> = { name: 'JOB_MAX_DEFERRAL_HOURS', parse: (name) => envInt(name, 24, { min: 1, max: 96 }) };
/** lib/log.ts; default info. */
export const LOG_LEVEL: Variable<LogLevel> = { name: 'LOG_LEVEL', parse: envLogLevel };
/** lib/metrics.ts; unset: no metrics are written. */
export const METRICS_NAMESPACE: Variable<string | undefined> = { name: 'METRICS_NAMESPACE', parse: optionalEnv };
/** `inLambda` below; set by the Lambda runtime, so the init-time warm-up runs only there. */
export const AWS_LAMBDA_FUNCTION_NAME: Variable<string | undefined> = { name: 'AWS_LAMBDA_FUNCTION_NAME', parse: optionalEnv };

/**
 * Whether this is a Lambda execution environment: only there does init warm up (the secret's fetch,
 * lib/upstream/credentials.ts; the upstream connection, lib/upstream/transport.ts). Tests and the
 * local API import handler modules before they configure them.
 */
export const inLambda = (): boolean => setting(AWS_LAMBDA_FUNCTION_NAME) !== undefined;

const values = new Map<string, unknown>();

/**
 * The variable's value, read and checked on first use. A failed read is not kept, so a fixed
 * environment (tests) is picked up on the next call.
 */
export function setting<T>(variable: Variable<T>): T {
  if (values.has(variable.name)) return values.get(variable.name) as T;
  const value = variable.parse(variable.name);
  values.set(variable.name, value);
  return value;
}

/** Forgets every value read (tests that change the environment; a new container starts empty anyway). */
export function resetConfig(): void {
  values.clear();
}
