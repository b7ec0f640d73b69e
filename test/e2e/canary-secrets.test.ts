import { readFileSync, writeFileSync } from 'node:fs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { job as expireAllJob } from '#functions/job-expire-all';
import { job as logoutJob } from '#functions/job-logout';
import type { DeadLetter, DeadLetterNote } from '#lib/jobs/dead-letter';
import { jobHandler } from '#lib/jobs/handler';
import { DETAIL_TYPES } from '#lib/jobs/schema';
import type { JobDefinition } from '#lib/jobs/targets';
import { clearSecretCache } from '#lib/secrets';
import { eventBridgeBody, lambdaContext, localProvenance, sqsEvent } from '#local/events';
import { type LocalStack, startLocalStack } from '../support/local-stack.ts';
import { logLines, parsedLogs } from '../support/logs.ts';

/**
 * Canary secrets: every operation runs, healthy and under upstream faults, with known strings as
 * upstream keys, caller token, app tokens, magic links and nonces; none of them may appear in
 * a log line or an error body.
 */

let stack: LocalStack;
const NONCE = 'CANARYNONCE7f3a9c0e1d2b4a6f';
const errorBodies: string[] = [];
const issued: string[] = [];

beforeAll(async () => {
  stack = await startLocalStack();
});
afterAll(() => stack.close());

async function call(method: string, path: string, init: { body?: string; headers?: Record<string, string> } = {}) {
  const res = await fetch(`${stack.api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.devToken}`, 'x-nonce': NONCE, ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers },
    ...(init.body ? { body: init.body } : {}),
  });
  const text = await res.text();
  if (res.status >= 400) errorBodies.push(text);
  return { status: res.status, text };
}

const sid = () => encodeURIComponent(stack.serverId);

async function everyOperation() {
  const portal = await call('POST', '/api/v1/auth/app-portal-access/app_demo/', { body: '{"sessionId":"canary"}' });
  if (portal.status === 200) {
    const { url, token } = JSON.parse(portal.text) as { url: string; token: string };
    issued.push(token, new URL(url).hash.slice(1));
    await call('POST', '/api/v1/auth/logout/', { headers: { authorization: `Bearer ${token}` } });
    await call('POST', '/api/v1/auth/logout/', { headers: { authorization: `Bearer ${token}` } });
  }
  await call('POST', '/api/v1/auth/dashboard-access/app_demo/');
  await call('POST', '/api/v1/auth/app/app_demo/expire-all/', { body: '{"expiry":0,"sessionIds":["canary"]}' });
  await call('POST', '/api/v1/auth/logout/', { headers: { authorization: 'Bearer appsk_CANARY_unknown_app_token' } });
  await call('GET', `/servers/${sid()}/sessions/qr/login?img=png&s=100`);
  await call('GET', `/servers/${sid()}/sessions/`);
  await call('POST', `/servers/${sid()}/sessions/provokelogin`);
  await call('POST', `/servers/${sid()}/accounts/1/provokelogin`);
  await call('POST', `/servers/${sid()}/users/alice/provokelogin`);
  await call('POST', `/servers/${sid()}/sessions/logout`);
}

const setFault = (fault: object) => fetch(`${stack.sandbox.url}/_sandbox/faults/*`, { method: 'PUT', body: JSON.stringify(fault) });

// Every operation under every fault, one after another: 17 s when two suites share the two cores.
// The bound is a hang guard, not a speed target.
describe('canary secrets', { timeout: 60_000 }, () => {
  it('never appear in logs or error bodies, healthy or failing', async () => {
    process.env.UPSTREAM_ATTEMPT_TIMEOUT_MS = '200';
    await everyOperation();
    for (const fault of [{ status: 500 }, { status: 503, retryAfter: 0 }, { status: 429 }, { reset: true }, { hang: true }]) {
      await setFault(fault);
      await everyOperation();
    }
    await fetch(`${stack.sandbox.url}/_sandbox/faults`, { method: 'DELETE' });

    const canaries = [stack.keys.svix, stack.keys.nextauth, stack.devToken, NONCE, 'appsk_CANARY_unknown_app_token', ...issued];
    expect(issued.length).toBeGreaterThan(0);
    expect(errorBodies.length).toBeGreaterThan(20);
    expect(logLines.length).toBeGreaterThan(20);
    const logs = logLines.join('\n');
    const bodies = errorBodies.join('\n');
    for (const canary of canaries) {
      expect(logs.includes(canary), `log holds ${canary.slice(0, 12)}…`).toBe(false);
      expect(bodies.includes(canary), `error body holds ${canary.slice(0, 12)}…`).toBe(false);
    }
  });
});

describe('canary secrets: jobs', () => {
  const JOB_NONCE = 'CANARYJOBNONCE5e1b7d93a04c6f28';
  const APP_TOKEN = 'appsk_CANARY_job_app_token_9d2e';
  const WRONG_KEYS = { svix: 'sk_canary_wrong_job_svix_key', nextauth: 'canary-wrong-job-nextauth-key' };
  type Handler = (event: SQSEvent, context: ReturnType<typeof lambdaContext>) => Promise<SQSBatchResponse>;
  const json = (value: unknown) => JSON.stringify(value);
  const requested = (kind: keyof typeof DETAIL_TYPES, detail: unknown) => eventBridgeBody(DETAIL_TYPES[kind], detail, { source: 'authgate.requests' });

  /** Valid and invalid messages of both jobs, each holding the canary nonce (or an app token) where a producer would put it. */
  function messages(serverid: string) {
    const nextauth = { serverid, nonce: JOB_NONCE };
    const svix = { appId: 'app_demo', sessionIds: ['canary-job-session'] };
    return {
      logout: [
        json(nextauth),
        json(svix),
        requested('logout', { targets: [nextauth, svix] }),
        // invalid: a nonce with a space, an empty server id, a too-long nonce, an app token in the
        // queue, truncated JSON, a half-valid list, the wrong detail-type
        json({ serverid, nonce: `${JOB_NONCE} spaced` }),
        json({ serverid: '', nonce: JOB_NONCE }),
        json({ serverid, nonce: `${'n'.repeat(520)}${JOB_NONCE}` }),
        json({ ...svix, token: APP_TOKEN }),
        `{"serverid":"${serverid}","nonce":"${JOB_NONCE}"`,
        json({ targets: [nextauth, { appId: 'app_demo', sessionIds: [] }] }),
        requested('expire-all', nextauth),
      ],
      'expire-all': [
        json({ ...svix, expiry: 0 }),
        requested('expire-all', { targets: [{ appId: 'app_demo' }, { ...svix, expiry: 60 }] }),
        // invalid: a nextAuth target (with its nonce) on the wrong queue, an app token, a bad expiry
        json(nextauth),
        json({ appId: 'app_demo', token: APP_TOKEN }),
        json({ appId: 'app_demo', expiry: -1, sessionIds: ['canary-job-session'] }),
      ],
    };
  }

  it('never appear in job logs or dead-letter reasons: upstream 5xx, 401, invalid messages, an unreachable DLQ', async () => {
    process.env.UPSTREAM_ATTEMPT_TIMEOUT_MS = '200';
    const notes: DeadLetterNote[] = [];
    const capture: DeadLetter = async (_record, note) => {
      notes.push(note);
    };
    // What the SQS client throws when the DLQ cannot be reached.
    const unreachable: DeadLetter = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { name: 'TimeoutError' });
    };
    const bodies = messages(stack.serverId);
    const runAll = async (deadLetter: DeadLetter) => {
      for (const [job, list] of [
        [logoutJob, bodies.logout],
        [expireAllJob, bodies['expire-all']],
      ] as Array<[JobDefinition, string[]]>) {
        const handler = jobHandler(job, { deadLetter, provenance: localProvenance(job.kind) }) as unknown as Handler;
        await handler(sqsEvent(list), lambdaContext({ functionName: `job-${job.kind}`, timeoutMs: 30_000 }));
      }
    };
    const secretsFile = process.env.SECRETS_FILE!;
    const secrets = readFileSync(secretsFile, 'utf8');
    const conditions: Array<[string, () => Promise<void>]> = [
      ['healthy', async () => {}],
      ['500', async () => void (await setFault({ status: 500 }))],
      ['503', async () => void (await setFault({ status: 503, retryAfter: 0 }))],
      [
        '401',
        async () => {
          await fetch(`${stack.sandbox.url}/_sandbox/faults`, { method: 'DELETE' });
          // Keys the upstreams reject, refetched after the 401 and still rejected: a permanent failure.
          writeFileSync(secretsFile, JSON.stringify({ 'local/svix': WRONG_KEYS.svix, 'local/nextauth': { apiKey: WRONG_KEYS.nextauth } }));
          clearSecretCache();
        },
      ],
    ];
    try {
      for (const [, setUp] of conditions) {
        await setUp();
        await runAll(capture);
        await runAll(unreachable);
      }
    } finally {
      writeFileSync(secretsFile, secrets);
      clearSecretCache();
      await fetch(`${stack.sandbox.url}/_sandbox/faults`, { method: 'DELETE' });
    }

    // Every condition really happened.
    const logs = parsedLogs();
    const targetLines = logs.filter((l) => l.msg === 'audit' && l.messageId !== undefined);
    expect(targetLines.some((l) => l.outcome === 'done')).toBe(true);
    expect(targetLines.some((l) => l.outcome === 'transient' && (l.status === 500 || l.status === 503))).toBe(true);
    expect(targetLines.filter((l) => l.outcome === 'permanent' && l.status === 401).map((l) => (l.target as { op: string }).op)).toEqual(
      expect.arrayContaining(['nextauth.logout', 'svix.expire-all']),
    );
    expect(logs.some((l) => l.msg === 'job message' && l.result === 'retry' && l.deadLetterError !== undefined)).toBe(true);
    expect(notes.filter((n) => n.reason.startsWith('invalid message: ')).length).toBeGreaterThanOrEqual(4 * 10);
    expect(notes.some((n) => /^target \d+: 401: /.test(n.reason))).toBe(true);

    const canaries = [JOB_NONCE, APP_TOKEN, stack.keys.svix, stack.keys.nextauth, WRONG_KEYS.svix, WRONG_KEYS.nextauth];
    const lines = logLines.join('\n');
    const reasons = notes.map((n) => n.reason).join('\n');
    for (const canary of canaries) {
      expect(lines.includes(canary), `log holds ${canary.slice(0, 12)}…`).toBe(false);
      // The reason travels as the DLQ copy's authgate.reason attribute, read by whoever looks at the alarm.
      expect(reasons.includes(canary), `dead-letter reason holds ${canary.slice(0, 12)}…`).toBe(false);
    }
  });
});
