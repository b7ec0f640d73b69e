import { METRICS_NAMESPACE, setting } from './config.ts';
import { writeRecord } from './log.ts';

/**
 * The gateway's CloudWatch metrics, as embedded metric format (EMF) records: JSON log lines with an
 * `_aws` member that CloudWatch Logs turns into metrics, with no agent, no API call and nothing
 * added to a request's latency
 * (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
 *
 * One namespace per deployment, METRICS_NAMESPACE (`authgate/<stage>`, so stages sharing an account
 * stay apart; unset: no metrics), and two dimensions: `family` (`svix`, `nextauth`, `jobs`) and `operation`
 * (`svix.app-portal-access`, `nextauth.logout`, `job.logout`, ...). Upstream metrics are published
 * by `family` alone as well: the per-family upstream alarms watch those.
 *
 * | metric                                     | unit         | recorded by                        |
 * |--------------------------------------------|--------------|------------------------------------|
 * | `requests`, `4xx`, `5xx`                   | Count        | every HTTP invocation (lib/http.ts)|
 * | `duration`                                 | Milliseconds | every HTTP invocation              |
 * | `upstreamCalls`, `upstreamAttempts`, `upstreamRetries` | Count | every upstream call (retry.ts) |
 * | `upstream2xx`, `upstream4xx`, `upstream5xx`, `upstreamTimeouts`, `upstreamConnectionErrors` | Count | every upstream attempt |
 * | `upstreamLatency`                          | Milliseconds | every upstream attempt             |
 * | the job summary's counts: `messages`, `done`, `retried`, `deadLettered`, `targetsDone`, ... | Count | every job batch (jobs/runner.ts) |
 *
 * Values are buffered and written as one record per dimension group when the work unit ends
 * (`publishMetrics`: the HTTP wrapper after each invocation, the job runner after each batch), or
 * as soon as a metric holds 100 values, EMF's limit per record.
 *
 * Why not Powertools Metrics (@aws-lambda-powertools/metrics 2.36.0, measured on this project's
 * machine with a minimal handler that records and publishes one metric, in fresh processes, 41 runs
 * each, interleaved): it bundles to 16.2 KB minified (5.3 KB deflated) and adds 4.2 ms to require()
 * at best (7.9 ms CPU at the median, under load) over an empty handler; this module is 2.7 KB
 * (1.4 KB deflated) and adds 0.9 ms (0.3 ms CPU). Every function pays that on each cold start,
 * against a budget already spent almost entirely on the AWS SDK (README, Performance). Powertools
 * also writes with its own console, past the log sink that scrubs secrets and that the tests read,
 * and adds a `service` dimension to every metric. EMF is one JSON object; this is what it takes.
 */

export type Unit = 'Count' | 'Milliseconds';

export interface MetricDimensions {
  family: string;
  operation: string;
}

/** EMF accepts at most 100 values of one metric in one record. */
const MAX_VALUES = 100;

interface Group {
  dimensions: MetricDimensions;
  /** Also published by `family` alone. */
  byFamily: boolean;
  metrics: Map<string, { unit: Unit; values: number[] }>;
}

const pending = new Map<string, Group>();

/**
 * METRICS_NAMESPACE, read per use, not once (tests set it after modules load). serverless.yml sets
 * it for every function; unset, as in the local API and `npm run job`, metrics are off: a terminal
 * has no use for EMF records.
 */
const namespace = () => setting(METRICS_NAMESPACE);

function write(group: Group, now: number, ns: string): void {
  const names = [...group.metrics.keys()];
  if (!names.length) return;
  const values = Object.fromEntries(
    names.map((name) => {
      const { values: list } = group.metrics.get(name) as { values: number[] };
      return [name, list.length === 1 ? list[0] : list];
    }),
  );
  writeRecord({
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [
        {
          Namespace: ns,
          Dimensions: group.byFamily ? [['family', 'operation'], ['family']] : [['family', 'operation']],
          Metrics: names.map((Name) => ({ Name, Unit: group.metrics.get(Name)?.unit })),
        },
      ],
    },
    msg: 'metrics',
    family: group.dimensions.family,
    operation: group.dimensions.operation,
    ...values,
  });
  group.metrics.clear();
}

/**
 * Buffers one value of a metric; `publishMetrics` writes it.
 *
 * @example
 * addMetric({ family: 'svix', operation: 'svix.logout' }, 'requests', 'Count', 1);
 */
export function addMetric(dimensions: MetricDimensions, name: string, unit: Unit, value: number, options: { byFamily?: boolean } = {}): void {
  const ns = namespace();
  if (ns === undefined) return;
  const byFamily = options.byFamily ?? false;
  const key = `${dimensions.family}\u0000${dimensions.operation}\u0000${byFamily}`;
  let group = pending.get(key);
  if (!group) {
    group = { dimensions, byFamily, metrics: new Map() };
    pending.set(key, group);
  }
  let metric = group.metrics.get(name);
  if (!metric) {
    metric = { unit, values: [] };
    group.metrics.set(name, metric);
  }
  metric.values.push(value);
  if (metric.values.length >= MAX_VALUES) write(group, Date.now(), ns);
}

/** Writes every buffered metric, one EMF record per dimension group, and empties the buffer. */
export function publishMetrics(now = Date.now()): void {
  const ns = namespace();
  if (ns !== undefined) for (const group of pending.values()) write(group, now, ns);
  pending.clear();
}

/** One HTTP invocation: counted, its status class (no status: the function failed, a 5xx), its duration. */
export function recordRequest(dimensions: MetricDimensions, status: number | undefined, durationMs: number): void {
  const code = status ?? 500;
  addMetric(dimensions, 'requests', 'Count', 1);
  addMetric(dimensions, '4xx', 'Count', code >= 400 && code < 500 ? 1 : 0);
  addMetric(dimensions, '5xx', 'Count', code >= 500 ? 1 : 0);
  addMetric(dimensions, 'duration', 'Milliseconds', durationMs);
}

/** `svix.expire-all` → `svix`. */
const upstreamDimensions = (operation: string): MetricDimensions => ({ family: operation.slice(0, operation.indexOf('.')) || operation, operation });

/** What one upstream attempt came to: an HTTP status, or a transport failure. */
export type AttemptOutcome = number | 'timeout' | 'unreachable' | 'invalid';

/**
 * One upstream attempt: its status class or failure, and its latency. Every class is written
 * (0 or 1), so the per-family alarms see zeros, not gaps, while there is traffic. A 1xx/3xx or a
 * request Node refused to send counts only as an attempt.
 */
export function recordUpstreamAttempt(operation: string, outcome: AttemptOutcome, latencyMs: number): void {
  const dimensions = upstreamDimensions(operation);
  const status = typeof outcome === 'number' ? outcome : 0;
  const count = (name: string, hit: boolean) => addMetric(dimensions, name, 'Count', hit ? 1 : 0, { byFamily: true });
  count('upstream2xx', status >= 200 && status < 300);
  count('upstream4xx', status >= 400 && status < 500);
  count('upstream5xx', status >= 500);
  count('upstreamTimeouts', outcome === 'timeout');
  count('upstreamConnectionErrors', outcome === 'unreachable');
  addMetric(dimensions, 'upstreamLatency', 'Milliseconds', latencyMs, { byFamily: true });
}

/** One upstream call, retries included. */
export function recordUpstreamCall(operation: string, attempts: number): void {
  const dimensions = upstreamDimensions(operation);
  addMetric(dimensions, 'upstreamCalls', 'Count', 1, { byFamily: true });
  addMetric(dimensions, 'upstreamAttempts', 'Count', attempts, { byFamily: true });
  addMetric(dimensions, 'upstreamRetries', 'Count', Math.max(0, attempts - 1), { byFamily: true });
}

/** Counts of one job batch (messages and targets by outcome), under `family: jobs`. */
export function recordJobBatch(operation: string, counts: Record<string, number>): void {
  for (const [name, value] of Object.entries(counts)) addMetric({ family: 'jobs', operation }, name, 'Count', value);
}
