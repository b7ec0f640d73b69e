import { describe, expect, it } from 'vitest';
import { DETAIL_TYPES, type JobKind } from '#lib/jobs/schema';
import { actionsOf, type CfnResource, packagedTemplate, resourcesOfType, roleOf, type Statement, statementsOf } from '../support/template.ts';

/** The job consumers' part of the CloudFormation template that `serverless package` produced. */
const template = packagedTemplate();
const R = template.Resources;

const JOBS: Array<{ kind: JobKind; fn: string; queue: string; dlq: string; rule: string; alarm: string; secrets: string[] }> = [
  {
    kind: 'logout',
    fn: 'JobLogoutLambdaFunction',
    queue: 'LogoutJobQueue',
    dlq: 'LogoutDeadLetterQueue',
    rule: 'LogoutRequestedRule',
    alarm: 'LogoutDeadLetterAlarm',
    secrets: ['authgate/test/svix', 'authgate/test/nextauth'],
  },
  {
    kind: 'expire-all',
    fn: 'JobExpireAllLambdaFunction',
    queue: 'ExpireAllJobQueue',
    dlq: 'ExpireAllDeadLetterQueue',
    rule: 'ExpireAllRequestedRule',
    alarm: 'ExpireAllDeadLetterAlarm',
    secrets: ['authgate/test/svix'],
  },
];

const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
const secretArn = (name: string) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:secretsmanager:\${AWS::Region}:\${AWS::AccountId}:secret:${name}-??????` });
const resources = (s: Statement): unknown[] => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);
const props = (id: string) => {
  const resource = R[id] as CfnResource | undefined;
  if (!resource) throw new Error(`${id} is not in the template`);
  return resource.Properties;
};

describe.each(JOBS)('packaged template: the $kind job', ({ kind, fn, queue, dlq, rule, alarm, secrets }) => {
  it('has a queue with a redrive policy (5 receives) into its own dead-letter queue', () => {
    expect(R[queue]?.Type).toBe('AWS::SQS::Queue');
    expect(R[dlq]?.Type).toBe('AWS::SQS::Queue');
    expect(props(queue).RedrivePolicy).toEqual({ deadLetterTargetArn: arnOf(dlq), maxReceiveCount: 5 });
    expect(props(dlq).MessageRetentionPeriod).toBeGreaterThan(props(queue).MessageRetentionPeriod as number);
    expect(props(dlq).RedrivePolicy).toBeUndefined();
  });

  it('lets only its own queue use the dead-letter queue (RedriveAllowPolicy), naming it without a reference back', () => {
    const queueName = props(queue).QueueName as string;
    expect(props(dlq).RedriveAllowPolicy).toEqual({
      redrivePermission: 'byQueue',
      sourceQueueArns: [{ 'Fn::Sub': `arn:\${AWS::Partition}:sqs:\${AWS::Region}:\${AWS::AccountId}:${queueName}` }],
    });
  });

  it('is consumed in batches with ReportBatchItemFailures, within the visibility timeout', () => {
    const mappings = resourcesOfType(template, 'AWS::Lambda::EventSourceMapping').filter(
      ([, m]) => JSON.stringify(m.Properties.EventSourceArn) === JSON.stringify(arnOf(queue)),
    );
    expect(mappings).toHaveLength(1);
    const mapping = mappings[0]![1].Properties;
    expect(mapping.FunctionName).toEqual(arnOf(fn));
    expect(mapping.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(mapping.BatchSize).toBe(10);
    expect(mapping.MaximumBatchingWindowInSeconds).toBe(1);
    expect((mapping.ScalingConfig as { MaximumConcurrency: number }).MaximumConcurrency).toBeGreaterThanOrEqual(2);
    // AWS: a Lambda consumer's queue needs a visibility timeout of at least 6 × the function timeout.
    const timeout = props(fn).Timeout as number;
    expect(props(queue).VisibilityTimeout).toBeGreaterThanOrEqual(6 * timeout + (mapping.MaximumBatchingWindowInSeconds as number));
  });

  it(`is fed by an EventBridge rule on the operator's bus matching "${DETAIL_TYPES[kind]}" from the allowed sources only`, () => {
    const r = props(rule);
    expect(R[rule]?.Type).toBe('AWS::Events::Rule');
    expect(r.EventBusName).toBe('default');
    // Both fields: the detail-type alone would take a logout request from any source on the bus.
    // `source` is the jobEventSources param (a list), here its default.
    expect(r.EventPattern).toEqual({ source: ['authgate.requests'], 'detail-type': [DETAIL_TYPES[kind]] });
    expect(r.State).toBe('ENABLED');
    const targets = r.Targets as Array<Record<string, unknown>>;
    expect(targets).toHaveLength(1);
    expect(targets[0]).toMatchObject({ Arn: arnOf(queue), DeadLetterConfig: { Arn: arnOf(dlq) } });
    // Each event wrapped with the rule's ARN (lib/jobs/schema.ts reads this form): the ARN quoted, the event as JSON.
    expect(targets[0]?.InputTransformer).toEqual({ InputTemplate: '{"rule": "<aws.events.rule-arn>", "event": <aws.events.event.json>}' });
    // And the function knows its rule and the sources it matches (lib/config.ts).
    expect((props(fn).Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
      JOB_EVENT_SOURCES: 'authgate.requests',
      JOB_RULE_ARN: arnOf(rule),
    });
  });

  it('lets EventBridge send into its queues from that rule only', () => {
    for (const target of [queue, dlq]) {
      const policies = resourcesOfType(template, 'AWS::SQS::QueuePolicy').filter(([, p]) => JSON.stringify(p.Properties.Queues).includes(`"${target}"`));
      expect(policies).toHaveLength(1);
      const statements = (policies[0]![1].Properties.PolicyDocument as { Statement: Array<Statement & Record<string, unknown>> }).Statement;
      expect(statements).toHaveLength(1);
      expect(statements[0]).toMatchObject({
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: arnOf(target),
        Condition: { ArnEquals: { 'aws:SourceArn': arnOf(rule) } },
      });
    }
  });

  it('raises an alarm as soon as its dead-letter queue holds a message', () => {
    const a = props(alarm);
    expect(R[alarm]?.Type).toBe('AWS::CloudWatch::Alarm');
    expect(a).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  it('runs with a role of its own that may read only its secrets, its queue and its dead-letter queue, and send continuations to its queue', () => {
    const statements = statementsOf(roleOf(template, fn)[1]);
    const allowed = statements.filter((s) => s.Effect === 'Allow');
    const byService = (prefix: string) => allowed.filter((s) => actionsOf(s).some((a) => a.startsWith(prefix)));

    const secretStatements = byService('secretsmanager:');
    expect(secretStatements.flatMap(actionsOf)).toEqual(['secretsmanager:GetSecretValue']);
    expect(secretStatements.flatMap(resources)).toEqual(secrets.map(secretArn));

    const sqs = byService('sqs:');
    const send = sqs.filter((s) => actionsOf(s).includes('sqs:SendMessage'));
    expect(send).toHaveLength(1);
    expect(actionsOf(send[0]!)).toEqual(['sqs:SendMessage']);
    // The dead-letter copy, and continuations for a busy upstream back to its own queue (docs/jobs.md).
    expect(resources(send[0]!)).toEqual([arnOf(dlq), arnOf(queue)]);
    const consume = sqs.filter((s) => !actionsOf(s).includes('sqs:SendMessage'));
    expect(consume.flatMap(actionsOf).sort()).toEqual(['sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage']);
    expect(consume.flatMap(resources)).toEqual([arnOf(queue)]);

    // Nothing else beyond its own logs, and never "*" on a secret or a queue.
    for (const s of allowed) for (const a of actionsOf(s)) expect(a).toMatch(/^(logs|sqs|secretsmanager):/);
    for (const s of [...secretStatements, ...sqs]) expect(JSON.stringify(s.Resource)).not.toMatch(/"\*"|:\*"/);
    expect(JSON.stringify(statements)).not.toMatch(/"(sqs|secretsmanager):\*"/);
  });

  it('knows its dead-letter queue by URL and its upstreams by their variables only', () => {
    const env = (props(fn).Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env.DLQ_URL).toEqual({ Ref: dlq });
    expect(env.JOB_QUEUE_URL).toEqual({ Ref: queue });
    // Its share of the upstream's rate: jobRequestsPerSecond over the queue's maximumConcurrency.
    expect(env.JOB_REQUESTS_PER_SECOND).toBe('0');
    expect(env.JOB_MAX_CONCURRENCY).toBe('5');
    expect(env.JOB_MAX_DEFERRAL_HOURS).toBe('24');
    expect(env.SVIX_SECRET_ID).toBe('authgate/test/svix');
    expect(env.NEXTAUTH_SECRET_ID).toBe(kind === 'logout' ? 'authgate/test/nextauth' : undefined);
    expect(env.JOB_CONCURRENCY).toBe('8');
  });
});

describe('packaged template: jobs overall', () => {
  it('gives the two consumers different roles, queues and dead-letter queues', () => {
    const roles = JOBS.map((j) => roleOf(template, j.fn)[0]);
    expect(new Set(roles).size).toBe(2);
    expect(resourcesOfType(template, 'AWS::SQS::Queue')).toHaveLength(4);
    expect(resourcesOfType(template, 'AWS::Events::Rule')).toHaveLength(2);
    expect(resourcesOfType(template, 'AWS::CloudWatch::Alarm').length).toBeGreaterThanOrEqual(2);
  });
});
