import { describe, expect, it } from 'vitest';
import { log } from '#lib/log';
import { AuditFeed, callerOf, formatAudit, parseAudit } from '#local/audit';
import { logLines } from '../support/logs.ts';

/**
 * The local side of the audit trail: records written through the real logger (as lib/ writes
 * them) are picked out of the log stream, kept, and shown one line each.
 */

const HTTP_RECORD = {
  operation: 'svix.app-portal-access',
  family: 'svix',
  caller: { id: 'jwt:local-developer|web', sub: 'local-developer', clientId: 'web' },
  sourceIp: '127.0.0.1',
  userAgent: 'curl/8.0',
  target: { appId: 'app_demo' },
  status: 200,
  upstreamStatus: 200,
  attempts: 1,
  durationMs: 12,
  apiRequestId: 'api-1',
  requestId: 'req-1',
};

describe('audit records, locally', () => {
  it('keeps audit records from the log stream, newest first, and passes every line on', () => {
    const feed = new AuditFeed();
    const restore = feed.tee();
    try {
      log.info('request', { operation: 'svix.app-portal-access', status: 200 });
      log.info('audit', HTTP_RECORD);
      log.info('audit', { ...HTTP_RECORD, target: { appId: 'app_2' }, status: 403, upstreamStatus: undefined, attempts: 0 });
    } finally {
      restore();
    }
    expect(feed.records().map((r) => r.target)).toEqual([{ appId: 'app_2' }, { appId: 'app_demo' }]);
    expect(feed.records()[1]).toMatchObject({ ...HTTP_RECORD, msg: 'audit', level: 'info' });
    // The previous sink (the test's capture) still got all three lines.
    expect(logLines).toHaveLength(3);
    // And it is the sink again.
    log.info('after');
    expect(logLines).toHaveLength(4);
    expect(feed.records()).toHaveLength(2);
  });

  it('prints why a request was refused, which the wire does not say (tenant binding names its claim)', () => {
    const reason = 'tenant binding: claim svix_app_ids does not list this app';
    expect(formatAudit({ ...HTTP_RECORD, status: 403, upstreamStatus: undefined, attempts: 0, reason })).toContain(`→ 403 (${reason})`);
    expect(formatAudit({ ...HTTP_RECORD, reason: 'unused on success' })).not.toContain('unused');
  });

  it('keeps at most its limit', () => {
    const feed = new AuditFeed(3);
    for (let i = 0; i < 5; i++) feed.observe(JSON.stringify({ msg: 'audit', operation: `op${i}` }));
    expect(feed.records().map((r) => r.operation)).toEqual(['op4', 'op3', 'op2']);
  });

  it('names the caller by its id, or by what the record has of it', () => {
    expect(callerOf({ caller: { id: 'iam:arn:aws:iam::1:role/x', arn: 'arn:aws:iam::1:role/x' } })).toBe('iam:arn:aws:iam::1:role/x');
    expect(callerOf({ caller: { sub: 'billing', clientId: 'web' } })).toBe('jwt:billing|web');
    expect(callerOf({ caller: { arn: 'arn:aws:iam::1:user/y' } })).toBe('iam:arn:aws:iam::1:user/y');
    expect(callerOf({})).toBe('-');
  });

  it('ignores lines that are not audit records, even ones that mention it', () => {
    expect(parseAudit('{"level":"info","msg":"request","note":"\\"msg\\":\\"audit\\""}')).toBeUndefined();
    expect(parseAudit('not json "msg":"audit"')).toBeUndefined();
  });

  it('prints one compact line per record: time, caller, operation, target, result, duration', () => {
    const printed: string[] = [];
    const restore = new AuditFeed().tee((line, record) => printed.push(record ? formatAudit(record) : line));
    try {
      log.info('audit', HTTP_RECORD);
      log.info('audit', {
        operation: 'nextauth.provoke-login-on-user',
        caller: { id: 'jwt:backend' },
        target: { serverId: 'c2FuZGJveC1zZXJ2ZXI/Pj4+MQ==', userId: 'alice', nonceHash: '3f2a9c01' },
        status: 502,
        upstreamStatus: 503,
        attempts: 3,
        durationMs: 80,
      });
      log.info('audit', { operation: 'job.logout', target: { op: 'nextauth.logout', serverId: 'srv' }, outcome: 'done', durationMs: 5 });
      log.warn('something else', { operation: 'x' });
    } finally {
      restore();
    }
    expect(printed[0]).toMatch(/^audit \d\d:\d\d:\d\d\.\d{3} {2}jwt:local-developer\|web {2}svix\.app-portal-access {2}appId=app_demo {2}→ 200 {2}12 ms$/);
    expect(printed[1]).toContain(
      'jwt:backend  nextauth.provoke-login-on-user  serverId=c2FuZGJveC1zZXJ2ZXI/Pj4+MQ== userId=alice nonceHash=3f2a9c01  → 502 (upstream 503, 3 attempts)  80 ms',
    );
    expect(printed[2]).toContain('-  job.logout  op=nextauth.logout serverId=srv  → done  5 ms');
    // Other lines print as they are: the JSON line.
    expect(JSON.parse(printed[3] ?? '')).toMatchObject({ level: 'warn', msg: 'something else' });
  });

  it('prints control characters escaped: a crafted sub cannot forge a second audit line or drive the terminal', async () => {
    const { callerOf: callerOfContext } = await import('#lib/caller');
    const { writeAudit } = await import('#lib/audit');
    const forged = 'mallory\r\naudit 12:00:00.000  jwt:admin  svix.expire-all  appId=app_prod  → 204\u0000\u001b[2K\u2028\u0085';
    const printed: string[] = [];
    const restore = new AuditFeed().tee((line, record) => printed.push(record ? formatAudit(record) : line));
    try {
      writeAudit({
        operation: 'svix.app-portal-access',
        caller: callerOfContext({ authorizer: { jwt: { claims: { sub: forged } } } }),
        target: { appId: 'app_demo' },
        status: 200,
      });
      // An older record (or any writer) with the raw claim in the id and a target value.
      log.info('audit', { operation: 'job.logout', caller: { id: `jwt:${forged}` }, target: { userId: forged }, outcome: 'done' });
    } finally {
      restore();
    }
    expect(printed).toHaveLength(2);
    for (const line of printed) {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: no raw control character is the assertion
      expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
      expect(line.startsWith('audit ')).toBe(true);
    }
    expect(printed[1]).toContain('mallory\\r\\naudit');
  });
});
