import { ConfigError } from './errors.ts';

/**
 * Every environment variable the shipped code reads, in one list: its parser, its default and who
 * reads it. Each is read once per container (memoised per variable, on first use), and fails with
 * the variable's name (never its value) when it is missing or malformed. docs/configuration.md
 * lists the same variables (test/lib/config-docs.test.ts holds the two together).
 *
 * @example
 * setting('SVIX_SECRET_ID')            // 'authgate/prod/svix', or a ConfigError naming the variable
 * setting('JOB_CONCURRENCY')           // 8 when unset
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

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LOG_LEVELS: readonly string[] = ['debug', 'info', 'warn', 'error'];

/** Any other value is `info`: a mistyped level must not silence the logs or fail every function. */
function envLogLevel(name: string): LogLevel {
  const raw = optionalEnv(name)?.toLowerCase();
  return raw !== undefined && LOG_LEVELS.includes(raw) ? (raw as LogLevel) : 'info';
}

interface Variable<T> {
  read: (name: string) => T;
  /** As docs/configuration.md states it ('—': none, the variable is required or off when unset). */
  default: string;
  /** Which code reads it. */
  readBy: string;
}

const variable = <T>(read: (name: string) => T, default_: string, readBy: string): Variable<T> => ({ read, default: default_, readBy });

/** The list. Bounds and defaults are chosen where the value is used; the readers say why. */
export const VARIABLES = {
  SVIX_API_URL: variable(envUrl, '—', 'lib/upstream/svix.ts'),
  SVIX_SECRET_ID: variable(requireEnv, '—', 'lib/upstream/svix.ts'),
  NEXTAUTH_API_URL: variable(envUrl, '—', 'lib/upstream/nextauth.ts'),
  NEXTAUTH_SECRET_ID: variable(requireEnv, '—', 'lib/upstream/nextauth.ts'),
  SECRETS_MAX_AGE_SECONDS: variable((name) => envInt(name, 300, { min: 0, max: 86_400 }), '300', 'lib/secrets.ts'),
  SECRETS_STALE_IF_ERROR_SECONDS: variable((name) => envInt(name, 900, { min: 0, max: 86_400 }), '900', 'lib/secrets.ts'),
  // The default is retry.ts's DEFAULT_POLICY.attemptTimeoutMs.
  UPSTREAM_ATTEMPT_TIMEOUT_MS: variable((name) => envInt(name, 8_000, { min: 100, max: 29_000 }), '8000', 'lib/upstream/endpoint.ts'),
  SVIX_TENANT_CLAIM: variable(optionalEnv, '—', 'lib/tenancy.ts'),
  NEXTAUTH_TENANT_CLAIM: variable(optionalEnv, '—', 'lib/tenancy.ts'),
  EDGE_ORIGIN_SECRET: variable(optionalEnv, '—', 'lib/edge-origin.ts'),
  JOB_CONCURRENCY: variable((name) => envInt(name, 8, { min: 1, max: 64 }), '8', 'lib/jobs/handler.ts'),
  DLQ_URL: variable(optionalEnv, '—', 'lib/jobs/handler.ts'),
  LOG_LEVEL: variable(envLogLevel, 'info', 'lib/log.ts'),
  METRICS_NAMESPACE: variable(optionalEnv, '—', 'lib/metrics.ts'),
  AWS_LAMBDA_FUNCTION_NAME: variable(optionalEnv, '—', 'lib/upstream/warm-up.ts'),
} as const;

export type VariableName = keyof typeof VARIABLES;
export type Setting<N extends VariableName> = ReturnType<(typeof VARIABLES)[N]['read']>;
/** The variables holding an upstream's base URL / a secret's id. */
export type UrlVariable = 'SVIX_API_URL' | 'NEXTAUTH_API_URL';
export type SecretIdVariable = 'SVIX_SECRET_ID' | 'NEXTAUTH_SECRET_ID';

const values = new Map<VariableName, unknown>();

/**
 * The variable's value, read and checked on first use. A failed read is not kept, so a fixed
 * environment (tests) is picked up on the next call.
 */
export function setting<N extends VariableName>(name: N): Setting<N> {
  if (values.has(name)) return values.get(name) as Setting<N>;
  const value = VARIABLES[name].read(name) as Setting<N>;
  values.set(name, value);
  return value;
}

/** Forgets every value read (tests that change the environment; a new container starts empty anyway). */
export function resetConfig(): void {
  values.clear();
}
