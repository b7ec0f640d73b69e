import { describe, expect, it } from 'vitest';
import { type AuditTarget, nonceDigest, writeAudit } from '#lib/audit';
import { auditTargetOf, type HttpContract, type InputEvent, idempotencyKeyOf, inputReader, MAX_AUDIT_SESSION_IDS, successorLink } from '#lib/contract';
import { nextauth, svix } from '#lib/contracts/index';
import { type HttpEventInput, httpEvent } from '#local/events';
import { base64urlServerId, DEFAULT_SANDBOX_SERVER_ID } from '#local/sandbox/nextauth';
import { parsedLogs } from '../support/logs.ts';

/**
 * lib/contract.ts on its own: what an operation's contract makes of a request (the event as
 * API Gateway sends it, after the body stage), without the middy stack around it.
 */

/** An HTTP API event after the body stage: its JSON body parsed, as lib/http.ts hands it on. */
function parsedEvent(input: Omit<HttpEventInput, 'body'> & { body?: unknown }): InputEvent {
  const { body, ...rest } = input;
  const event = httpEvent(rest);
  return { ...event, headers: event.headers as Record<string, string | undefined>, body };
}

const NONCE = 'bm9uY2Utb2YtYS1icm93c2Vy';
const SID = DEFAULT_SANDBOX_SERVER_ID;
const caller = { id: 'jwt:billing', sub: 'billing' };
const other = { id: 'jwt:shop', sub: 'shop' };

describe('inputReader', () => {
  it('hands on each input validated, typed as the contract says', () => {
    const read = inputReader(nextauth.provokeLoginOnAccountContract);

    const input = read(
      parsedEvent({
        method: 'POST',
        rawPath: `/servers/${SID}/accounts/42/provokelogin`,
        pathParameters: { serverid: base64urlServerId(SID), accountid: '42' },
        headers: { 'X-Nonce': NONCE },
        body: { sessioninfo: { ip: '192.0.2.1' } },
      }),
    );

    expect(input.path).toEqual({ serverid: SID, accountid: 42 });
    expect(input.headers['x-nonce']).toBe(NONCE);
    expect(input.body).toEqual({ sessioninfo: { ip: '192.0.2.1' } });
  });

  it("refuses the path before the body, in the family's own shape", () => {
    const read = inputReader(svix.expireAllContract);
    const event = parsedEvent({ method: 'POST', rawPath: '/api/v1/auth/app/bad id/expire-all', pathParameters: { app_id: 'bad id' }, body: { expiry: -1 } });

    const error = (() => {
      try {
        read(event);
      } catch (err) {
        return err as { statusCode: number; toResponse(): { body?: string } };
      }
    })();

    expect(error?.statusCode).toBe(422);
    expect(JSON.parse(error?.toResponse().body ?? '{}').detail[0].loc).toEqual(['path', 'app_id']);
  });

  it('checks the bearer of an anonymous contract first: 401 authentication_failed, as Svix does', () => {
    const read = inputReader(svix.logoutContract);

    expect(() => read(parsedEvent({ method: 'POST', rawPath: '/api/v1/auth/logout', headers: { Authorization: 'Basic abc' } }))).toThrow(
      expect.objectContaining({ statusCode: 401 }),
    );
    expect(read(parsedEvent({ method: 'POST', rawPath: '/api/v1/auth/logout', headers: { Authorization: 'Bearer appsk_1' } })).bearer).toBe('appsk_1');
  });
});

describe('idempotencyKeyOf', () => {
  const read = inputReader(svix.appPortalAccessContract);
  const withKey = (appId: string, key: string) =>
    read(
      parsedEvent({
        method: 'POST',
        rawPath: `/api/v1/auth/app-portal-access/${appId}`,
        pathParameters: { app_id: appId },
        headers: { 'Idempotency-Key': key },
        body: {},
      }),
    );

  it("scopes the caller's key to the caller and the app, so no two callers or apps share a Svix replay", () => {
    const mine = idempotencyKeyOf(svix.appPortalAccessContract, withKey('app_1', 'order-1'), caller);

    expect(idempotencyKeyOf(svix.appPortalAccessContract, withKey('app_1', 'order-1'), caller)).toBe(mine);
    expect(idempotencyKeyOf(svix.appPortalAccessContract, withKey('app_1', 'order-1'), other)).not.toBe(mine);
    expect(idempotencyKeyOf(svix.appPortalAccessContract, withKey('app_2', 'order-1'), caller)).not.toBe(mine);
    expect(mine).toMatch(/^authgate_/);
    expect(mine).not.toContain('order-1');
  });

  it('gives none for a contract without idempotency (nextAuth)', () => {
    const input = inputReader(nextauth.getSessionContract)(
      parsedEvent({ method: 'GET', rawPath: `/servers/${SID}/sessions`, pathParameters: { serverid: SID }, headers: { 'x-nonce': NONCE } }),
    );

    expect(idempotencyKeyOf(nextauth.getSessionContract, input, caller)).toBeUndefined();
  });
});

describe('auditTargetOf', () => {
  it('records what each contract names, and nothing else', () => {
    const event = httpEvent({
      method: 'POST',
      rawPath: '/x',
      pathParameters: { app_id: 'app_1', serverid: base64urlServerId(SID), accountid: '7', userid: 'u-1' },
      headers: { 'X-Nonce': NONCE },
    });
    const values = { path: event.pathParameters, headers: event.headers };
    const contracts = { ...svix, ...nextauth } as Record<string, HttpContract>;
    const targets = Object.fromEntries(Object.entries(contracts).map(([name, contract]) => [name, auditTargetOf(contract, values)]));
    const session = { serverId: SID, nonceHash: nonceDigest(NONCE) };

    expect(targets).toEqual({
      appPortalAccessContract: { appId: 'app_1' },
      dashboardAccessContract: { appId: 'app_1' },
      expireAllContract: { appId: 'app_1' },
      logoutContract: {},
      getQrLoginContract: session,
      getSessionContract: session,
      logoutSessionContract: session,
      provokeLoginContract: session,
      provokeLoginOnAccountContract: { ...session, accountId: '7' },
      provokeLoginOnUserContract: { ...session, userId: 'u-1' },
    });
  });

  it("keeps an expire-all body's session ids, at most a hundred, and none of another body", () => {
    const sessionIds = Array.from({ length: 150 }, (_, i) => `s${i}`);

    expect(auditTargetOf(svix.expireAllContract, { body: { sessionIds } }).sessionIds).toEqual(sessionIds.slice(0, MAX_AUDIT_SESSION_IDS));
    expect(auditTargetOf(svix.expireAllContract, { body: { sessionIds } }, Number.POSITIVE_INFINITY).sessionIds).toHaveLength(150);
    expect(auditTargetOf(svix.appPortalAccessContract, { body: { sessionIds } })).toEqual({});
  });

  it("bounds a caller's raw values: 256 characters each, in the record written (audit.ts)", () => {
    const long = `app_${'x'.repeat(1000)}`;
    writeAudit({ operation: svix.expireAllContract.operation, target: auditTargetOf(svix.expireAllContract, { path: { app_id: long } }) });
    const written = parsedLogs().find((line) => line.msg === 'audit')?.target as AuditTarget | undefined;

    expect(written?.appId).toHaveLength(256);
  });
});

describe('successorLink', () => {
  it('fills the path parameters in, percent-encoded', () => {
    expect(successorLink('/api/v1/auth/app-portal-access/{app_id}/', { app_id: 'a/b' })).toBe(
      '</api/v1/auth/app-portal-access/a%2Fb/>; rel="successor-version"',
    );
  });
});
