import { ConfigError } from './errors.ts';

/**
 * Configuration comes from the Lambda environment, is read once per container, and fails with
 * the variable's name (never its value) when it is missing or malformed.
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

/**
 * Memoises a config reader: the first call reads and validates, later calls reuse the result.
 * A failed read is not cached, so a fixed environment (tests) is picked up on the next call.
 */
export function configOnce<T>(read: () => T): () => T {
  let value: { v: T } | undefined;
  return () => {
    value ??= { v: read() };
    return value.v;
  };
}
