import { afterEach, describe, expect, it, vi } from 'vitest';
import { type AuditRecord, type AuditTarget, nonceDigest, noteUpstreamCall, writeAudit } from '#lib/audit';
import type { Caller } from '#lib/caller';
import { deadlineIn } from '#lib/deadline';
import { callWithRetry, DEFAULT_POLICY } from '#lib/upstream/retry';
import { logLines, parsedLogs } from '../support/logs.ts';

const record = (fields: Partial<AuditRecord> = {}): AuditRecord => ({ operation: 'svix.expire-all', target: { appId: 'app_1' }, ...fields });

afterEach(() => {
  vi.useRealTimers();
});

describe('upstream calls report to the record their call context carries', () => {
  it('keeps concurrent operations apart across awaits', async () => {
    // Prepare
    const a = record({ operation: 'a' });
    const b = record({ operation: 'b' });
    const reply = (status: number) => async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return { status, headers: {}, body: Buffer.alloc(0) };
    };
    const options = (audit: AuditRecord) => ({
      deadline: deadlineIn(5_000),
      audit,
      policy: DEFAULT_POLICY,
      operation: audit.operation,
    });
    // Act
    await Promise.all([callWithRetry(reply(201), options(a)), callWithRetry(reply(203), options(b))]);
    // Assess
    expect(a).toMatchObject({ upstreamStatus: 201, attempts: 1 });
    expect(b).toMatchObject({ upstreamStatus: 203, attempts: 1 });
  });
});

describe('noteUpstreamCall', () => {
  it('adds attempts and time across calls and keeps the last status', () => {
    const mine = record();

    noteUpstreamCall(mine, { status: 503, attempts: 2, ms: 120 });
    noteUpstreamCall(mine, { attempts: 1, ms: 30 });

    expect(mine.upstreamStatus).toBe(503);
    expect(mine.attempts).toBe(3);
    expect(mine.upstreamMs).toBe(150);
  });

  it('does nothing without a record (a call outside any operation)', () => {
    expect(() => noteUpstreamCall(undefined, { status: 200, attempts: 1, ms: 1 })).not.toThrow();
  });
});

describe('nonceDigest', () => {
  it('is a stable 12-character base64url digest that does not contain the nonce', () => {
    const nonce = 'f3c1a9b27d4e4c0b9a8e7d6c5b4a3921';

    const digest = nonceDigest(nonce);

    expect(digest).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(nonceDigest(nonce)).toBe(digest);
    expect(nonceDigest(`${nonce}x`)).not.toBe(digest);
    expect(nonce).not.toContain(digest);
  });
});

describe('writeAudit', () => {
  it('writes one `audit` line with the record, its duration and not its start time', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-01T00:00:01.500Z'));
    const started = Date.parse('2026-01-01T00:00:00.000Z');

    writeAudit(record({ caller: { id: 'jwt:billing', sub: 'billing' }, status: 204, startedAt: started }));

    const [line, ...rest] = parsedLogs();
    expect(rest).toEqual([]);
    expect(line).toMatchObject({ level: 'info', msg: 'audit', operation: 'svix.expire-all', status: 204, durationMs: 1500, target: { appId: 'app_1' } });
    expect(line?.caller).toEqual({ id: 'jwt:billing', sub: 'billing' });
    expect(line).not.toHaveProperty('startedAt');
  });

  it('writes server-side failures at warn, and at the level asked for', () => {
    writeAudit(record({ status: 502 }));
    writeAudit(record({ status: 404 }));
    writeAudit(record({ outcome: 'permanent' }), 'error');

    expect(parsedLogs().map((line) => line.level)).toEqual(['warn', 'info', 'error']);
  });

  it('keeps a duration already measured', () => {
    writeAudit(record({ durationMs: 42, startedAt: 0 }));

    expect(parsedLogs()[0]?.durationMs).toBe(42);
  });
});

describe('the record as written', () => {
  /** Every field the schema has, nested ones included: a field added to the type must be added here. */
  const caller: Required<Caller> = {
    id: 'jwt:billing|web',
    sub: 'billing',
    clientId: 'web',
    arn: 'arn:aws:iam::123456789012:user/ops',
    sender: 'AROAEXAMPLE:ops',
    rule: 'arn:aws:events:eu-west-1:123456789012:rule/authgate-dev-logout',
    claimedSource: 'authgate.requests',
    claimedSender: 'AROAEXAMPLE:ops',
  };
  const target: Required<AuditTarget> = { appId: 'app_1', sessionIds: ['s1'], serverId: 'c2VydmVy', accountId: 7, userId: 'u1', nonceHash: 'abc123def456' };
  const full: Required<Omit<AuditRecord, 'startedAt'>> = {
    operation: 'job.logout',
    caller,
    target,
    sourceIp: '198.51.100.7',
    userAgent: 'curl/8',
    messageId: 'm-1',
    targetIndex: 0,
    outcome: 'done',
    reason: 'none',
    error: { name: 'Error', message: 'boom' },
    status: 204,
    upstreamStatus: 204,
    attempts: 1,
    upstreamMs: 12,
    durationMs: 15,
    apiRequestId: 'api-1',
    requestId: 'req-1',
  };

  it("has no field name that log redaction would hide: the schema's names are written as they are", async () => {
    const { redact } = await import('#lib/log');
    writeAudit(full);
    const { level, time, msg, ...written } = parsedLogs()[0]!;
    expect(msg).toBe('audit');
    expect(written).toEqual(full);
    expect(redact(written)).toEqual(written);
  });

  it('reduces a thrown Error to its name and message, and redacts a thrown object by its field names', () => {
    writeAudit(record({ error: new TypeError('bad input') }));
    writeAudit(record({ error: { token: 'tok_thrown_value', code: 7 } }));
    const [first, second] = parsedLogs();
    expect(first?.error).toEqual({ name: 'TypeError', message: 'bad input' });
    expect(second?.error).toEqual({ token: '[redacted]', code: 7 });
  });
});

describe('copied values are bounded', () => {
  it('keeps a record under 2 KB when the claims and user agent are 6,000 characters each, and long values distinct', async () => {
    const { callerOf } = await import('#lib/caller');
    const long = (c: string) => c.repeat(6_000);
    const caller = callerOf({ authorizer: { jwt: { claims: { sub: long('s'), client_id: long('c') } } } });

    writeAudit(record({ caller, userAgent: `${long('u')}1`, reason: long('r'), status: 200 }));
    writeAudit(record({ caller, userAgent: `${long('u')}2`, status: 200 }));

    const [first, second] = logLines;
    expect(Buffer.byteLength(first ?? '')).toBeLessThan(2_048);
    const [a, b] = parsedLogs();
    expect(a?.userAgent).not.toBe(b?.userAgent);
    expect(String(a?.userAgent)).toMatch(/^u{239}…[0-9a-f]{16}$/);
    expect(String(a?.reason).length).toBe(256);
    expect(second).toBeDefined();
  });
});
