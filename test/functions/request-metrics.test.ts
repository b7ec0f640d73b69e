import { describe, expect, it } from 'vitest';
import { handler as getSession } from '#functions/nextauth-get-session';
import { handler as appPortalAccess } from '#functions/svix-app-portal-access';
import { invoke } from '../support/invoke.ts';
import { parsedLogs } from '../support/logs.ts';
import { useBothSandboxes } from '../support/upstream.ts';

/**
 * What one invocation writes as CloudWatch metrics: one record, its audit record, carrying its own
 * metrics and its upstream calls' as two EMF directives.
 */

const ORG_KEY = 'sk_metrics_org_key_0123';
const NEXTAUTH_KEY = 'metrics-nextauth-key-0123';
const SERVER_ID = 'bWV0cmljcw==';
const upstream = useBothSandboxes(
  { svix: ORG_KEY, nextauth: NEXTAUTH_KEY, serverId: SERVER_ID },
  {
    UPSTREAM_ATTEMPT_TIMEOUT_MS: '300',
    METRICS_NAMESPACE: 'authgate/test',
  },
);

const portal = (body: unknown) =>
  invoke(appPortalAccess, { method: 'POST', rawPath: '/api/v1/auth/app-portal-access/app_demo/', pathParameters: { app_id: 'app_demo' }, body });
const session = () =>
  invoke(getSession, {
    method: 'GET',
    rawPath: `/servers/${encodeURIComponent(SERVER_ID)}/sessions/`,
    pathParameters: { serverid: SERVER_ID },
    headers: { 'x-nonce': 'metrics-nonce-0123456789abcdef' },
  });

interface Directive {
  Namespace: string;
  Dimensions: string[][];
  Metrics: Array<{ Name: string; Unit: string }>;
}
const metricRecords = () => parsedLogs().filter((l) => l._aws !== undefined);
const recordOf = (family: string, operation: string, kind: 'request' | 'upstream') =>
  metricRecords().filter((r) => r.family === family && r.operation === operation && (kind === 'request' ? 'requests' in r : 'upstreamCalls' in r));
/** The directive of `kind`'s metrics in `record`. */
const directiveOf = (record: Record<string, unknown>, kind: 'request' | 'upstream') =>
  (record._aws as { CloudWatchMetrics: Directive[] }).CloudWatchMetrics.find((d) =>
    d.Metrics.some((m) => m.Name === (kind === 'request' ? 'requests' : 'upstreamCalls')),
  );

describe('metrics of an HTTP invocation', () => {
  it('counts a request that succeeded after a retried upstream 503: one request, two attempts, one retry', async () => {
    upstream.script({ status: 503, body: { code: 'unavailable', detail: 'try later' } });
    expect((await portal({})).statusCode).toBe(200);
    const [request] = recordOf('svix', 'svix.app-portal-access', 'request');
    expect(request).toMatchObject({ requests: 1, '4xx': 0, '5xx': 0 });
    expect(request!.duration).toBeGreaterThanOrEqual(0);
    const [calls] = recordOf('svix', 'svix.app-portal-access', 'upstream');
    expect(calls).toMatchObject({
      upstreamCalls: 1,
      upstreamAttempts: 2,
      upstreamRetries: 1,
      upstream5xx: [1, 0],
      upstream2xx: [0, 1],
      upstreamTimeouts: [0, 0],
    });
    expect(directiveOf(calls!, 'upstream')?.Namespace).toBe('authgate/test');
  });

  it("writes them in the invocation's audit record: one line per invocation, two directives", async () => {
    expect((await portal({})).statusCode).toBe(200);
    const records = metricRecords();
    expect(records).toHaveLength(1);
    const [record] = records;
    expect(record).toMatchObject({ msg: 'audit', family: 'svix', operation: 'svix.app-portal-access', status: 200, requests: 1, upstreamCalls: 1 });
    expect(directiveOf(record!, 'request')).toEqual({
      Namespace: 'authgate/test',
      Dimensions: [['family', 'operation']],
      Metrics: [
        { Name: 'requests', Unit: 'Count' },
        { Name: '4xx', Unit: 'Count' },
        { Name: '5xx', Unit: 'Count' },
        { Name: 'duration', Unit: 'Milliseconds' },
      ],
    });
    expect(directiveOf(record!, 'upstream')).toMatchObject({ Namespace: 'authgate/test', Dimensions: [['family', 'operation'], ['family']] });
    expect(record!.duration).toBe(record!.durationMs);
  });

  it('counts refused input as a 4xx, with no upstream call to count', async () => {
    expect((await portal({ expiry: 1 })).statusCode).toBe(422);
    expect(recordOf('svix', 'svix.app-portal-access', 'request')[0]).toMatchObject({ requests: 1, '4xx': 1, '5xx': 0 });
    expect(recordOf('svix', 'svix.app-portal-access', 'upstream')).toHaveLength(0);
  });

  it('counts an upstream that never answers as timeouts per attempt and the request as a 5xx', async () => {
    upstream.script({ hang: true }, { hang: true }, { hang: true });
    expect((await session()).statusCode).toBe(504);
    expect(recordOf('nextauth', 'nextauth.get-session', 'request')[0]).toMatchObject({ requests: 1, '5xx': 1 });
    const [calls] = recordOf('nextauth', 'nextauth.get-session', 'upstream');
    expect(calls).toMatchObject({ upstreamCalls: 1, upstreamAttempts: 3, upstreamTimeouts: [1, 1, 1], upstream5xx: [0, 0, 0] });
    expect(directiveOf(calls!, 'upstream')?.Dimensions).toEqual([['family', 'operation'], ['family']]);
  });
});
