import { afterEach, describe, expect, it } from 'vitest';
import { handler as getSession } from '#functions/nextauth-get-session';
import { handler as logout } from '#functions/nextauth-logout';
import { clearSecretCache } from '#lib/secrets';
import { createNextAuthSandbox, DEFAULT_SANDBOX_SERVER_ID, SECOND_SANDBOX_SERVER_ID } from '#local/sandbox/nextauth';
import { invoke } from '../support/invoke.ts';
import { parsedLogs } from '../support/logs.ts';
import { mockSecrets } from '../support/secrets.ts';
import { useTestUpstream } from '../support/upstream.ts';

const KEY_A = 'server-a-canary-key-0001';
const KEY_B = 'server-b-canary-key-0002';
const UNLISTED = 'dW5saXN0ZWQ=';
const SECRET_ID = 'test/nextauth-servers';
const perServer = (servers: Record<string, { apiKey: string; su?: string }>) => JSON.stringify({ servers });
const sm = mockSecrets({
  [SECRET_ID]: perServer({ [DEFAULT_SANDBOX_SERVER_ID]: { apiKey: KEY_A }, [SECOND_SANDBOX_SERVER_ID]: { apiKey: KEY_B, su: 'role-b' } }),
});

const sandbox = createNextAuthSandbox({ apiKey: KEY_A, serverId: DEFAULT_SANDBOX_SERVER_ID, servers: [{ id: SECOND_SANDBOX_SERVER_ID, apiKey: KEY_B }] });
const upstream = useTestUpstream(
  () => [sandbox.upstream],
  (url) => ({ NEXTAUTH_API_URL: url, NEXTAUTH_SECRET_ID: SECRET_ID }),
);
afterEach(() => clearSecretCache());

const session = (serverId: string, nonce = 'nonce-1') =>
  invoke(getSession, {
    method: 'GET',
    rawPath: `/servers/${encodeURIComponent(serverId)}/sessions`,
    pathParameters: { serverid: serverId },
    headers: { 'x-nonce': nonce },
  });

describe('a nextAuth secret with one key per server', () => {
  it("sends each server its own key (and role), never another server's", async () => {
    expect((await session(DEFAULT_SANDBOX_SERVER_ID)).statusCode).toBe(200);
    expect((await session(SECOND_SANDBOX_SERVER_ID)).statusCode).toBe(200);
    const res = await invoke(logout, {
      method: 'POST',
      rawPath: `/servers/${encodeURIComponent(SECOND_SANDBOX_SERVER_ID)}/sessions/logout`,
      pathParameters: { serverid: SECOND_SANDBOX_SERVER_ID },
      headers: { 'x-nonce': 'nonce-1' },
    });
    expect(res.statusCode).toBe(200);
    expect(upstream.requests.map((r) => [decodeURIComponent(r.path.split('/')[2] ?? ''), r.headers['x-apikey'], r.headers['x-su']])).toEqual([
      [DEFAULT_SANDBOX_SERVER_ID, KEY_A, undefined],
      [SECOND_SANDBOX_SERVER_ID, KEY_B, 'role-b'],
      [SECOND_SANDBOX_SERVER_ID, KEY_B, 'role-b'],
    ]);
    expect(sandbox.foreignKeyUses()).toEqual([]);
  });

  it("answers 404 in nextAuth's shape for a server the secret does not list, without calling nextAuth, and logs why", async () => {
    const res = await session(UNLISTED);
    expect(res.statusCode).toBe(404);
    expect(res.json).toEqual({ code: 'not_found', detail: 'Server not found.' });
    expect(upstream.requests).toHaveLength(0);
    const why = parsedLogs().find((l) => l.msg === 'nextauth server has no key in the gateway secret; not called');
    expect(why).toMatchObject({ serverId: UNLISTED, secretId: SECRET_ID });
    expect(JSON.stringify(parsedLogs())).not.toContain(KEY_A);
  });

  it('picks up a server added to the secret without waiting for the cache to expire', async () => {
    expect((await session(DEFAULT_SANDBOX_SERVER_ID)).statusCode).toBe(200);
    // The operator adds a server; this container has the old secret cached.
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).resolves({
      SecretString: perServer({ [DEFAULT_SANDBOX_SERVER_ID]: { apiKey: KEY_A }, [UNLISTED]: { apiKey: 'unlisted-canary-key-03' } }),
    });
    await session(UNLISTED);
    expect(upstream.requests.at(-1)?.headers['x-apikey']).toBe('unlisted-canary-key-03');
  });

  it("scrubs every server's key from responses, not only the key in use", async () => {
    upstream.script({ status: 200, body: { loggedin: false, hsid: `echo ${KEY_B}` } });
    const res = await session(DEFAULT_SANDBOX_SERVER_ID);
    expect(res.statusCode).toBe(200);
    expect(res.json).toEqual({ loggedin: false, hsid: 'echo [redacted]' });
    expect(res.body).not.toContain(KEY_B.slice(0, 12));
  });
});

describe('the two refetch budgets of the nextAuth secret', () => {
  const OLD_A = 'server-a-rotated-away-01';
  const beforeRotation = perServer({ [DEFAULT_SANDBOX_SERVER_ID]: { apiKey: OLD_A }, [SECOND_SANDBOX_SERVER_ID]: { apiKey: KEY_B } });
  const afterRotation = perServer({ [DEFAULT_SANDBOX_SERVER_ID]: { apiKey: KEY_A }, [SECOND_SANDBOX_SERVER_ID]: { apiKey: KEY_B } });
  const smCalls = () => sm.commandCalls('GetSecretValue').length;

  it('a request for an unknown server does not spend the rotation pickup: a 401 right after is retried with the new key', async () => {
    sm.resetHistory();
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).resolves({ SecretString: beforeRotation });
    expect((await session(SECOND_SANDBOX_SERVER_ID)).statusCode).toBe(200);
    // Any caller: an unknown server refetches the secret once (it may just have been extended)...
    expect((await session(UNLISTED)).statusCode).toBe(404);
    expect(smCalls()).toBe(2);
    // ...and asking again at once is answered from the cache: that refetch is rate limited.
    expect((await session(UNLISTED)).statusCode).toBe(404);
    expect(smCalls()).toBe(2);
    // The operator rotates server A's key; nextAuth now refuses the old one this container holds.
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).resolves({ SecretString: afterRotation });
    const res = await session(DEFAULT_SANDBOX_SERVER_ID);
    expect(res.statusCode).toBe(200);
    expect(upstream.requests.map((r) => r.headers['x-apikey'])).toEqual([KEY_B, OLD_A, KEY_A]);
    expect(smCalls()).toBe(3);
  });

  it('a 401 does not spend the unknown-server refetch: a server added to the secret is still found', async () => {
    sm.resetHistory();
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).resolves({ SecretString: beforeRotation });
    // Server A's key was rotated before this container read the secret, and the new one is not in the secret yet.
    expect((await session(DEFAULT_SANDBOX_SERVER_ID)).statusCode).toBe(401);
    expect(smCalls()).toBe(2);
    // The operator adds a server (and A's new key): a request for it refetches despite the 401's refetch.
    sm.on('GetSecretValue', { SecretId: SECRET_ID }).resolves({
      SecretString: perServer({ [DEFAULT_SANDBOX_SERVER_ID]: { apiKey: KEY_A }, [UNLISTED]: { apiKey: 'unlisted-canary-key-03' } }),
    });
    await session(UNLISTED);
    expect(upstream.requests.at(-1)?.headers['x-apikey']).toBe('unlisted-canary-key-03');
    expect(smCalls()).toBe(3);
  });
});
