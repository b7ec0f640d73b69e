'use strict';

/**
 * The part of the observability resources that follows the functions (docs/operations.md), generated
 * from serverless.yml's `functions` when osls resolves `${file(resources/observability.cjs)}`, so a
 * new function gets its alarms and its line on the dashboard without anyone writing them:
 *
 * - per function, an Errors and a Throttles alarm (AWS/Lambda), thresholds from stage parameters;
 * - the on-call dashboard (AWS::CloudWatch::Dashboard), its body a Fn::Sub over JSON that names
 *   the real API, functions, queues and alarms of the stack.
 *
 * The static alarms (HTTP API, upstreams) are in observability.yml beside this file; the
 * dead-letter alarms in jobs.cjs with their queues. Every alarm notifies the topic of the
 * stage parameter `alarmTopicArn` when it is set, or else the stack's own AlarmTopic
 * (job-kinds.cjs `alarmActions`, observability.yml).
 */

const { JOBS, jobIds, alarmActions: actions } = require('./job-kinds.cjs');

/** The alarms declared elsewhere, for the dashboard's alarm overview (the template tests check they exist). */
const STATIC_ALARMS = [
  // observability.yml
  'HttpApi5xxRateAlarm',
  'HttpApiLatencyAlarm',
  'SvixUpstreamFailuresAlarm',
  'NextauthUpstreamFailuresAlarm',
  // jobs.cjs
  ...JOBS.map((job) => jobIds(job).dlqAlarm),
];
/** The job queues and their dead-letter queues (jobs.cjs). */
const QUEUES = JOBS.map((job) => ({ ...jobIds(job), label: job.kind }));
const FAMILIES = ['svix', 'nextauth'];

/** osls's logical id of a function's AWS::Lambda::Function (its naming.getNormalizedFunctionName). */
const functionLogicalId = (name) => {
  const normalized = name.replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
  return `${normalized[0].toUpperCase()}${normalized.slice(1)}LambdaFunction`;
};

/** A Fn::Sub reference: `${Resource}` (its Ref), `${Resource.Attr}` (its GetAtt), `${AWS::Region}`. */
const sub = (reference) => `\${${reference}}`;

function functionAlarms({ functions, service, stage, topic, thresholds }) {
  const resources = {};
  for (const name of functions) {
    const logicalId = functionLogicalId(name);
    const base = logicalId.replace(/LambdaFunction$/, '');
    for (const [metric, threshold, meaning] of [
      ['Errors', thresholds.errors, 'failed (an unhandled error, a crash or a timeout: the handlers answer every expected failure themselves)'],
      ['Throttles', thresholds.throttles, 'were throttled (no concurrency left: callers got errors without the function running)'],
    ]) {
      resources[`${base}${metric}Alarm`] = {
        Type: 'AWS::CloudWatch::Alarm',
        Properties: {
          AlarmName: `${service}-${stage}-${name}-${metric.toLowerCase()}`,
          AlarmDescription: `${threshold} or more invocations of ${name} ${meaning} in five minutes (docs/operations.md).`,
          Namespace: 'AWS/Lambda',
          MetricName: metric,
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId } }],
          Statistic: 'Sum',
          Period: 300,
          EvaluationPeriods: 1,
          Threshold: threshold,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          TreatMissingData: 'notBreaching',
          AlarmActions: actions(topic),
          OKActions: actions(topic),
        },
      };
    }
  }
  return resources;
}

/**
 * The dashboard: what on-call looks at first, top to bottom. `${...}` are Fn::Sub references
 * (`${Resource}` its Ref, `${Resource.Attr}` its GetAtt, `${AWS::Region}`); nothing else in
 * the JSON may contain `${`.
 */
function dashboard({ functions, namespace, alarmIds }) {
  const region = sub('AWS::Region');
  const search = (metric, stat, dimensions = 'family,operation') => `SEARCH('{"${namespace}",${dimensions}} MetricName="${metric}"', '${stat}', 300)`;
  const jobSearch = (metrics) =>
    `SEARCH('{"${namespace}",family,operation} family="jobs" (${metrics.map((m) => `MetricName="${m}"`).join(' OR ')})', 'Sum', 300)`;
  const expression = (id, expr) => [{ expression: expr, id }];
  const widget = (x, y, title, metrics, extra = {}) => ({
    type: 'metric',
    x,
    y,
    width: 8,
    height: 6,
    properties: { title, region, view: 'timeSeries', stacked: false, period: 300, metrics, ...extra },
  });
  const perFunction = (metric, stat) => functions.map((name) => ['AWS/Lambda', metric, 'FunctionName', sub(functionLogicalId(name)), { stat, label: name }]);
  const api = (metric, stat, label) => ['AWS/ApiGateway', metric, 'ApiId', sub('HttpApi'), { stat, label }];
  const perQueue = (metric, key) => QUEUES.map((q) => ['AWS/SQS', metric, 'QueueName', sub(`${q[key]}.QueueName`), { stat: 'Maximum', label: q.label }]);

  const widgets = [
    {
      type: 'alarm',
      x: 0,
      y: 0,
      width: 24,
      height: 4,
      properties: { title: 'Alarms', alarms: alarmIds.map((id) => sub(`${id}.Arn`)), sortBy: 'stateUpdatedTimestamp' },
    },
    // Requests and errors, by operation and as API Gateway saw them.
    widget(0, 4, 'Requests by operation', expression('requests', search('requests', 'Sum'))),
    widget(8, 4, '5xx by operation', expression('errors5xx', search('5xx', 'Sum'))),
    widget(16, 4, 'HTTP API: requests, 4xx, 5xx', [api('Count', 'Sum', 'requests'), api('4xx', 'Sum', '4xx'), api('5xx', 'Sum', '5xx')]),
    // Latency.
    widget(0, 10, 'HTTP API latency p50 / p99 (ms)', [
      api('Latency', 'p50', 'p50'),
      api('Latency', 'p99', 'p99'),
      api('IntegrationLatency', 'p99', 'integration p99'),
    ]),
    widget(8, 10, 'Duration p99 by operation (ms)', expression('duration', search('duration', 'p99'))),
    widget(16, 10, '4xx by operation', expression('errors4xx', search('4xx', 'Sum'))),
    // The upstreams.
    widget(
      0,
      16,
      'Upstream failures by family (5xx, timeouts, no connection)',
      FAMILIES.flatMap((family) =>
        ['upstream5xx', 'upstreamTimeouts', 'upstreamConnectionErrors'].map((metric) => [
          namespace,
          metric,
          'family',
          family,
          { stat: 'Sum', label: `${family} ${metric}` },
        ]),
      ),
    ),
    widget(
      8,
      16,
      'Upstream attempts and retries by family',
      FAMILIES.flatMap((family) =>
        ['upstreamAttempts', 'upstreamRetries'].map((metric) => [namespace, metric, 'family', family, { stat: 'Sum', label: `${family} ${metric}` }]),
      ),
    ),
    widget(
      16,
      16,
      'Upstream latency p50 / p99 by family (ms)',
      FAMILIES.flatMap((family) => ['p50', 'p99'].map((stat) => [namespace, 'upstreamLatency', 'family', family, { stat, label: `${family} ${stat}` }])),
    ),
    // The functions.
    widget(0, 22, 'Lambda errors by function', perFunction('Errors', 'Sum')),
    widget(8, 22, 'Lambda throttles by function', perFunction('Throttles', 'Sum')),
    widget(16, 22, 'Lambda concurrent executions by function', perFunction('ConcurrentExecutions', 'Maximum')),
    // The jobs.
    // targetsRateLimited and deferred: a busy upstream (docs/jobs.md#runbook-a-large-job-and-a-busy-upstream).
    widget(
      0,
      28,
      'Job targets by outcome',
      expression('targets', jobSearch(['targetsDone', 'targetsRateLimited', 'targetsTransient', 'targetsPermanent', 'targetsNotStarted'])),
    ),
    widget(8, 28, 'Job messages: done, deferred, retried, dead-lettered', expression('messages', jobSearch(['done', 'deferred', 'retried', 'deadLettered']))),
    widget(16, 28, 'Dead-letter queue depth, oldest queued job (s)', [
      ...perQueue('ApproximateNumberOfMessagesVisible', 'dlq').map((m) => [...m.slice(0, 4), { ...m[4], label: `${m[4].label} DLQ depth` }]),
      ...perQueue('ApproximateAgeOfOldestMessage', 'queue').map((m) => [...m.slice(0, 4), { ...m[4], label: `${m[4].label} oldest (s)`, yAxis: 'right' }]),
    ]),
  ];
  return {
    Type: 'AWS::CloudWatch::Dashboard',
    Properties: {
      // The stack's name: unique per stage and region.
      DashboardName: { 'Fn::Sub': sub('AWS::StackName') },
      DashboardBody: { 'Fn::Sub': JSON.stringify({ widgets }) },
    },
  };
}

module.exports = async ({ resolveConfigurationProperty, resolveVariable }) => {
  const functions = Object.keys((await resolveConfigurationProperty(['functions'])) ?? {});
  const [service, stage, topic, namespace, errors, throttles] = await Promise.all([
    resolveVariable('self:service'),
    resolveVariable('sls:stage'),
    resolveVariable('param:alarmTopicArn'),
    resolveVariable('self:custom.metricsNamespace'),
    resolveVariable('param:functionErrorsAlarmThreshold'),
    resolveVariable('param:functionThrottlesAlarmThreshold'),
  ]);
  const alarms = functionAlarms({ functions, service, stage, topic, thresholds: { errors: Number(errors), throttles: Number(throttles) } });
  const board = dashboard({ functions, namespace, alarmIds: [...STATIC_ALARMS, ...Object.keys(alarms)] });
  return { Resources: { ...alarms, OperationsDashboard: board } };
};
