import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '#lib/audit';
import { deadlineIn } from '#lib/deadline';
import { appPortalAccess, expireAll, logout } from '#lib/upstream/svix';
import { createSvixSandbox } from '#local/sandbox/svix';
import { mockSecrets } from '../../support/secrets.ts';
import { useTestUpstream } from '../../support/upstream.ts';

/**
 * The Svix client called directly, as a handler or a job target calls it: with a call context
 * (lib/call-context.ts) and the real sandbox upstream over HTTP. What the context carries must
 * reach the wire (the key) and come back (the audit record), call by call.
 */

const ORG_KEY = 'sk_canary_client_org_key';
mockSecrets({ 'test/svix': ORG_KEY });
const upstream = useTestUpstream(
  () => [createSvixSandbox({ orgKey: ORG_KEY })],
  (url) => ({ SVIX_API_URL: url, SVIX_SECRET_ID: 'test/svix', UPSTREAM_ATTEMPT_TIMEOUT_MS: '400' }),
);

/** What `call` was rejected with; fails the test when it succeeded. */
const failure = (call: Promise<unknown>) =>
  call.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error,
  );

const record = (operation = 'svix.app-portal-access'): AuditRecord => ({ operation, target: {} });

describe('appPortalAccess', () => {
  it('sends the context key with the org key, answers {url, token}, and adds the call to the context record', async () => {
    const audit = record();

    const answer = await appPortalAccess('app_demo', { expiry: 3600 }, { deadline: deadlineIn(5_000), audit, idempotencyKey: 'key-from-context' });

    expect(answer.token).toMatch(/^appsk_/);
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]?.path).toBe('/api/v1/auth/app-portal-access/app_demo');
    expect(upstream.requests[0]?.headers['idempotency-key']).toBe('key-from-context');
    expect(upstream.requests[0]?.headers.authorization).toBe(`Bearer ${ORG_KEY}`);
    expect(audit).toMatchObject({ upstreamStatus: 200, attempts: 1 });
    expect(audit.upstreamMs).toBeGreaterThanOrEqual(0);
  });

  it('repeats a 503 under the same key and counts both attempts in the record', async () => {
    upstream.script({ status: 503, body: { code: 'busy', detail: 'try again' } });
    const audit = record();

    await appPortalAccess('app_demo', {}, { deadline: deadlineIn(5_000), audit, idempotencyKey: 'k-retry' });

    expect(upstream.requests.map((r) => [r.headers['idempotency-key'], r.headers['svix-retry-count']])).toEqual([
      ['k-retry', undefined],
      ['k-retry', '1'],
    ]);
    expect(audit).toMatchObject({ upstreamStatus: 200, attempts: 2 });
  });

  it("passes a Svix 4xx back in Svix's shape, and the record keeps the upstream status", async () => {
    upstream.script({ status: 409, body: { code: 'conflict', detail: 'key reused' } });
    const audit = record();

    const error = await failure(appPortalAccess('app_demo', {}, { deadline: deadlineIn(5_000), audit, idempotencyKey: 'k' }));

    expect(error).toMatchObject({ statusCode: 409 });
    expect(audit).toMatchObject({ upstreamStatus: 409, attempts: 1 });
  });

  it('sends nothing when the context deadline leaves no time (504)', async () => {
    const audit = record();

    const error = await failure(appPortalAccess('app_demo', {}, { deadline: deadlineIn(10), audit, idempotencyKey: 'k' }));

    expect(error).toMatchObject({ statusCode: 504 });
    expect(upstream.requests).toHaveLength(0);
    expect(audit).toMatchObject({ attempts: 0 });
    expect(audit.upstreamStatus).toBeUndefined();
  });

  it('keeps concurrent calls apart: each record gets its own call', async () => {
    upstream.script({ status: 503, body: { code: 'busy', detail: 'once' } });
    const [a, b] = [record('a'), record('b')];

    await Promise.all([
      appPortalAccess('app_demo', {}, { deadline: deadlineIn(5_000), audit: a, idempotencyKey: 'ka' }),
      appPortalAccess('app_2', {}, { deadline: deadlineIn(5_000), audit: b, idempotencyKey: 'kb' }),
    ]);

    // One of the two met the scripted 503 and tried twice; the other did not.
    expect([a.attempts, b.attempts].sort()).toEqual([1, 2]);
    expect([a.upstreamStatus, b.upstreamStatus]).toEqual([200, 200]);
  });

  it('works without a record (a call outside any audited work)', async () => {
    await expect(appPortalAccess('app_demo', {}, { deadline: deadlineIn(5_000), idempotencyKey: 'k' })).resolves.toMatchObject({ url: expect.any(String) });
  });
});

describe('expireAll', () => {
  it('posts the body with the context key and adds the 204 to the record', async () => {
    const audit = record('svix.expire-all');

    await expireAll('app_demo', { expiry: 0, sessionIds: ['s1'] }, { deadline: deadlineIn(5_000), audit, idempotencyKey: 'job_k' });

    expect(upstream.requests[0]?.path).toBe('/api/v1/auth/app/app_demo/expire-all');
    expect(JSON.parse(upstream.requests[0]?.body ?? '')).toEqual({ expiry: 0, sessionIds: ['s1'] });
    expect(upstream.requests[0]?.headers['idempotency-key']).toBe('job_k');
    expect(audit).toMatchObject({ upstreamStatus: 204, attempts: 1 });
  });
});

describe('logout', () => {
  it("sends the caller's own token, never the org key, and reports Svix's 401 for a token it does not know", async () => {
    const audit = record('svix.logout');

    const error = await failure(logout('appsk_not_issued', { deadline: deadlineIn(5_000), audit, idempotencyKey: 'k' }));

    expect(upstream.requests[0]?.headers.authorization).toBe('Bearer appsk_not_issued');
    expect(error).toMatchObject({ statusCode: 401 });
    expect(audit).toMatchObject({ upstreamStatus: 401, attempts: 1 });
  });
});
