import { describe, expect, it } from 'vitest';
import { DETAIL_TYPES, JOB_KINDS, MAX_TARGETS, parseMessage } from '#lib/jobs/schema';
import { eventBridgeBody, sqsEvent } from '#local/events';

/** An SQS record carrying `body` (as a string, as SQS delivers it). */
const record = (body: unknown, messageId = 'msg-1') => {
  const [r] = sqsEvent([typeof body === 'string' ? body : JSON.stringify(body)], { messageIds: [messageId] }).Records;
  return r!;
};

const SERVER = 'c2VydmVy';

describe('parseMessage: plain SQS messages', () => {
  it('takes one bare target, with the SQS message id as identity', () => {
    expect(parseMessage('logout', record({ serverid: SERVER, nonce: 'n1' }, 'msg-7'))).toEqual({
      ok: true,
      via: 'sqs',
      id: 'msg-7',
      targets: [{ op: 'nextauth.logout', serverid: SERVER, nonce: 'n1' }],
    });
  });

  it('makes a Svix logout target an expire-all of its sessions, now', () => {
    const parsed = parseMessage('logout', record({ targets: [{ appId: 'app_1', sessionIds: ['s1'] }] }));

    expect(parsed).toMatchObject({ ok: true, targets: [{ op: 'svix.expire-all', appId: 'app_1', body: { expiry: 0, sessionIds: ['s1'] } }] });
  });

  it('refuses a Svix logout naming no session (it must never expire everything)', () => {
    const parsed = parseMessage('logout', record({ appId: 'app_1', sessionIds: [] }));

    expect(parsed).toEqual({ ok: false, via: 'sqs', reason: 'sessionIds: must name at least one session' });
  });

  it('keeps only what an expire-all target sets', () => {
    const parsed = parseMessage('expire-all', record({ targets: [{ appId: 'app_1' }, { appId: 'app_2', expiry: 60, sessionIds: ['a'] }] }));

    expect(parsed).toMatchObject({
      ok: true,
      targets: [
        { op: 'svix.expire-all', appId: 'app_1', body: {} },
        { op: 'svix.expire-all', appId: 'app_2', body: { expiry: 60, sessionIds: ['a'] } },
      ],
    });
  });

  it('refuses bodies that are not a JSON object', () => {
    expect(parseMessage('logout', record('{not json'))).toEqual({ ok: false, via: 'sqs', reason: 'the body is not JSON' });
    expect(parseMessage('logout', record('[1,2]'))).toEqual({ ok: false, via: 'sqs', reason: 'the body is not a JSON object' });
  });

  it(`takes 1 to ${MAX_TARGETS} targets and no more`, () => {
    const targets = (n: number) => Array.from({ length: n }, (_, i) => ({ appId: `app_${i}` }));

    expect(parseMessage('expire-all', record({ targets: targets(MAX_TARGETS) }))).toMatchObject({ ok: true });
    expect(parseMessage('expire-all', record({ targets: targets(MAX_TARGETS + 1) }))).toEqual({
      ok: false,
      via: 'sqs',
      reason: 'targets: at most 100 targets per message',
    });
    expect(parseMessage('expire-all', record({ targets: [] }))).toEqual({ ok: false, via: 'sqs', reason: 'targets: must name at least one target' });
    expect(parseMessage('expire-all', record({ targets: 'app_1' }))).toEqual({ ok: false, via: 'sqs', reason: 'targets: must be an array' });
  });

  it('is all or nothing, naming where each bad target is', () => {
    const parsed = parseMessage('logout', record({ targets: [{ serverid: SERVER, nonce: 'n1' }, { serverid: 'not base64!', nonce: 'n2' }, 'x'] }));

    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toBe('targets.1.serverid: must be base64 (standard or url-safe alphabet); targets.2: a target is a JSON object');
  });

  it('refuses what is neither kind of logout target, and unknown fields', () => {
    expect(parseMessage('logout', record({ user: 'alice' }))).toMatchObject({
      ok: false,
      reason: expect.stringContaining('a logout target is {serverid, nonce}'),
    });
    expect(parseMessage('logout', record({ serverid: SERVER, nonce: 'n1', extra: 1 }))).toMatchObject({ ok: false });
  });
});

describe('parseMessage: EventBridge events', () => {
  it('reads the detail, with the event id as identity and its source', () => {
    const body = eventBridgeBody(DETAIL_TYPES.logout, { targets: [{ serverid: SERVER, nonce: 'n1' }] }, { id: 'evt-1', source: 'com.example.hr' });

    expect(parseMessage('logout', record(body, 'msg-9'))).toEqual({
      ok: true,
      via: 'eventbridge',
      id: 'evt-1',
      source: 'com.example.hr',
      targets: [{ op: 'nextauth.logout', serverid: SERVER, nonce: 'n1' }],
    });
  });

  it('refuses an event meant for the other job', () => {
    const body = eventBridgeBody(DETAIL_TYPES['expire-all'], { appId: 'app_1' });

    expect(parseMessage('logout', record(body))).toEqual({
      ok: false,
      via: 'eventbridge',
      reason: 'detail-type "authgate.expire-all.requested" is not for the logout job (authgate.logout.requested)',
    });
  });

  it('refuses a malformed envelope and a bad detail', () => {
    expect(parseMessage('expire-all', record({ 'detail-type': DETAIL_TYPES['expire-all'], source: 's', detail: [] }))).toMatchObject({
      ok: false,
      via: 'eventbridge',
      reason: 'not an EventBridge event: detail must be a JSON object',
    });
    expect(parseMessage('expire-all', record(eventBridgeBody(DETAIL_TYPES['expire-all'], { appId: '..' })))).toEqual({
      ok: false,
      via: 'eventbridge',
      reason: 'detail.appId: must not be a dot segment',
    });
  });

  it('names a detail-type for each job kind', () => {
    expect(JOB_KINDS.map((kind) => DETAIL_TYPES[kind])).toEqual(['authgate.logout.requested', 'authgate.expire-all.requested']);
  });
});
