'use strict';

/**
 * The resources of each job queue (docs/jobs.md), generated when osls resolves
 * `${file(resources/jobs.cjs)}` so the two jobs' identical blocks are written once:
 *
 *   EventBridge rule (source ∈ jobEventSources, detail-type authgate.<kind>.requested)
 *     → job queue → the job function (serverless.yml, Jobs)
 *   failures (5 receives, or an event EventBridge could not deliver within a day) → dead-letter
 *   queue → its alarm.
 *
 * The kinds and their logical ids are in job-kinds.cjs (the queue policies are `<queue>Policy`).
 */

const { JOBS, jobIds, alarmActions: actions } = require('./job-kinds.cjs');

const getAtt = (resource, attribute) => ({ 'Fn::GetAtt': [resource, attribute] });

/** What the rule puts in the queue: `{"rule": <its ARN>, "event": <the whole event>}`. */
const RULE_DELIVERY_TEMPLATE = '{"rule": "<aws.events.rule-arn>", "event": <aws.events.event.json>}';

/** Only the job's rule may send to its queue (and, with undeliverable events, to its DLQ). */
const queuePolicy = (queue, sid, rule) => ({
  Type: 'AWS::SQS::QueuePolicy',
  Properties: {
    Queues: [{ Ref: queue }],
    PolicyDocument: {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: sid,
          Effect: 'Allow',
          Principal: { Service: 'events.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Resource: getAtt(queue, 'Arn'),
          Condition: { ArnEquals: { 'aws:SourceArn': getAtt(rule, 'Arn') } },
        },
      ],
    },
  },
});

function jobResources(job, { service, stage, eventBusName, eventSources, topic }) {
  const { kind } = job;
  const { queue, dlq, rule, dlqAlarm } = jobIds(job);
  const queueName = `${service}-${stage}-${kind}`;
  return {
    [dlq]: {
      Type: 'AWS::SQS::Queue',
      Properties: {
        QueueName: `${queueName}-dlq`,
        MessageRetentionPeriod: 1209600, // 14 days (the maximum): time to look, fix and redrive
        SqsManagedSseEnabled: true,
        // Only the job's own queue may use this one as its dead-letter queue (CT.SQS.PR.1). Its ARN
        // is spelt out, not a GetAtt: the queue already refers to this one, and CloudFormation
        // refuses a reference both ways.
        RedriveAllowPolicy: {
          redrivePermission: 'byQueue',
          sourceQueueArns: [{ 'Fn::Sub': `arn:\${AWS::Partition}:sqs:\${AWS::Region}:\${AWS::AccountId}:${queueName}` }],
        },
      },
    },
    [queue]: {
      Type: 'AWS::SQS::Queue',
      Properties: {
        QueueName: queueName,
        VisibilityTimeout: 190, // ≥ 6 × the 30 s function timeout + the 1 s batching window
        MessageRetentionPeriod: 345600, // 4 days
        SqsManagedSseEnabled: true,
        RedrivePolicy: { deadLetterTargetArn: getAtt(dlq, 'Arn'), maxReceiveCount: 5 },
      },
    },
    [rule]: {
      Type: 'AWS::Events::Rule',
      Properties: {
        Description: `authgate ${kind} job requests (authgate.${kind}.requested) into the ${kind} queue`,
        EventBusName: eventBusName,
        EventPattern: { source: eventSources, 'detail-type': [`authgate.${kind}.requested`] },
        State: 'ENABLED',
        Targets: [
          {
            Id: `${kind}-queue`,
            Arn: getAtt(queue, 'Arn'),
            RetryPolicy: { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 },
            // Each event wrapped with this rule's ARN, so the consumer can tell our rule's deliveries
            // from a body someone wrote (lib/jobs/schema.ts). EventBridge's predefined variables: the
            // ARN is a string (quoted), the event is JSON (unquoted, written as it is).
            InputTransformer: { InputTemplate: RULE_DELIVERY_TEMPLATE },
            // An event EventBridge could not deliver within a day lands in the DLQ, not nowhere.
            DeadLetterConfig: { Arn: getAtt(dlq, 'Arn') },
          },
        ],
      },
    },
    [`${queue}Policy`]: queuePolicy(queue, 'FromTheRequestedRuleOnly', rule),
    [`${dlq}Policy`]: queuePolicy(dlq, 'UndeliverableEventsFromTheRequestedRuleOnly', rule),
    [dlqAlarm]: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${service}-${stage}-${kind}-dlq-not-empty`,
        AlarmDescription: `authgate ${kind} job messages are in the dead-letter queue; why is in each message's authgate.reason attribute or in the job's logs (docs/jobs.md; docs/operations.md).`,
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: getAtt(dlq, 'QueueName') }],
        Statistic: 'Maximum',
        // SQS publishes queue metrics every minute while active; 5 minutes also covers a queue that
        // has been idle (its metrics resume with some delay).
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: actions(topic),
        OKActions: actions(topic),
      },
    },
  };
}

module.exports = async ({ resolveVariable }) => {
  const [service, stage, eventBusName, eventSources, topic] = await Promise.all([
    resolveVariable('self:service'),
    resolveVariable('sls:stage'),
    resolveVariable('param:eventBusName'),
    resolveVariable('param:jobEventSources'),
    resolveVariable('param:alarmTopicArn'),
  ]);
  const settings = { service, stage, eventBusName, eventSources, topic };
  return { Resources: Object.assign({}, ...JOBS.map((job) => jobResources(job, settings))) };
};
