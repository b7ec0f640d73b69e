import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SVIX_API_URL, SVIX_SECRET_ID } from '#lib/config';
import { clearSecretCache, getSecret } from '#lib/secrets';
import { preconnectAtInit, prefetchSecretAtInit } from '#lib/upstream/warm-up';
import { parsedLogs } from '../../support/logs.ts';
import { mockSecrets } from '../../support/secrets.ts';

const SECRET_ID = 'unit/warm-up';
const VARIABLES = ['AWS_LAMBDA_FUNCTION_NAME', 'SVIX_SECRET_ID', 'SVIX_API_URL'];
const sm = mockSecrets({ [SECRET_ID]: 'warm-secret-value' });

beforeEach(() => {
  process.env.AWS_REGION = 'eu-west-1';
  process.env.SVIX_SECRET_ID = SECRET_ID;
  clearSecretCache();
  sm.resetHistory();
  sm.on('GetSecretValue', { SecretId: SECRET_ID }).resolves({ SecretString: 'warm-secret-value' });
});
afterEach(() => {
  for (const name of VARIABLES) delete process.env[name];
});

describe('prefetchSecretAtInit', () => {
  it('does nothing outside a Lambda execution environment', async () => {
    await prefetchSecretAtInit(SVIX_SECRET_ID);

    expect(sm.commandCalls('GetSecretValue')).toHaveLength(0);
  });

  it('fetches the secret into the cache the first request reads', async () => {
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'authgate-test-svix';

    await prefetchSecretAtInit(SVIX_SECRET_ID);
    const value = await getSecret(SECRET_ID);

    expect(value).toBe('warm-secret-value');
    expect(sm.commandCalls('GetSecretValue')).toHaveLength(1);
  });

  it('does nothing for a function without the variable', async () => {
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'authgate-test-logout';
    delete process.env.SVIX_SECRET_ID;

    await prefetchSecretAtInit(SVIX_SECRET_ID);

    expect(sm.commandCalls('GetSecretValue')).toHaveLength(0);
  });

  it('never rejects: a failed fetch is logged with the secret id and left to the first request', async () => {
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'authgate-test-svix';
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).rejectsOnce('AccessDeniedException').resolves({ SecretString: 'warm-secret-value' });

    await expect(prefetchSecretAtInit(SVIX_SECRET_ID)).resolves.toBeUndefined();

    const line = parsedLogs().find((l) => l.msg === 'secret prefetch at init failed; the first request fetches it again');
    expect(line).toMatchObject({ level: 'warn', secretId: SECRET_ID });
    expect(await getSecret(SECRET_ID)).toBe('warm-secret-value');
  });
});

describe('preconnectAtInit', () => {
  it('does nothing outside a Lambda execution environment, even without a URL', () => {
    preconnectAtInit(SVIX_API_URL);

    expect(parsedLogs()).toEqual([]);
  });

  it('skips a missing or malformed URL with a warning naming the variable, never failing init', () => {
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'authgate-test-svix';
    process.env.SVIX_API_URL = 'ftp://upstream.example';

    expect(() => preconnectAtInit(SVIX_API_URL)).not.toThrow();

    expect(parsedLogs()).toEqual([expect.objectContaining({ level: 'warn', msg: 'upstream pre-connect skipped', variable: 'SVIX_API_URL' })]);
  });
});
