import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SecretUnavailableError } from '#lib/errors';
import { clearSecretCache, getSecret } from '#lib/secrets';
import { logLines } from '../support/logs.ts';
import { mockSecrets } from '../support/secrets.ts';

const sm = mockSecrets({ 'app/key': 'value-1' });
/** What Secrets Manager answers for app/key from now on (a rotation, an extension). */
const secretIs = (SecretString: string) => sm.on('GetSecretValue', { SecretId: 'app/key' }).resolves({ SecretString });

beforeEach(() => {
  process.env.AWS_REGION = 'eu-west-1';
  clearSecretCache();
  sm.resetHistory();
  secretIs('value-1');
  vi.useFakeTimers({ toFake: ['Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('getSecret', () => {
  it('fetches once and serves from cache until maxAge (300 s)', async () => {
    expect(await getSecret('app/key')).toBe('value-1');
    vi.advanceTimersByTime(299_000);
    expect(await getSecret('app/key')).toBe('value-1');
    expect(sm.commandCalls('GetSecretValue')).toHaveLength(1);
    secretIs('value-2');
    vi.advanceTimersByTime(2_000);
    expect(await getSecret('app/key')).toBe('value-2');
    expect(sm.commandCalls('GetSecretValue')).toHaveLength(2);
  });

  it('shares one request between concurrent readers', async () => {
    const values = await Promise.all(Array.from({ length: 20 }, () => getSecret('app/key')));
    expect(new Set(values)).toEqual(new Set(['value-1']));
    expect(sm.commandCalls('GetSecretValue')).toHaveLength(1);
  });

  it('refetches on demand (after an upstream 401), but at most every 30 s', async () => {
    await getSecret('app/key');
    secretIs('rotated');
    expect(await getSecret('app/key', { refetch: 'rejected' })).toBe('rotated');
    secretIs('rotated-again');
    // An upstream that keeps answering 401 does not turn every request into a Secrets Manager call.
    expect(await getSecret('app/key', { refetch: 'rejected' })).toBe('rotated');
    expect(sm.commandCalls('GetSecretValue')).toHaveLength(2);
    vi.advanceTimersByTime(30_000);
    expect(await getSecret('app/key', { refetch: 'rejected' })).toBe('rotated-again');
  });

  it('keeps the two refetch budgets apart: spending one leaves the other, and each stays rate limited', async () => {
    await getSecret('app/key');
    secretIs('extended');
    expect(await getSecret('app/key', { refetch: 'missing' })).toBe('extended');
    secretIs('rotated');
    expect(await getSecret('app/key', { refetch: 'missing' })).toBe('extended');
    expect(await getSecret('app/key', { refetch: 'rejected' })).toBe('rotated');
    secretIs('rotated-again');
    expect(await getSecret('app/key', { refetch: 'rejected' })).toBe('rotated');
    expect(await getSecret('app/key', { refetch: 'missing' })).toBe('rotated');
    expect(sm.commandCalls('GetSecretValue')).toHaveLength(3);
  });

  it('keeps serving the cached value for a bounded time when a refresh fails, and logs which secret', async () => {
    await getSecret('app/key');
    sm.on('GetSecretValue', { SecretId: 'app/key' }).rejects('ThrottlingException');
    vi.advanceTimersByTime(301_000);
    expect(await getSecret('app/key')).toBe('value-1');
    expect(logLines.join('\n')).toContain('app/key');
    expect(logLines.join('\n')).not.toContain('value-1');
    // 300 s age + 900 s stale-if-error, then no more.
    vi.advanceTimersByTime(900_000);
    await expect(getSecret('app/key')).rejects.toBeInstanceOf(SecretUnavailableError);
  });

  it('answers 503 with no cached value, without the secret id in the response', async () => {
    sm.on('GetSecretValue', { SecretId: 'app/key' }).rejects('AccessDeniedException');
    const err = (await getSecret('app/key').catch((e: unknown) => e)) as SecretUnavailableError;
    expect(err.statusCode).toBe(503);
    expect(err.toResponse().body).not.toContain('app/key');
  });
});
