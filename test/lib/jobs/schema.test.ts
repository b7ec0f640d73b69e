import { describe, expect, it } from 'vitest';
import { DETAIL_TYPES, JOB_KINDS, type JobKind, MAX_TARGETS, parseMessage } from '#lib/jobs/schema';
import { eventBridgeBody, localProvenance, localRuleArn, sqsEvent } from '#local/events';

/** parseMessage as the local consumers run it (the default jobEventSources, the local rule). */
const parse = (kind: JobKind, record: Parameters<typeof parseMessage>[1]) => parseMessage(kind, record, localProvenance(kind));

/** An SQS record carrying `body` (as a string, as SQS delivers it). */
const record = (body: unknown, messageId = 'msg-1') => {
  const [r] = sqsEvent([typeof body === 'string' ? body : JSON.stringify(body)], { messageIds: [messageId] }).Records;
  return r!;
};

const SERVER = 'c2VydmVy';

describe('parseMessage: plain SQS messages', () => {
  it('takes one bare target, with the SQS message id as identity', () => {
    expect(parse('logout', record({ serverid: SERVER, nonce: 'n1' }, 'msg-7'))).toEqual({
      ok: true,
      via: 'sqs',
      id: 'msg-7',
      targets: [{ op: 'nextauth.logout', serverid: SERVER, nonce: 'n1' }],
    });
  });

  it('makes a Svix logout target an expire-all of its sessions, now', () => {
    const parsed = parse('logout', record({ targets: [{ appId: 'app_1', sessionIds: ['s1'] }] }));

    expect(parsed).toMatchObject({ ok: true, targets: [{ op: 'svix.expire-all', appId: 'app_1', body: { expiry: 0, sessionIds: ['s1'] } }] });
  });

  it('refuses a Svix logout naming no session (it must never expire everything)', () => {
    const parsed = parse('logout', record({ appId: 'app_1', sessionIds: [] }));

    expect(parsed).toEqual({ ok: false, via: 'sqs', reason: 'sessionIds: must name at least one session' });
  });

  it('keeps only what an expire-all target sets', () => {
    const parsed = parse('expire-all', record({ targets: [{ appId: 'app_1' }, { appId: 'app_2', expiry: 60, sessionIds: ['a'] }] }));

    expect(parsed).toMatchObject({
      ok: true,
      targets: [
        { op: 'svix.expire-all', appId: 'app_1', body: {} },
        { op: 'svix.expire-all', appId: 'app_2', body: { expiry: 60, sessionIds: ['a'] } },
      ],
    });
  });

  it('refuses bodies that are not a JSON object', () => {
    expect(parse('logout', record('{not json'))).toEqual({ ok: false, via: 'sqs', reason: 'the body is not JSON' });
    expect(parse('logout', record('[1,2]'))).toEqual({ ok: false, via: 'sqs', reason: 'the body is not a JSON object' });
  });

  it(`takes 1 to ${MAX_TARGETS} targets and no more`, () => {
    const targets = (n: number) => Array.from({ length: n }, (_, i) => ({ appId: `app_${i}` }));

    expect(parse('expire-all', record({ targets: targets(MAX_TARGETS) }))).toMatchObject({ ok: true });
    expect(parse('expire-all', record({ targets: targets(MAX_TARGETS + 1) }))).toEqual({
      ok: false,
      via: 'sqs',
      reason: 'targets: at most 100 targets per message',
    });
    expect(parse('expire-all', record({ targets: [] }))).toEqual({ ok: false, via: 'sqs', reason: 'targets: must name at least one target' });
    expect(parse('expire-all', record({ targets: 'app_1' }))).toEqual({ ok: false, via: 'sqs', reason: 'targets: must be an array' });
  });

  it('is all or nothing, naming where each bad target is', () => {
    const parsed = parse('logout', record({ targets: [{ serverid: SERVER, nonce: 'n1' }, { serverid: 'not base64!', nonce: 'n2' }, 'x'] }));

    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toBe('targets.1.serverid: must be base64 (standard or url-safe alphabet); targets.2: a target is a JSON object');
  });

  it('refuses what is neither kind of logout target, and unknown fields', () => {
    expect(parse('logout', record({ user: 'alice' }))).toMatchObject({
      ok: false,
      reason: expect.stringContaining('a logout target is {serverid, nonce}'),
    });
    expect(parse('logout', record({ serverid: SERVER, nonce: 'n1', extra: 1 }))).toMatchObject({ ok: false });
  });
});

describe('parseMessage: EventBridge events', () => {
  it('reads the detail of what our rule delivers, with the event id as identity, the rule, and the source as claimed', () => {
    const body = eventBridgeBody(DETAIL_TYPES.logout, { targets: [{ serverid: SERVER, nonce: 'n1' }] }, { id: 'evt-1' });

    expect(JSON.parse(body)).toMatchObject({ rule: localRuleArn('logout'), event: { id: 'evt-1', source: 'authgate.requests' } });
    expect(parse('logout', record(body, 'msg-9'))).toEqual({
      ok: true,
      via: 'eventbridge',
      id: 'evt-1',
      rule: localRuleArn('logout'),
      claimedSource: 'authgate.requests',
      targets: [{ op: 'nextauth.logout', serverid: SERVER, nonce: 'n1' }],
    });
  });

  it('still reads a bare event (delivered before the rule wrapped them), its source as claimed', () => {
    const body = eventBridgeBody(DETAIL_TYPES.logout, { serverid: SERVER, nonce: 'n1' }, { id: 'evt-2', rule: null });

    expect(parse('logout', record(body))).toEqual({
      ok: true,
      via: 'eventbridge',
      id: 'evt-2',
      claimedSource: 'authgate.requests',
      targets: [{ op: 'nextauth.logout', serverid: SERVER, nonce: 'n1' }],
    });
  });

  it('refuses an event from a source the job does not accept, bare or wrapped, and says which', () => {
    for (const rule of [null, undefined]) {
      const body = eventBridgeBody(DETAIL_TYPES.logout, { serverid: SERVER, nonce: 'n1' }, { source: 'com.example.hr', rule });
      expect(parse('logout', record(body))).toMatchObject({
        ok: false,
        via: 'eventbridge',
        claimedSource: 'com.example.hr',
        reason: 'source "com.example.hr" is not one of this job\'s event sources',
      });
    }
  });

  it("refuses a wrapped event naming another rule than the job's, or any rule when the job knows none", () => {
    const body = eventBridgeBody(DETAIL_TYPES.logout, { serverid: SERVER, nonce: 'n1' }, { rule: 'arn:aws:events:eu-west-1:1:rule/x"\r\n' });
    expect(parse('logout', record(body))).toEqual({
      ok: false,
      via: 'eventbridge',
      reason: 'the event names the rule "arn:aws:events:eu-west-1:1:rule/x\\"\\r\\n", not this job\'s rule',
    });
    const ours = eventBridgeBody(DETAIL_TYPES.logout, { serverid: SERVER, nonce: 'n1' });
    expect(parseMessage('logout', record(ours), { eventSources: ['authgate.requests'] })).toMatchObject({ ok: false });
    expect(parseMessage('logout', record(JSON.stringify({ rule: localRuleArn('logout'), event: [] })), localProvenance('logout'))).toMatchObject({
      ok: false,
      reason: 'not a rule delivery: event must be a JSON object',
    });
  });

  it('refuses an event meant for the other job', () => {
    const body = eventBridgeBody(DETAIL_TYPES['expire-all'], { appId: 'app_1' });

    expect(parse('logout', record(body))).toMatchObject({
      ok: false,
      via: 'eventbridge',
      reason: expect.stringMatching(/^the event names the rule .*expire-all/),
    });
    expect(parse('logout', record(eventBridgeBody(DETAIL_TYPES['expire-all'], { appId: 'app_1' }, { rule: null })))).toEqual({
      ok: false,
      via: 'eventbridge',
      claimedSource: 'authgate.requests',
      reason: 'detail-type "authgate.expire-all.requested" is not for the logout job (authgate.logout.requested)',
    });
  });

  it('refuses a malformed envelope and a bad detail', () => {
    expect(parse('expire-all', record({ 'detail-type': DETAIL_TYPES['expire-all'], source: 's', detail: [] }))).toMatchObject({
      ok: false,
      via: 'eventbridge',
      reason: 'not an EventBridge event: detail must be a JSON object',
    });
    expect(parse('expire-all', record(eventBridgeBody(DETAIL_TYPES['expire-all'], { appId: '..' })))).toEqual({
      ok: false,
      via: 'eventbridge',
      rule: localRuleArn('expire-all'),
      claimedSource: 'authgate.requests',
      reason: 'detail.appId: must not be a dot segment',
    });
  });

  it('names a detail-type for each job kind', () => {
    expect(JOB_KINDS.map((kind) => DETAIL_TYPES[kind])).toEqual(['authgate.logout.requested', 'authgate.expire-all.requested']);
  });
});
