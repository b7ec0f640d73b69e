import { afterEach, describe, expect, it } from 'vitest';
import {
  envInt,
  envUrl,
  JOB_CONCURRENCY,
  LOG_LEVEL,
  METRICS_NAMESPACE,
  optionalEnv,
  requireEnv,
  resetConfig,
  SVIX_API_URL,
  SVIX_SECRET_ID,
  setting,
  UPSTREAM_ATTEMPT_TIMEOUT_MS,
} from '#lib/config';
import { ConfigError } from '#lib/errors';
import { thrown } from '../support/thrown.ts';

const VARIABLE = 'AUTHGATE_UNIT_TEST_VARIABLE';

afterEach(() => {
  delete process.env[VARIABLE];
});

/** The error `read` throws (the test fails if it does not throw). */
describe('requireEnv', () => {
  it('returns the value trimmed', () => {
    process.env[VARIABLE] = '  value  ';
    expect(requireEnv(VARIABLE)).toBe('value');
  });

  it('fails with the variable name when unset or blank', () => {
    for (const value of [undefined, '', '   ']) {
      if (value === undefined) delete process.env[VARIABLE];
      else process.env[VARIABLE] = value;

      const err = thrown(() => requireEnv(VARIABLE));

      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe(VARIABLE);
      expect((err as ConfigError).message).toBe(`${VARIABLE} is not set`);
    }
  });
});

describe('optionalEnv', () => {
  it('is undefined when unset or blank, else the trimmed value', () => {
    expect(optionalEnv(VARIABLE)).toBeUndefined();
    process.env[VARIABLE] = ' ';
    expect(optionalEnv(VARIABLE)).toBeUndefined();
    process.env[VARIABLE] = ' on ';
    expect(optionalEnv(VARIABLE)).toBe('on');
  });
});

describe('envInt', () => {
  const bounds = { min: 100, max: 29_000 };

  it('falls back when unset and reads integers at both bounds', () => {
    expect(envInt(VARIABLE, 2_500, bounds)).toBe(2_500);
    process.env[VARIABLE] = '100';
    expect(envInt(VARIABLE, 2_500, bounds)).toBe(100);
    process.env[VARIABLE] = '29000';
    expect(envInt(VARIABLE, 2_500, bounds)).toBe(29_000);
  });

  it('refuses values out of bounds or not integers, naming the bounds and never the value', () => {
    for (const raw of ['99', '29001', '1.5', 'ten', '0x10z']) {
      process.env[VARIABLE] = raw;

      const err = thrown(() => envInt(VARIABLE, 2_500, bounds)) as ConfigError;

      expect(err).toBeInstanceOf(ConfigError);
      expect(err.message).toBe(`${VARIABLE} must be an integer from 100 to 29000`);
    }
  });
});

describe('envUrl', () => {
  it('reads http and https URLs', () => {
    process.env[VARIABLE] = 'https://api.example.test/base/';
    expect(envUrl(VARIABLE).href).toBe('https://api.example.test/base/');
    process.env[VARIABLE] = 'http://127.0.0.1:4010';
    expect(envUrl(VARIABLE).port).toBe('4010');
  });

  it('refuses other protocols and non-URLs without quoting them', () => {
    for (const raw of ['ftp://example.test', 'not a url', 'file:///etc/passwd']) {
      process.env[VARIABLE] = raw;

      const err = thrown(() => envUrl(VARIABLE)) as ConfigError;

      expect(err.message).toBe(`${VARIABLE} must be an http(s) URL`);
      expect(err.message).not.toContain(raw);
    }
  });

  it('requires the variable', () => {
    expect(thrown(() => envUrl(VARIABLE))).toBeInstanceOf(ConfigError);
  });
});

describe('setting', () => {
  it('takes LOG_LEVEL in any case and reads anything else as info', () => {
    process.env.LOG_LEVEL = ' WARN ';
    expect(setting(LOG_LEVEL)).toBe('warn');
    process.env.LOG_LEVEL = 'verbose';
    resetConfig();
    expect(setting(LOG_LEVEL)).toBe('info');
    delete process.env.LOG_LEVEL;
  });

  afterEach(() => {
    delete process.env.SVIX_SECRET_ID;
    delete process.env.SVIX_API_URL;
  });

  it('reads once and reuses the value', () => {
    process.env.SVIX_API_URL = 'https://api.example.test';

    const first = setting(SVIX_API_URL);
    process.env.SVIX_API_URL = 'https://other.example.test';
    const second = setting(SVIX_API_URL);

    expect(first.href).toEqual('https://api.example.test/');
    expect(second).toBe(first);
  });

  it('does not cache a failed read, so a fixed environment is picked up', () => {
    expect(() => setting(SVIX_SECRET_ID)).toThrow(ConfigError);
    process.env.SVIX_SECRET_ID = 'now set';
    expect(setting(SVIX_SECRET_ID)).toBe('now set');
    process.env.SVIX_SECRET_ID = 'changed later';
    expect(setting(SVIX_SECRET_ID)).toBe('now set');
  });

  it('reads again after resetConfig (a new container)', () => {
    process.env.SVIX_SECRET_ID = 'first';
    expect(setting(SVIX_SECRET_ID)).toBe('first');
    process.env.SVIX_SECRET_ID = 'second';
    resetConfig();
    expect(setting(SVIX_SECRET_ID)).toBe('second');
  });

  it('gives the documented defaults when unset', () => {
    expect(setting(JOB_CONCURRENCY)).toBe(8);
    expect(setting(UPSTREAM_ATTEMPT_TIMEOUT_MS)).toBe(8_000);
    expect(setting(METRICS_NAMESPACE)).toBeUndefined();
  });
});
