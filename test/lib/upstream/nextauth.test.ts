import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '#lib/audit';
import { deadlineIn } from '#lib/deadline';
import { getSession, logoutSession, provokeLogin } from '#lib/upstream/nextauth';
import { createNextAuthSandbox, DEFAULT_SANDBOX_SERVER_ID } from '#local/sandbox/nextauth';
import { mockSecrets } from '../../support/secrets.ts';
import { useTestUpstream } from '../../support/upstream.ts';

/**
 * The nextAuth client called directly with a call context (lib/call-context.ts), against the real
 * sandbox upstream over HTTP: the key of the server picked from the secret, the deadline obeyed,
 * and each call added to the context's audit record.
 */

const API_KEY = 'nextauth-canary-client-key';
const SID = DEFAULT_SANDBOX_SERVER_ID;
const NONCE = 'nonce-client-0123456789abcdef';
mockSecrets({ 'test/nextauth': JSON.stringify({ apiKey: API_KEY }) });
const upstream = useTestUpstream(
  () => [createNextAuthSandbox({ apiKey: API_KEY, serverId: SID }).upstream],
  (url) => ({ NEXTAUTH_API_URL: url, NEXTAUTH_SECRET_ID: 'test/nextauth', UPSTREAM_ATTEMPT_TIMEOUT_MS: '400' }),
);

const record = (operation: string): AuditRecord => ({ operation, target: {} });

describe('getSession', () => {
  it("reads the session's LoginStatus with the server's key and the nonce, and adds the call to the record", async () => {
    const audit = record('nextauth.get-session');

    const status = await getSession(SID, NONCE, { deadline: deadlineIn(5_000), audit });

    expect(status).toMatchObject({ loggedin: false });
    expect(upstream.requests[0]?.path).toBe(`/servers/${encodeURIComponent(SID)}/sessions/`);
    expect(upstream.requests[0]?.headers['x-apikey']).toBe(API_KEY);
    expect(upstream.requests[0]?.headers['x-nonce']).toBe(NONCE);
    expect(upstream.requests[0]?.headers['idempotency-key']).toBeUndefined();
    expect(audit).toMatchObject({ upstreamStatus: 200, attempts: 1 });
  });

  it('repeats a read after a 502 and counts both attempts', async () => {
    upstream.script({ status: 502 });
    const audit = record('nextauth.get-session');

    await getSession(SID, NONCE, { deadline: deadlineIn(5_000), audit });

    expect(upstream.requests).toHaveLength(2);
    expect(audit).toMatchObject({ upstreamStatus: 200, attempts: 2 });
  });
});

describe('logoutSession', () => {
  it('logs the session out and reports the call to the record (as a job target does)', async () => {
    const audit = record('job.logout');

    await logoutSession(SID, NONCE, { deadline: deadlineIn(5_000), audit });

    expect(upstream.requests[0]?.method).toBe('POST');
    expect(upstream.requests[0]?.path).toBe(`/servers/${encodeURIComponent(SID)}/sessions/logout`);
    expect(audit).toMatchObject({ upstreamStatus: 200, attempts: 1 });
  });

  it('sends nothing when the context deadline leaves no time (504)', async () => {
    const audit = record('job.logout');

    const error = await logoutSession(SID, NONCE, { deadline: deadlineIn(10), audit }).catch((e: unknown) => e);

    expect(error).toMatchObject({ statusCode: 504 });
    expect(upstream.requests).toHaveLength(0);
    expect(audit.upstreamStatus).toBeUndefined();
  });
});

describe('provokeLogin', () => {
  it('never repeats a push: a 503 is one attempt, in the record too', async () => {
    upstream.script({ status: 503 });
    const audit = record('nextauth.provoke-login-on-user');

    const error = await provokeLogin({ serverId: SID, nonce: NONCE, userId: 'user-1' }, undefined, { deadline: deadlineIn(5_000), audit }).catch(
      (e: unknown) => e,
    );

    expect(error).toMatchObject({ statusCode: 503 });
    expect(upstream.requests).toHaveLength(1);
    expect(audit).toMatchObject({ upstreamStatus: 503, attempts: 1 });
  });
});
