'use strict';

/**
 * The job kinds (docs/jobs.md) and the logical ids of each one's resources, written once:
 * jobs.cjs makes the resources, observability.cjs charts the queues and lists the alarms, and
 * serverless.yml's job functions refer to the queues by these ids.
 */

/** Logical-id prefix, and the kind in names and detail-types. */
const JOBS = [
  { id: 'Logout', kind: 'logout' },
  { id: 'ExpireAll', kind: 'expire-all' },
];

/** The logical ids of a job kind's resources. */
const jobIds = ({ id }) => ({
  queue: `${id}JobQueue`,
  dlq: `${id}DeadLetterQueue`,
  rule: `${id}RequestedRule`,
  dlqAlarm: `${id}DeadLetterAlarm`,
});

/**
 * An alarm's actions: the stage's topic when `alarmTopicArn` is set, or else the stack's own
 * AlarmTopic (conditions HasAlarmTopic and OwnAlarmTopic, observability.yml). Always a list of one,
 * so static checks of the template see an action (Control Tower CT.CLOUDWATCH.PR.1).
 */
const alarmActions = (topic) => [{ 'Fn::If': ['HasAlarmTopic', topic, { Ref: 'AlarmTopic' }] }];

/**
 * The job functions' JOB_EVENT_SOURCES (lib/config.ts): the jobEventSources list joined, since an
 * environment variable is a string and osls keeps a list a list. serverless.yml reads it as
 * `${file(resources/job-kinds.cjs):eventSources}`; osls calls a function property with its resolver.
 */
const eventSources = async ({ resolveVariable }) => [await resolveVariable('param:jobEventSources')].flat().join(',');

module.exports = { JOBS, jobIds, alarmActions, eventSources };
