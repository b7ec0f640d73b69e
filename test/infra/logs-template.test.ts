import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { readServerlessConfig } from '#local/routes';
import { ALARM_PARAMS_IAM } from '../support/global-setup.ts';
import { packagedTemplate, resourcesOfType } from '../support/template.ts';

/**
 * The logs of the packaged template (docs/deploy.md#logs-and-the-audit-trail): the HTTP API's
 * access log, every log group's retention, and the optional customer KMS key.
 */

const defaults = readServerlessConfig().params?.default ?? {};
const jwt = packagedTemplate();
const iam = packagedTemplate('iam');
const { FIELDS } = createRequire(import.meta.url)('../../resources/access-log.cjs') as { FIELDS: Record<string, unknown> };

interface AccessLogSettings {
  DestinationArn: unknown;
  Format: string;
}
const accessLog = (template: typeof jwt) => template.Resources.HttpApiStage?.Properties.AccessLogSettings as AccessLogSettings;
/** What API Gateway writes for a request: the format with every `$context` variable filled in. */
const sampleLine = (format: string) => JSON.parse(format.replace(/\$context\.[A-Za-z.]+/g, (v) => (/status|responseLatency/.test(v) ? '401' : 'x')));

describe.each([
  ['jwt', jwt],
  ['iam', iam],
] as const)('the HTTP API access log (%s)', (_, template) => {
  it('goes to a log group of this stack', () => {
    const { DestinationArn } = accessLog(template);
    expect(DestinationArn).toEqual({ 'Fn::GetAtt': ['HttpApiLogGroup', 'Arn'] });
    expect(template.Resources.HttpApiLogGroup?.Type).toBe('AWS::Logs::LogGroup');
  });

  it('is one JSON line per request, with who, what, how it ended and why', () => {
    const { Format } = accessLog(template);
    expect(Format).not.toMatch(/\n/);
    const line = sampleLine(Format);
    expect(line).toMatchObject({ msg: 'access', status: 401, latencyMs: 401 });
    expect(Object.keys(line)).toEqual(
      expect.arrayContaining([
        'apiRequestId',
        'time',
        'routeKey',
        'reason',
        'authorizerError',
        'integrationError',
        'integrationStatus',
        'integrationLatencyMs',
        'sourceIp',
        'userAgent',
        'caller',
      ]),
    );
    expect(Object.keys(line.caller)).toEqual(['sub', 'clientId', 'arn']);
    for (const variable of [
      '$context.requestId',
      '$context.routeKey',
      '$context.status',
      '$context.error.message',
      '$context.authorizer.error',
      '$context.integrationErrorMessage',
      '$context.integrationStatus',
      '$context.responseLatency',
      '$context.integrationLatency',
      '$context.identity.sourceIp',
      '$context.identity.userAgent',
      '$context.authorizer.claims.sub',
      '$context.authorizer.claims.client_id',
      '$context.identity.userArn',
    ]) {
      expect(Format).toContain(variable);
    }
  });

  it('never holds a credential, a header or a query string', () => {
    const { Format } = accessLog(template);
    expect(Format).not.toMatch(/\$request\.|\$context\.(path|requestOverride|responseOverride)|authorization|querystring|header/i);
    // Every variable is a $context one.
    expect(Format.match(/\$[a-z]+/g)?.every((v) => v === '$context')).toBe(true);
  });

  it('is the format resources/access-log.cjs declares', () => {
    expect(Object.keys(sampleLine(accessLog(template).Format))).toEqual(Object.keys(FIELDS));
  });
});

describe('log retention and encryption', () => {
  const groups = (template: typeof jwt) => resourcesOfType(template, 'AWS::Logs::LogGroup');

  it('keeps every log group a year by default: the functions hold the audit trail, the access log the refusals', () => {
    expect(Number(defaults.logRetentionDays)).toBeGreaterThanOrEqual(365);
    expect(groups(jwt).length).toBe(resourcesOfType(jwt, 'AWS::Lambda::Function').length + 1);
    for (const [id, group] of groups(jwt)) expect(group.Properties.RetentionInDays, id).toBe(Number(defaults.logRetentionDays));
  });

  it('takes the retention from logRetentionDays', () => {
    expect(groups(iam).length).toBe(resourcesOfType(iam, 'AWS::Lambda::Function').length + 1);
    for (const [id, group] of groups(iam)) expect(group.Properties.RetentionInDays, id).toBe(Number(ALARM_PARAMS_IAM.logRetentionDays));
  });

  it('encrypts every log group with logKmsKeyArn when given, and leaves the key to CloudWatch Logs when not', () => {
    expect(defaults.logKmsKeyArn).toBe('');
    for (const [id, group] of groups(jwt)) expect(group.Properties.KmsKeyId, id).toBeUndefined();
    for (const [id, group] of groups(iam)) expect(group.Properties.KmsKeyId, id).toBe(ALARM_PARAMS_IAM.logKmsKeyArn);
  });
});
