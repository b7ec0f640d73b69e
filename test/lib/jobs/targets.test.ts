import { describe, expect, it } from 'vitest';
import { type AuditRecord, nonceDigest } from '#lib/audit';
import { deadlineIn } from '#lib/deadline';
import type { Target } from '#lib/jobs/schema';
import { auditTarget, canonicalTarget, executeTarget, type JobDefinition, jobOperation, targetIdempotencyKey } from '#lib/jobs/targets';

const expire = (body: Extract<Target, { op: 'svix.expire-all' }>['body'], appId = 'app_1'): Target => ({ op: 'svix.expire-all', appId, body });
const logout = (nonce = 'nonce-0123456789abcdef'): Target => ({ op: 'nextauth.logout', serverid: 'c2VydmVy', nonce });

describe('canonicalTarget', () => {
  it('is the same whatever the order of session ids, and keeps absent and 0 expiry apart', () => {
    expect(canonicalTarget(expire({ sessionIds: ['b', 'a'], expiry: 0 }))).toBe('["svix.expire-all","app_1",["a","b"],0]');
    expect(canonicalTarget(expire({ expiry: 0, sessionIds: ['a', 'b'] }))).toBe('["svix.expire-all","app_1",["a","b"],0]');
    expect(canonicalTarget(expire({}))).toBe('["svix.expire-all","app_1",null,null]');
    expect(canonicalTarget(logout('n1'))).toBe('["nextauth.logout","c2VydmVy","n1"]');
  });
});

describe('targetIdempotencyKey', () => {
  const id = '059f36b4-87a3-44ab-83d2-661975830a7d';

  it('is the same for every delivery of a message', () => {
    const key = targetIdempotencyKey(id, 0, expire({ sessionIds: ['a', 'b'] }));

    expect(key).toMatch(/^job_[0-9a-f]{64}$/);
    expect(targetIdempotencyKey(id, 0, expire({ sessionIds: ['b', 'a'] }))).toBe(key);
  });

  it('differs per target index, per message id and per content', () => {
    const keys = [
      targetIdempotencyKey(id, 0, expire({})),
      targetIdempotencyKey(id, 1, expire({})),
      targetIdempotencyKey('another-id', 0, expire({})),
      targetIdempotencyKey(id, 0, expire({ expiry: 0 })),
      targetIdempotencyKey(id, 0, expire({}, 'app_2')),
    ];

    expect(new Set(keys).size).toBe(5);
  });
});

describe('executeTarget', () => {
  function ports() {
    const calls: unknown[][] = [];
    const upstream = {
      expireAll: async (...args: unknown[]) => {
        calls.push(['expireAll', ...args]);
      },
      logoutSession: async (...args: unknown[]) => {
        calls.push(['logoutSession', ...args]);
      },
    };
    return { calls, upstream };
  }

  it('sends an expire-all with the idempotency key and a logout without it, the rest of the context as is', async () => {
    const { calls, upstream } = ports();
    const job: JobDefinition = { kind: 'logout', upstream };
    const deadline = deadlineIn(5_000);
    const audit = { operation: 'job.logout' } as unknown as AuditRecord;

    await executeTarget(job, expire({ expiry: 0, sessionIds: ['s1'] }), { deadline, idempotencyKey: 'job_k', waitOutRateLimits: false });
    await executeTarget(job, logout('n1'), { deadline, audit, idempotencyKey: 'job_k2', waitOutRateLimits: false });

    expect(calls).toEqual([
      ['expireAll', 'app_1', { expiry: 0, sessionIds: ['s1'] }, { deadline, idempotencyKey: 'job_k', waitOutRateLimits: false }],
      ['logoutSession', 'c2VydmVy', 'n1', { deadline, audit, waitOutRateLimits: false }],
    ]);
  });

  it('refuses a nextAuth logout in an expire-all job, calling nothing', async () => {
    const { calls, upstream } = ports();

    const run = executeTarget({ kind: 'expire-all', upstream }, logout(), { deadline: deadlineIn(5_000), idempotencyKey: 'k' });

    await expect(run).rejects.toThrow('a expire-all job cannot run nextauth.logout');
    expect(calls).toEqual([]);
  });

  it('lets the upstream error through for the outcome to classify', async () => {
    const failing = { expireAll: async () => Promise.reject(new Error('boom')), logoutSession: async () => undefined };

    await expect(executeTarget({ kind: 'expire-all', upstream: failing }, expire({}), { deadline: deadlineIn(1_000), idempotencyKey: 'k' })).rejects.toThrow(
      'boom',
    );
  });
});

describe('auditTarget', () => {
  it('names a logout target by its nonce digest, never the nonce', () => {
    const nonce = 'nonce-0123456789abcdef';

    const target = auditTarget(logout(nonce));

    expect(target).toEqual({ op: 'nextauth.logout', serverId: 'c2VydmVy', nonceHash: nonceDigest(nonce) });
    expect(JSON.stringify(target)).not.toContain(nonce);
  });

  it('names an expire-all by app, session ids and expiry when given', () => {
    expect(auditTarget(expire({ expiry: 0, sessionIds: ['s1'] }))).toEqual({ op: 'svix.expire-all', appId: 'app_1', sessionIds: ['s1'], expiry: 0 });
    expect(auditTarget(expire({ expiry: null }))).toEqual({ op: 'svix.expire-all', appId: 'app_1' });
  });
});

describe('jobOperation', () => {
  it('names the job operation', () => {
    expect(jobOperation('logout')).toBe('job.logout');
    expect(jobOperation('expire-all')).toBe('job.expire-all');
  });
});
