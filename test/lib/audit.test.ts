import { afterEach, describe, expect, it, vi } from 'vitest';
import { type AuditRecord, currentAuditRecord, nonceDigest, noteUpstreamCall, withAuditRecord, writeAudit } from '#lib/audit';
import { parsedLogs } from '../support/logs.ts';

const record = (fields: Partial<AuditRecord> = {}): AuditRecord => ({ operation: 'svix.expire-all', target: { appId: 'app_1' }, ...fields });

afterEach(() => {
  vi.useRealTimers();
});

describe('withAuditRecord / currentAuditRecord', () => {
  it('makes the record current inside the work only', () => {
    // Prepare
    const mine = record();
    // Act
    const inside = withAuditRecord(mine, () => currentAuditRecord());
    // Assess
    expect(inside).toBe(mine);
    expect(currentAuditRecord()).toBeUndefined();
  });

  it('keeps concurrent operations apart across awaits', async () => {
    const a = record({ operation: 'a' });
    const b = record({ operation: 'b' });
    const work = async (attempts: number) => {
      await Promise.resolve();
      noteUpstreamCall({ status: 200 + attempts, attempts, ms: 10 });
      await new Promise((resolve) => setImmediate(resolve));
      return currentAuditRecord()?.operation;
    };

    const seen = await Promise.all([withAuditRecord(a, () => work(1)), withAuditRecord(b, () => work(3))]);

    expect(seen).toEqual(['a', 'b']);
    expect(a).toMatchObject({ upstreamStatus: 201, attempts: 1, upstreamMs: 10 });
    expect(b).toMatchObject({ upstreamStatus: 203, attempts: 3, upstreamMs: 10 });
  });
});

describe('noteUpstreamCall', () => {
  it('adds attempts and time across calls and keeps the last status', () => {
    const mine = record();

    withAuditRecord(mine, () => {
      noteUpstreamCall({ status: 503, attempts: 2, ms: 120 });
      noteUpstreamCall({ attempts: 1, ms: 30 });
    });

    expect(mine.upstreamStatus).toBe(503);
    expect(mine.attempts).toBe(3);
    expect(mine.upstreamMs).toBe(150);
  });

  it('does nothing outside an operation', () => {
    expect(() => noteUpstreamCall({ status: 200, attempts: 1, ms: 1 })).not.toThrow();
    expect(currentAuditRecord()).toBeUndefined();
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
