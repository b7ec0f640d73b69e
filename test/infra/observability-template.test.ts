import { describe, expect, it } from 'vitest';
import { redriveOnly } from '#lib/jobs/dead-letter';
import { runBatch } from '#lib/jobs/runner';
import { publishMetrics, recordRequest, recordUpstreamAttempt, recordUpstreamCall } from '#lib/metrics';
import { lambdaContext, sqsEvent } from '#local/events';
import { readServerlessConfig } from '#local/routes';
import { ALARM_PARAMS_IAM, LIMITS_PARAMS } from '../support/global-setup.ts';
import { parsedLogs } from '../support/logs.ts';
import { type CfnResource, packagedTemplate, resourcesOfType, type Template } from '../support/template.ts';

/**
 * The alarms and the dashboard of the packaged template, in both packages the global setup writes:
 * the default one (no alarm topic, default thresholds) and the IAM-mode one (a topic and thresholds
 * of its own, ALARM_PARAMS_IAM).
 */

type Conditions = Record<string, unknown>;
const defaults = readServerlessConfig().params?.default ?? {};
const NAMESPACE = 'authgate/test';

/** Evaluates what conditions here are made of: Fn::Not, Fn::Equals, Condition, literals. */
function evaluate(value: unknown, conditions: Conditions): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const [[fn, args]] = Object.entries(value) as [[string, unknown]];
  if (fn === 'Fn::Not') return !evaluate((args as unknown[])[0], conditions);
  if (fn === 'Fn::Equals') return evaluate((args as unknown[])[0], conditions) === evaluate((args as unknown[])[1], conditions);
  if (fn === 'Condition') return evaluate(conditions[args as string], conditions);
  if (fn === 'Fn::And') return (args as unknown[]).every((a) => evaluate(a, conditions));
  throw new Error(`cannot evaluate ${fn}`);
}

const NO_VALUE = JSON.stringify({ Ref: 'AWS::NoValue' });

/** What a property deploys as, its every `Fn::If` decided; `undefined` for AWS::NoValue. */
function deployed(value: unknown, conditions: Conditions): unknown {
  if (Array.isArray(value)) return value.map((v) => deployed(v, conditions)).filter((v) => v !== undefined);
  if (typeof value !== 'object' || value === null) return value;
  if (JSON.stringify(value) === NO_VALUE) return undefined;
  const args = (value as { 'Fn::If'?: [string, unknown, unknown] })['Fn::If'];
  if (args) return deployed(evaluate(conditions[args[0]], conditions) ? args[1] : args[2], conditions);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deployed(v, conditions)]));
}

/** Whether a resource is created (its Condition, if any, holds). */
const created = (resource: CfnResource | undefined, conditions: Conditions) =>
  resource !== undefined && (resource.Condition === undefined || evaluate(conditions[resource.Condition], conditions) === true);

const MODES = [
  {
    callerAuth: 'jwt' as const,
    topic: undefined,
    thresholds: {
      apiErrorRate: Number(defaults.apiErrorRateAlarmPercent),
      apiLatency: Number(defaults.apiLatencyP99AlarmMs),
      functionErrors: Number(defaults.functionErrorsAlarmThreshold),
      functionThrottles: Number(defaults.functionThrottlesAlarmThreshold),
      upstreamFailures: Number(defaults.upstreamFailuresAlarmThreshold),
    },
  },
  {
    callerAuth: 'iam' as const,
    topic: ALARM_PARAMS_IAM.jobAlarmTopicArn,
    thresholds: {
      apiErrorRate: Number(ALARM_PARAMS_IAM.apiErrorRateAlarmPercent),
      apiLatency: Number(ALARM_PARAMS_IAM.apiLatencyP99AlarmMs),
      functionErrors: Number(ALARM_PARAMS_IAM.functionErrorsAlarmThreshold),
      functionThrottles: Number(ALARM_PARAMS_IAM.functionThrottlesAlarmThreshold),
      upstreamFailures: Number(ALARM_PARAMS_IAM.upstreamFailuresAlarmThreshold),
    },
  },
];

interface MetricStat {
  Id: string;
  Expression?: string;
  MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions: Array<{ Name: string; Value: unknown }> }; Stat: string };
  ReturnData?: boolean;
}
const metricsOf = (alarm: CfnResource) => (alarm.Properties.Metrics ?? []) as MetricStat[];

/** The metric names the gateway really writes: its recorders and one real job batch, run here. */
async function emittedMetricNames(): Promise<Set<string>> {
  // Put back after: the packaged files share one process (test/support/packaged-leaks.ts).
  const previous = process.env.METRICS_NAMESPACE;
  process.env.METRICS_NAMESPACE = NAMESPACE;
  try {
    recordRequest({ family: 'svix', operation: 'svix.logout' }, 204, 3);
    recordUpstreamAttempt('svix.logout', 204, 2);
    recordUpstreamCall('svix.logout', 1);
    publishMetrics();
    const job = { kind: 'expire-all' as const, upstream: { expireAll: async () => undefined } };
    await runBatch(job, sqsEvent([JSON.stringify({ appId: 'app_1' })]).Records, lambdaContext(), {
      concurrency: 1,
      startMarginMs: 0,
      finishMarginMs: 0,
      deadLetter: redriveOnly,
    });
  } finally {
    if (previous === undefined) delete process.env.METRICS_NAMESPACE;
    else process.env.METRICS_NAMESPACE = previous;
  }
  const records = parsedLogs().filter((l) => l._aws);
  return new Set(
    records.flatMap((r) => (r._aws as { CloudWatchMetrics: Array<{ Metrics: Array<{ Name: string }> }> }).CloudWatchMetrics[0]!.Metrics.map((m) => m.Name)),
  );
}

describe.each(MODES)('packaged template ($callerAuth): alarms and dashboard', ({ callerAuth, topic, thresholds }) => {
  const template = packagedTemplate(callerAuth) as Template & { Conditions?: Conditions };
  const conditions = template.Conditions ?? {};
  const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm');
  const functions = resourcesOfType(template, 'AWS::Lambda::Function').map(([id]) => id);
  const alarmOn = (namespace: string, metric: string, dimension: unknown) =>
    alarms.filter(
      ([, a]) =>
        a.Properties.Namespace === namespace && a.Properties.MetricName === metric && JSON.stringify(a.Properties.Dimensions) === JSON.stringify([dimension]),
    );

  it('has the thresholds it was packaged with, and defaults that make sense', () => {
    expect(Object.values(thresholds).every((t) => Number.isFinite(t) && t > 0)).toBe(true);
  });

  it('gives every function an Errors and a Throttles alarm on its own metrics, with the threshold parameters', () => {
    expect(functions).toHaveLength(Object.keys(readServerlessConfig().functions).length);
    for (const fn of functions) {
      for (const [metric, threshold] of [
        ['Errors', thresholds.functionErrors],
        ['Throttles', thresholds.functionThrottles],
      ] as const) {
        const found = alarmOn('AWS/Lambda', metric, { Name: 'FunctionName', Value: { Ref: fn } });
        expect(found, `${fn} ${metric}`).toHaveLength(1);
        expect(found[0]![1].Properties).toMatchObject({ Statistic: 'Sum', Threshold: threshold, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
      }
    }
  });

  it("alarms on the HTTP API's 5xx rate (5xx / requests) and its p99 latency", () => {
    expect(template.Resources.HttpApi?.Type).toBe('AWS::ApiGatewayV2::Api');
    const api = { Name: 'ApiId', Value: { Ref: 'HttpApi' } };
    const rate = alarms.filter(([, a]) => metricsOf(a).some((m) => m.MetricStat?.Metric.MetricName === '5xx'));
    expect(rate).toHaveLength(1);
    const metrics = metricsOf(rate[0]![1]);
    const byId = Object.fromEntries(metrics.map((m) => [m.Id, m]));
    const returned = metrics.filter((m) => m.ReturnData !== false);
    expect(returned).toHaveLength(1);
    const [numerator, denominator] = (returned[0]!.Expression ?? '').match(/\w+(?=\s*\/)|(?<=\/\s*)\w+/g) ?? [];
    expect(byId[numerator!]?.MetricStat?.Metric).toEqual({ Namespace: 'AWS/ApiGateway', MetricName: '5xx', Dimensions: [api] });
    expect(byId[denominator!]?.MetricStat?.Metric).toEqual({ Namespace: 'AWS/ApiGateway', MetricName: 'Count', Dimensions: [api] });
    expect(returned[0]!.Expression).toMatch(/^100 \* \w+ \/ \w+$/);
    // A parameter given on the command line arrives as a string, which CloudFormation takes for a number.
    expect(Number(rate[0]![1].Properties.Threshold)).toBe(thresholds.apiErrorRate);

    const latency = alarmOn('AWS/ApiGateway', 'Latency', api);
    expect(latency).toHaveLength(1);
    expect(latency[0]![1].Properties).toMatchObject({ ExtendedStatistic: 'p99', ComparisonOperator: 'GreaterThanThreshold' });
    expect(Number(latency[0]![1].Properties.Threshold)).toBe(thresholds.apiLatency);
  });

  it.each(['svix', 'nextauth'])('alarms on %s upstream 5xx, timeouts and connection failures from the gateway metrics', (family) => {
    const forFamily = alarms.filter(([, a]) =>
      metricsOf(a).some(
        (m) =>
          m.MetricStat?.Metric.Namespace === NAMESPACE &&
          JSON.stringify(m.MetricStat.Metric.Dimensions) === JSON.stringify([{ Name: 'family', Value: family }]),
      ),
    );
    expect(forFamily).toHaveLength(1);
    const metrics = metricsOf(forFamily[0]![1]);
    const summed = metrics.find((m) => m.ReturnData !== false)?.Expression ?? '';
    const named = Object.fromEntries(metrics.filter((m) => m.MetricStat).map((m) => [m.MetricStat!.Metric.MetricName, m.Id]));
    for (const metric of ['upstream5xx', 'upstreamTimeouts', 'upstreamConnectionErrors']) expect(summed.split(/\s*\+\s*/)).toContain(named[metric]);
    expect(Number(forFamily[0]![1].Properties.Threshold)).toBe(thresholds.upstreamFailures);
    // The namespace the functions write to.
    for (const fn of functions) {
      expect((template.Resources[fn]!.Properties.Environment as { Variables: Record<string, unknown> }).Variables.METRICS_NAMESPACE).toBe(NAMESPACE);
    }
  });

  it('keeps both dead-letter queue alarms', () => {
    for (const dlq of ['LogoutDeadLetterQueue', 'ExpireAllDeadLetterQueue']) {
      expect(alarmOn('AWS/SQS', 'ApproximateNumberOfMessagesVisible', { Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } })).toHaveLength(1);
    }
  });

  it(
    topic ? 'makes every alarm notify the one SNS topic, when it fires and when it clears' : "makes every alarm notify the stack's own topic, created for them",
    () => {
      expect(alarms.length).toBe(2 * functions.length + 6);
      const expected = topic ? [topic] : [{ Ref: 'AlarmTopic' }];
      for (const [id, alarm] of alarms) {
        expect(deployed(alarm.Properties.AlarmActions, conditions), id).toEqual(expected);
        expect(deployed(alarm.Properties.OKActions, conditions), id).toEqual(expected);
        expect(alarm.Properties.InsufficientDataActions, id).toBeUndefined();
        expect(alarm.Properties.AlarmDescription, id).toContain('docs/operations.md');
      }
      expect(new Set(alarms.map(([, a]) => a.Properties.AlarmName)).size).toBe(alarms.length);
      expect(template.Resources.AlarmTopic?.Type).toBe('AWS::SNS::Topic');
      expect(created(template.Resources.AlarmTopic, conditions)).toBe(topic === undefined);
      expect(deployed(template.Outputs?.AlarmTopicArn?.Value, conditions)).toEqual(expected[0]);
    },
  );

  it('subscribes no e-mail address unless alarmEmail is given', () => {
    expect(created(template.Resources.AlarmEmailSubscription, conditions)).toBe(false);
  });

  describe('the dashboard', () => {
    const dashboards = resourcesOfType(template, 'AWS::CloudWatch::Dashboard');
    const body = (dashboards[0]?.[1].Properties.DashboardBody as { 'Fn::Sub'?: string } | undefined)?.['Fn::Sub'] ?? '';
    const references = [...body.matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1]!);
    const substituted = body.replace(/\$\{([^}]*)\}/g, (_, ref: string) => `sub(${ref})`);

    it('is one Fn::Sub over JSON that is valid after substitution', () => {
      expect(dashboards).toHaveLength(1);
      expect(body.length).toBeGreaterThan(100);
      expect(() => JSON.parse(substituted)).not.toThrow();
      expect((JSON.parse(substituted) as { widgets: unknown[] }).widgets.length).toBeGreaterThan(5);
    });

    it('references only resources and attributes of this template', () => {
      const attributes: Record<string, string[]> = { 'AWS::CloudWatch::Alarm': ['Arn'], 'AWS::SQS::Queue': ['QueueName', 'Arn'] };
      for (const ref of references) {
        if (ref.startsWith('AWS::')) {
          expect(['AWS::Region', 'AWS::StackName']).toContain(ref);
          continue;
        }
        const [logicalId, attribute] = ref.split('.');
        const resource = template.Resources[logicalId!];
        expect(resource, ref).toBeDefined();
        if (attribute) expect(attributes[resource!.Type], ref).toContain(attribute);
      }
    });

    it('shows every function, the API, both dead-letter queues and every alarm', () => {
      for (const fn of functions) {
        expect(substituted).toContain(`["AWS/Lambda","Errors","FunctionName","sub(${fn})"`);
        expect(substituted).toContain(`["AWS/Lambda","Throttles","FunctionName","sub(${fn})"`);
      }
      expect(substituted).toContain('"ApiId","sub(HttpApi)"');
      for (const dlq of ['LogoutDeadLetterQueue', 'ExpireAllDeadLetterQueue']) expect(substituted).toContain(`"QueueName","sub(${dlq}.QueueName)"`);
      for (const [id] of alarms) expect(references).toContain(`${id}.Arn`);
    });

    it('charts only metrics the gateway writes, in the namespace its functions write to', async () => {
      const emitted = await emittedMetricNames();
      const widgets = (JSON.parse(substituted) as { widgets: Array<{ properties: { metrics?: unknown[][] } }> }).widgets;
      const ours = widgets.flatMap((w) => w.properties.metrics ?? []).filter((m) => m[0] === NAMESPACE);
      const searched = [...substituted.matchAll(/MetricName=\\"(\w+)\\"/g)].map((m) => m[1]!);
      const alarmed = alarms.flatMap(([, a]) => metricsOf(a)).filter((m) => m.MetricStat?.Metric.Namespace === NAMESPACE);
      expect(ours.length + searched.length + alarmed.length).toBeGreaterThan(10);
      for (const name of [...ours.map((m) => m[1] as string), ...searched, ...alarmed.map((m) => m.MetricStat!.Metric.MetricName)]) {
        expect(emitted, name).toContain(name);
      }
      const searchedNamespaces = [...substituted.matchAll(/SEARCH\('\{\\"([^\\]+)\\"/g)].map((m) => m[1]);
      expect(searchedNamespaces.length).toBeGreaterThan(3);
      expect(new Set(searchedNamespaces)).toEqual(new Set([NAMESPACE]));
    });
  });
});

describe('alarmEmail (the limits package): an e-mail subscription to the own topic', () => {
  const template = packagedTemplate('limits') as Template & { Conditions?: Conditions };
  const conditions = template.Conditions ?? {};

  it('creates the own topic and subscribes the address to it', () => {
    expect(created(template.Resources.AlarmTopic, conditions)).toBe(true);
    const subscription = template.Resources.AlarmEmailSubscription;
    expect(created(subscription, conditions)).toBe(true);
    expect(subscription?.Properties).toEqual({ TopicArn: { Ref: 'AlarmTopic' }, Protocol: 'email', Endpoint: LIMITS_PARAMS.alarmEmail });
  });

  it('sends every alarm there', () => {
    for (const [id, alarm] of resourcesOfType(template, 'AWS::CloudWatch::Alarm')) {
      expect(deployed(alarm.Properties.AlarmActions, conditions), id).toEqual([{ Ref: 'AlarmTopic' }]);
    }
  });
});

describe('the alarm topic parameter', () => {
  it('falls back to the older jobAlarmTopicArn, so stages deployed with it keep their DLQ alarm actions, now for every alarm', () => {
    // The iam package gives the topic only as jobAlarmTopicArn (test/support/global-setup.ts).
    const template = packagedTemplate('iam') as Template & { Conditions?: Conditions };
    const conditions = template.Conditions ?? {};
    expect(evaluate(conditions.HasAlarmTopic, conditions)).toBe(true);
    expect(JSON.stringify(conditions.HasAlarmTopic)).toContain(ALARM_PARAMS_IAM.jobAlarmTopicArn);
    expect(created(template.Resources.AlarmTopic, conditions)).toBe(false);
  });
});
