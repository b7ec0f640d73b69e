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
 * Values are buffered until the work unit ends: an HTTP invocation's go into its audit record
 * (`takeMetrics`, one line per invocation); a job batch's are written as one record per dimension
 * group (`publishMetrics`); any metric is written as soon as it holds 100 values, EMF's limit per
 * record.
 *
 * Why not Powertools Metrics (@aws-lambda-powertools/metrics 2.36.0, measured on this project's
 * machine with a minimal handler that records and publishes one metric, in fresh processes, 41 runs
 * each, interleaved): it bundles to 16.2 KB minified (5.3 KB deflated) and adds 4.2 ms to require()
 * at best (7.9 ms CPU at the median, under load) over an empty handler; this module was 2.7 KB
 * (1.4 KB deflated) and added 0.9 ms (0.3 ms CPU); with its warm-path buffers (below) it is 5.0 KB
 * minified (2.1 KB deflated). Every function pays that on each cold start,
 * against the cold-start budget of docs/performance.md. Powertools
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

/** A number as JSON writes it (a non-finite one is `null`, as `JSON.stringify` would have it). */
const jsonNumber = (value: number): string => (Number.isFinite(value) ? String(value) : 'null');

/** One metric of a group, with its buffered values. */
interface Metric {
  name: string;
  unit: Unit;
  values: number[];
  /** `"name":`, serialised once. */
  key: string;
}

/** What a group had buffered, serialised: its metric values as JSON members, and its directive. */
interface Taken {
  names: string[];
  values: string;
  directive: string;
}

/**
 * One dimension group's buffer. Groups live as long as the container (a function records a handful:
 * its operation, its upstream operations, a job's counts) and are emptied when written; the hot
 * paths (an HTTP invocation, an upstream call) hold their metrics' buffers and push to them.
 *
 * Records are assembled from JSON pieces rather than serialised as one object: the directive (the
 * namespace, dimension sets and metric names: the same constants on every record) is serialised
 * once and reused. Measured on this project's machine (Node 22): `JSON.stringify` of an HTTP
 * invocation's two directives took 3.9 µs of the 6.7 µs its whole record took, on every request.
 */
class Group {
  private readonly metrics: Metric[] = [];
  private directive?: { namespace: string; names: string[]; json: string };

  constructor(
    readonly dimensions: MetricDimensions,
    /** Also published by `family` alone. */
    private readonly byFamily: boolean,
  ) {}

  /** The buffer of metric `name`, made on first use. */
  metric(name: string, unit: Unit): Metric {
    let metric = this.metrics.find((m) => m.name === name);
    if (!metric) {
      metric = { name, unit, values: [], key: `${JSON.stringify(name)}:` };
      this.metrics.push(metric);
    }
    return metric;
  }

  /** What is buffered, serialised; empties the buffer. */
  take(namespace: string): Taken | undefined {
    const metrics = this.metrics;
    let values = '';
    let count = 0;
    for (let i = 0; i < metrics.length; i++) {
      const { key, values: list } = metrics[i] as Metric;
      if (!list.length) continue;
      values += `${count++ ? ',' : ''}${key}${list.length === 1 ? jsonNumber(list[0] as number) : `[${list.map(jsonNumber).join(',')}]`}`;
    }
    if (!count) return undefined;
    // Usually every metric of the group has values: then the names, and the directive, are the last ones.
    const names = count === metrics.length ? this.allNames() : metrics.filter((m) => m.values.length).map((m) => m.name);
    for (let i = 0; i < metrics.length; i++) (metrics[i] as Metric).values.length = 0;
    return { names, values, directive: this.directiveJson(namespace, names) };
  }

  private all?: string[];
  private allNames(): string[] {
    if (this.all?.length !== this.metrics.length) this.all = this.metrics.map((m) => m.name);
    return this.all;
  }

  private directiveJson(namespace: string, names: string[]): string {
    const cached = this.directive;
    if (cached?.namespace === namespace && (cached.names === names || sameNames(cached.names, names))) return cached.json;
    const json = JSON.stringify({
      Namespace: namespace,
      Dimensions: this.byFamily ? [['family', 'operation'], ['family']] : [['family', 'operation']],
      Metrics: names.map((Name) => ({ Name, Unit: this.metrics.find((m) => m.name === Name)?.unit })),
    });
    this.directive = { namespace, names, json };
    return json;
  }
}

function sameNames(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function shareAName(a: string[], b: string[]): boolean {
  for (const x of a) for (const y of b) if (x === y) return true;
  return false;
}

const groups = new Map<string, Group>();

function groupOf(dimensions: MetricDimensions, byFamily: boolean): Group {
  const key = `${dimensions.family}\u0000${dimensions.operation}${byFamily ? '\u0000f' : ''}`;
  let group = groups.get(key);
  if (!group) {
    group = new Group({ family: dimensions.family, operation: dimensions.operation }, byFamily);
    groups.set(key, group);
  }
  return group;
}

/**
 * METRICS_NAMESPACE, looked up per use (config.ts reads it once per container; tests reset it). serverless.yml sets
 * it for every function; unset, as in the local API and `npm run job`, metrics are off: a terminal
 * has no use for EMF records.
 */
const namespace = () => setting(METRICS_NAMESPACE);

/**
 * The EMF part of a record someone else writes (lib/audit.ts): the dimension values, to be members
 * of the record, and the metric values and `_aws` metadata as serialised JSON members to append.
 */
export interface EmfMembers {
  dimensions: MetricDimensions;
  json: string;
}

function membersOf(dimensions: MetricDimensions, taken: Taken[], now: number): EmfMembers {
  let values = '';
  let directives = '';
  for (let i = 0; i < taken.length; i++) {
    const t = taken[i] as Taken;
    values += i ? `,${t.values}` : t.values;
    directives += i ? `,${t.directive}` : t.directive;
  }
  return { dimensions, json: `${values},"_aws":{"Timestamp":${jsonNumber(now)},"CloudWatchMetrics":[${directives}]}` };
}

function write(group: Group, now: number, ns: string): void {
  const taken = group.take(ns);
  if (!taken) return;
  const { dimensions, json } = membersOf(group.dimensions, [taken], now);
  writeRecord({ msg: 'metrics', family: dimensions.family, operation: dimensions.operation }, json);
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
  const group = groupOf(dimensions, options.byFamily ?? false);
  push(group, group.metric(name, unit), value, ns);
}

/** Writes every buffered metric, one EMF record per dimension group, and empties the buffer. */
export function publishMetrics(now = Date.now()): void {
  const ns = namespace();
  if (ns === undefined) return;
  for (const group of groups.values()) write(group, now, ns);
}

/**
 * The buffered metrics of `dimensions` (its groups with and without the `family`-only set), for a
 * record someone else writes: the HTTP wrapper puts an invocation's metrics in its audit record,
 * one log line per invocation instead of three (CloudWatch Logs bills by the byte ingested, and
 * each line is serialised and scrubbed). EMF allows several directives in one record; two groups
 * sharing a metric name are written apart. Any other group still buffered is written as its own
 * record. `undefined` without a namespace or anything buffered.
 */
export function takeMetrics(dimensions: MetricDimensions, now = Date.now()): EmfMembers | undefined {
  const ns = namespace();
  if (ns === undefined) return undefined;
  const taken: Taken[] = [];
  for (const group of groups.values()) {
    if (group.dimensions.family !== dimensions.family || group.dimensions.operation !== dimensions.operation) {
      write(group, now, ns);
      continue;
    }
    const t = group.take(ns);
    if (!t) continue;
    if (taken.some((o) => shareAName(o.names, t.names))) {
      const own = membersOf(dimensions, [t], now);
      writeRecord({ msg: 'metrics', family: dimensions.family, operation: dimensions.operation }, own.json);
    } else taken.push(t);
  }
  return taken.length ? membersOf(dimensions, taken, now) : undefined;
}

/** Buffers `value`; a metric holding as many values as one record may carry is written at once. */
function push(group: Group, metric: Metric, value: number, ns: string): void {
  if (metric.values.push(value) >= MAX_VALUES) write(group, Date.now(), ns);
}

/** An HTTP operation's request metrics. */
interface RequestMeter {
  group: Group;
  requests: Metric;
  clientErrors: Metric;
  serverErrors: Metric;
  duration: Metric;
}
const requestMeters = new Map<string, RequestMeter>();

function requestMeter(dimensions: MetricDimensions): RequestMeter {
  const key = `${dimensions.family}\u0000${dimensions.operation}`;
  let meter = requestMeters.get(key);
  if (!meter) {
    const group = groupOf(dimensions, false);
    meter = {
      group,
      requests: group.metric('requests', 'Count'),
      clientErrors: group.metric('4xx', 'Count'),
      serverErrors: group.metric('5xx', 'Count'),
      duration: group.metric('duration', 'Milliseconds'),
    };
    requestMeters.set(key, meter);
  }
  return meter;
}

/** One HTTP invocation: counted, its status class (no status: the function failed, a 5xx), its duration. */
export function recordRequest(dimensions: MetricDimensions, status: number | undefined, durationMs: number): void {
  requestRecorder(dimensions)(status, durationMs);
}

/**
 * `recordRequest` for one operation, its buffers looked up once: the HTTP wrapper makes one per
 * handler.
 */
export function requestRecorder(dimensions: MetricDimensions): (status: number | undefined, durationMs: number) => void {
  const meter = requestMeter(dimensions);
  return (status, durationMs) => {
    const ns = namespace();
    if (ns === undefined) return;
    recordWith(meter, ns, status, durationMs);
  };
}

function recordWith({ group, requests, clientErrors, serverErrors, duration }: RequestMeter, ns: string, status: number | undefined, durationMs: number): void {
  const code = status ?? 500;
  push(group, requests, 1, ns);
  push(group, clientErrors, code >= 400 && code < 500 ? 1 : 0, ns);
  push(group, serverErrors, code >= 500 ? 1 : 0, ns);
  push(group, duration, durationMs, ns);
}

/** An upstream operation's metrics, by operation and by family alone (`svix.expire-all` → family `svix`). */
interface UpstreamMeter {
  group: Group;
  status2xx: Metric;
  status4xx: Metric;
  status5xx: Metric;
  timeouts: Metric;
  connectionErrors: Metric;
  latency: Metric;
  calls: Metric;
  attempts: Metric;
  retries: Metric;
}
const upstreamMeters = new Map<string, UpstreamMeter>();

function upstreamMeter(operation: string): UpstreamMeter {
  let meter = upstreamMeters.get(operation);
  if (!meter) {
    const group = groupOf({ family: operation.slice(0, operation.indexOf('.')) || operation, operation }, true);
    meter = {
      group,
      status2xx: group.metric('upstream2xx', 'Count'),
      status4xx: group.metric('upstream4xx', 'Count'),
      status5xx: group.metric('upstream5xx', 'Count'),
      timeouts: group.metric('upstreamTimeouts', 'Count'),
      connectionErrors: group.metric('upstreamConnectionErrors', 'Count'),
      latency: group.metric('upstreamLatency', 'Milliseconds'),
      calls: group.metric('upstreamCalls', 'Count'),
      attempts: group.metric('upstreamAttempts', 'Count'),
      retries: group.metric('upstreamRetries', 'Count'),
    };
    upstreamMeters.set(operation, meter);
  }
  return meter;
}

/** What one upstream attempt came to: an HTTP status, or a transport failure. */
export type AttemptOutcome = number | 'timeout' | 'unreachable' | 'invalid';

/**
 * One upstream attempt: its status class or failure, and its latency. Every class is written
 * (0 or 1), so the per-family alarms see zeros, not gaps, while there is traffic. A 1xx/3xx or a
 * request Node refused to send counts only as an attempt.
 */
export function recordUpstreamAttempt(operation: string, outcome: AttemptOutcome, latencyMs: number): void {
  const ns = namespace();
  if (ns === undefined) return;
  const m = upstreamMeter(operation);
  const status = typeof outcome === 'number' ? outcome : 0;
  push(m.group, m.status2xx, status >= 200 && status < 300 ? 1 : 0, ns);
  push(m.group, m.status4xx, status >= 400 && status < 500 ? 1 : 0, ns);
  push(m.group, m.status5xx, status >= 500 ? 1 : 0, ns);
  push(m.group, m.timeouts, outcome === 'timeout' ? 1 : 0, ns);
  push(m.group, m.connectionErrors, outcome === 'unreachable' ? 1 : 0, ns);
  push(m.group, m.latency, latencyMs, ns);
}

/** One upstream call, retries included. */
export function recordUpstreamCall(operation: string, attempts: number): void {
  const ns = namespace();
  if (ns === undefined) return;
  const m = upstreamMeter(operation);
  push(m.group, m.calls, 1, ns);
  push(m.group, m.attempts, attempts, ns);
  push(m.group, m.retries, Math.max(0, attempts - 1), ns);
}

/** Counts of one job batch (messages and targets by outcome), under `family: jobs`. */
export function recordJobBatch(operation: string, counts: Record<string, number>): void {
  for (const [name, value] of Object.entries(counts)) addMetric({ family: 'jobs', operation }, name, 'Count', value);
}
