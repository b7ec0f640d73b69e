import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { addMetric, publishMetrics, recordRequest, recordUpstreamAttempt, recordUpstreamCall } from '#lib/metrics';
import { parsedLogs } from '../support/logs.ts';

interface Directive {
  Namespace: string;
  Dimensions: string[][];
  Metrics: Array<{ Name: string; Unit: string }>;
}
type EmfRecord = Record<string, unknown> & { _aws: { Timestamp: number; CloudWatchMetrics: Directive[] } };

const records = () => parsedLogs().filter((l): l is EmfRecord => l._aws !== undefined);

/** What CloudWatch requires of an EMF record: every declared dimension and metric is a root-level member. */
function expectValidEmf(record: EmfRecord): void {
  expect(typeof record._aws.Timestamp).toBe('number');
  for (const directive of record._aws.CloudWatchMetrics) {
    expect(directive.Metrics.length).toBeLessThanOrEqual(100);
    for (const set of directive.Dimensions) for (const name of set) expect(typeof record[name]).toBe('string');
    for (const { Name, Unit } of directive.Metrics) {
      expect(['Count', 'Milliseconds']).toContain(Unit);
      const value = record[Name];
      const values = Array.isArray(value) ? value : [value];
      expect(values.length).toBeLessThanOrEqual(100);
      for (const v of values) expect(typeof v).toBe('number');
    }
  }
}

beforeEach(() => {
  process.env.METRICS_NAMESPACE = 'authgate/unit';
});
afterEach(() => {
  delete process.env.METRICS_NAMESPACE;
  publishMetrics();
});

describe('metrics', () => {
  it('writes an HTTP invocation as one EMF record by family and operation, in the configured namespace', () => {
    recordRequest({ family: 'svix', operation: 'svix.app-portal-access' }, 422, 12);
    expect(records()).toHaveLength(0);
    publishMetrics(1_700_000_000_000);
    const [record] = records();
    expectValidEmf(record!);
    expect(record).toMatchObject({ family: 'svix', operation: 'svix.app-portal-access', requests: 1, '4xx': 1, '5xx': 0, duration: 12 });
    expect(record!._aws).toEqual({
      Timestamp: 1_700_000_000_000,
      CloudWatchMetrics: [
        {
          Namespace: 'authgate/unit',
          Dimensions: [['family', 'operation']],
          Metrics: [
            { Name: 'requests', Unit: 'Count' },
            { Name: '4xx', Unit: 'Count' },
            { Name: '5xx', Unit: 'Count' },
            { Name: 'duration', Unit: 'Milliseconds' },
          ],
        },
      ],
    });
  });

  it('counts an invocation that produced no response as a 5xx', () => {
    recordRequest({ family: 'nextauth', operation: 'nextauth.logout' }, undefined, 3);
    publishMetrics();
    expect(records()[0]).toMatchObject({ '4xx': 0, '5xx': 1 });
  });

  it('publishes upstream metrics by operation and by family alone, one value per attempt', () => {
    recordUpstreamAttempt('nextauth.get-session', 503, 40);
    recordUpstreamAttempt('nextauth.get-session', 'timeout', 400);
    recordUpstreamAttempt('nextauth.get-session', 200, 20);
    recordUpstreamCall('nextauth.get-session', 3);
    recordUpstreamAttempt('svix.logout', 'unreachable', 1);
    recordUpstreamCall('svix.logout', 1);
    publishMetrics();
    const byOperation = Object.fromEntries(records().map((r) => [r.operation, r]));
    const session = byOperation['nextauth.get-session']!;
    expectValidEmf(session);
    expect(session._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['family', 'operation'], ['family']]);
    expect(session).toMatchObject({
      family: 'nextauth',
      upstream2xx: [0, 0, 1],
      upstream5xx: [1, 0, 0],
      upstreamTimeouts: [0, 1, 0],
      upstreamConnectionErrors: [0, 0, 0],
      upstreamLatency: [40, 400, 20],
      upstreamCalls: 1,
      upstreamAttempts: 3,
      upstreamRetries: 2,
    });
    expect(byOperation['svix.logout']).toMatchObject({ family: 'svix', upstreamConnectionErrors: 1, upstreamRetries: 0 });
  });

  it('writes a metric as soon as it holds 100 values, the most one EMF record may carry', () => {
    for (let i = 0; i < 250; i++) addMetric({ family: 'jobs', operation: 'job.logout' }, 'targetsDone', 'Count', 1);
    expect(records().map((r) => (r.targetsDone as number[]).length)).toEqual([100, 100]);
    publishMetrics();
    expect(records().map((r) => (Array.isArray(r.targetsDone) ? r.targetsDone.length : 1))).toEqual([100, 100, 50]);
    for (const r of records()) expectValidEmf(r);
  });

  it('writes nothing without a namespace (the local API, npm run job)', () => {
    delete process.env.METRICS_NAMESPACE;
    recordRequest({ family: 'svix', operation: 'svix.logout' }, 204, 5);
    publishMetrics();
    expect(records()).toHaveLength(0);
  });

  it('writes metrics whatever the log level', async () => {
    vi.resetModules();
    process.env.LOG_LEVEL = 'error';
    try {
      const lines: string[] = [];
      const { setLogSink, log } = await import('#lib/log');
      setLogSink((line) => lines.push(line));
      const metrics = await import('#lib/metrics');
      log.info('not at this level');
      metrics.recordRequest({ family: 'svix', operation: 'svix.logout' }, 204, 5);
      metrics.publishMetrics();
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'metrics', requests: 1 });
    } finally {
      delete process.env.LOG_LEVEL;
    }
  });
});
