import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SVIX_SECRET_ID } from '#lib/config';
import { clearSecretCache, getSecret } from '#lib/secrets';
import { MissingCredentialsError, prefetchSecretAtInit, type RotatingCredentials, withRotatingCredentials } from '#lib/upstream/credentials';
import type { UpstreamReply } from '#lib/upstream/transport';
import { parsedLogs } from '../../support/logs.ts';
import { mockSecrets } from '../../support/secrets.ts';

const SECRET_ID = 'unit/upstream-key';
const sm = mockSecrets({});

const reply = (status: number): UpstreamReply => ({ status, headers: {}, body: Buffer.alloc(0) });

/** Credentials are the secret's text; `known` lists what `parse` accepts (else: MissingCredentialsError). */
function source(known?: string[]): RotatingCredentials<string> {
  return {
    upstream: 'svix',
    secretId: SECRET_ID,
    operation: 'svix.expire-all',
    parse: (secret) => {
      if (known && !known.includes(secret)) throw new MissingCredentialsError('not listed');
      return secret;
    },
    same: (a, b) => a === b,
  };
}

/** The secret's value on each successive fetch. */
function secretValues(...values: string[]) {
  let next = 0;
  sm.on('GetSecretValue', { SecretId: SECRET_ID }).callsFake(() => ({ SecretString: values[Math.min(next++, values.length - 1)] }));
}

beforeEach(() => {
  process.env.AWS_REGION = 'eu-west-1';
  clearSecretCache();
  sm.reset();
});

describe('withRotatingCredentials', () => {
  it('calls once with the current credentials when the upstream accepts them', async () => {
    secretValues('key-one-0001');
    const used: string[] = [];

    const result = await withRotatingCredentials(source(), async (key) => {
      used.push(key);
      return reply(204);
    });

    expect(result.status).toBe(204);
    expect(used).toEqual(['key-one-0001']);
    expect(sm.commandCalls('GetSecretValue')).toHaveLength(1);
  });

  it('refetches on a 401 and repeats the call once with a rotated key', async () => {
    secretValues('key-old-0001', 'key-new-0002');
    const used: string[] = [];

    const result = await withRotatingCredentials(source(), async (key) => {
      used.push(key);
      return reply(key === 'key-new-0002' ? 200 : 401);
    });

    expect(result.status).toBe(200);
    expect(used).toEqual(['key-old-0001', 'key-new-0002']);
    expect(parsedLogs().map((line) => line.msg)).toContain('svix key was rotated; retrying with the refetched key');
  });

  it('passes the 401 on, and logs it, when the refetched key is the same', async () => {
    secretValues('key-same-0001');
    const used: string[] = [];

    const result = await withRotatingCredentials(source(), async (key) => {
      used.push(key);
      return reply(401);
    });

    expect(result.status).toBe(401);
    expect(used).toEqual(['key-same-0001']);
    const line = parsedLogs().find((l) => l.msg === 'svix rejected the gateway key');
    expect(line).toMatchObject({ level: 'error', secretId: SECRET_ID, operation: 'svix.expire-all' });
    expect(JSON.stringify(parsedLogs())).not.toContain('key-same-0001');
  });

  it('refetches once when the cached secret lacks the credentials asked for (it may just have been extended)', async () => {
    secretValues('key-without-0001', 'key-extended-0002');

    const result = await withRotatingCredentials(source(['key-extended-0002']), async () => reply(200));

    expect(result.status).toBe(200);
    expect(sm.commandCalls('GetSecretValue')).toHaveLength(2);
  });

  it('lets MissingCredentialsError stand when the refetched secret still lacks them, without calling', async () => {
    secretValues('key-without-0001');
    let calls = 0;

    const attempt = withRotatingCredentials(source(['another']), async () => {
      calls++;
      return reply(200);
    });

    await expect(attempt).rejects.toBeInstanceOf(MissingCredentialsError);
    expect(calls).toBe(0);
  });

  it('does not refetch for any other parse failure', async () => {
    secretValues('key-one-0001');
    const broken: RotatingCredentials<string> = {
      ...source(),
      parse: () => {
        throw new TypeError('unusable');
      },
    };

    await expect(withRotatingCredentials(broken, async () => reply(200))).rejects.toThrow('unusable');
    expect(sm.commandCalls('GetSecretValue')).toHaveLength(1);
  });
});

describe('prefetchSecretAtInit', () => {
  const WARM_ID = 'unit/warm-up';
  beforeEach(() => {
    process.env.SVIX_SECRET_ID = WARM_ID;
    sm.on('GetSecretValue', { SecretId: WARM_ID }).resolves({ SecretString: 'warm-secret-value' });
  });
  afterEach(() => {
    for (const name of ['AWS_LAMBDA_FUNCTION_NAME', 'SVIX_SECRET_ID']) delete process.env[name];
  });

  it('does nothing outside a Lambda execution environment', async () => {
    await prefetchSecretAtInit(SVIX_SECRET_ID);

    expect(sm.commandCalls('GetSecretValue')).toHaveLength(0);
  });

  it('fetches the secret into the cache the first request reads', async () => {
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'authgate-test-svix';

    await prefetchSecretAtInit(SVIX_SECRET_ID);
    const value = await getSecret(WARM_ID);

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
    sm.on('GetSecretValue', { SecretId: WARM_ID }).rejectsOnce('AccessDeniedException').resolves({ SecretString: 'warm-secret-value' });

    await expect(prefetchSecretAtInit(SVIX_SECRET_ID)).resolves.toBeUndefined();

    const line = parsedLogs().find((l) => l.msg === 'secret prefetch at init failed; the first request fetches it again');
    expect(line).toMatchObject({ level: 'warn', secretId: WARM_ID });
    expect(await getSecret(WARM_ID)).toBe('warm-secret-value');
  });
});
