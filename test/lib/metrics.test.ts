import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resetConfig } from '#lib/config';
import { addMetric, publishMetrics, recordRequest, recordUpstreamAttempt, recordUpstreamCall, takeMetrics } from '#lib/metrics';
import { logLines, parsedLogs } from '../support/logs.ts';

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

  describe("takeMetrics: an invocation's metrics for its own record", () => {
    const dimensions = { family: 'svix', operation: 'svix.expire-all' };
    /** The members as a record would carry them: the writer's fields, the dimension values, the serialised part. */
    const asRecord = (taken: NonNullable<ReturnType<typeof takeMetrics>>) =>
      JSON.parse(
        `{"msg":"audit","family":${JSON.stringify(taken.dimensions.family)},"operation":${JSON.stringify(taken.dimensions.operation)},${taken.json}}`,
      ) as EmfRecord;

    it('gives the request and its upstream calls as one record with two directives, and writes nothing itself', () => {
      recordUpstreamAttempt('svix.expire-all', 503, 30);
      recordUpstreamAttempt('svix.expire-all', 204, 10);
      recordUpstreamCall('svix.expire-all', 2);
      recordRequest(dimensions, 204, 55);
      const taken = takeMetrics(dimensions, 1_700_000_000_000);
      expect(logLines).toHaveLength(0);
      const record = asRecord(taken!);
      expectValidEmf(record);
      expect(record._aws.Timestamp).toBe(1_700_000_000_000);
      expect(record._aws.CloudWatchMetrics.map((d) => d.Dimensions)).toEqual([[['family', 'operation'], ['family']], [['family', 'operation']]]);
      expect(record).toMatchObject({
        upstream5xx: [1, 0],
        upstream2xx: [0, 1],
        upstreamLatency: [30, 10],
        upstreamRetries: 1,
        requests: 1,
        '4xx': 0,
        duration: 55,
      });
      // Taken means emptied: nothing is left to publish.
      expect(takeMetrics(dimensions)).toBeUndefined();
      publishMetrics();
      expect(records()).toHaveLength(0);
    });

    it("writes another operation's buffered metrics as their own record rather than mixing them in", () => {
      recordUpstreamCall('nextauth.logout', 1);
      recordRequest(dimensions, 204, 5);
      const record = asRecord(takeMetrics(dimensions)!);
      expect(record).not.toHaveProperty('upstreamCalls');
      const [other] = records();
      expect(other).toMatchObject({ msg: 'metrics', family: 'nextauth', operation: 'nextauth.logout', upstreamCalls: 1 });
      expectValidEmf(other!);
    });

    it('gives nothing without a namespace or without anything buffered', () => {
      expect(takeMetrics(dimensions)).toBeUndefined();
      delete process.env.METRICS_NAMESPACE;
      resetConfig();
      recordRequest(dimensions, 204, 5);
      expect(takeMetrics(dimensions)).toBeUndefined();
    });
  });

  it('writes a value JSON cannot hold as null, so the record stays JSON', () => {
    addMetric({ family: 'jobs', operation: 'job.logout' }, 'elapsed', 'Milliseconds', Number.NaN);
    addMetric({ family: 'jobs', operation: 'job.logout' }, 'elapsed', 'Milliseconds', Number.POSITIVE_INFINITY);
    publishMetrics();
    expect(records()[0]).toMatchObject({ elapsed: [null, null] });
  });

  it('names the same metrics in the same order on every record, the directive reused', () => {
    for (let i = 0; i < 3; i++) {
      recordRequest({ family: 'svix', operation: 'svix.logout' }, 204, i);
      publishMetrics();
    }
    const directives = records().map((r) => JSON.stringify(r._aws.CloudWatchMetrics));
    expect(new Set(directives).size).toBe(1);
    expect(records().map((r) => r.duration)).toEqual([0, 1, 2]);
  });
});
