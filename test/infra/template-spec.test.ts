import { describe, expect, it } from 'vitest';
import { checkTemplate, type Finding } from '../support/cfn-check.ts';
import { loadCfnSpec } from '../support/cfn-spec.ts';
import { packagedTemplate } from '../support/template.ts';

/**
 * The packaged template against CloudFormation's own resource specification (the AWS CDK's
 * @aws-cdk/aws-service-spec), in both caller-authorization modes: what `serverless deploy` would
 * hand CloudFormation must not fail on an unknown property, a wrong shape or a dangling reference.
 */

const spec = loadCfnSpec();

describe.each(['jwt', 'iam'] as const)('the %s template against the CloudFormation specification', (callerAuth) => {
  it('has no finding', () => {
    expect(checkTemplate(packagedTemplate(callerAuth), spec)).toEqual([]);
  });
});

describe('the check itself', () => {
  /** The jwt template, deliberately broken in every way the check must catch. */
  function broken() {
    // biome-ignore lint/suspicious/noExplicitAny: breaking a template on purpose reaches deep into it, path by path
    const t = structuredClone(packagedTemplate('jwt')) as unknown as { Resources: Record<string, { Type: string; Properties: Record<string, any> }> };
    const r = t.Resources;
    r.LogoutJobQueue!.Properties.VisibilityTimout = 190; // unknown property (typo)
    r.LogoutDeadLetterQueue!.Properties.MessageRetentionPeriod = [1209600]; // list for an integer
    r.JobLogoutLambdaFunction!.Properties.Architectures = 'arm64'; // single value for a list
    r.JobLogoutLambdaFunction!.Properties.Environment.Variables.DLQ_URL = { Ref: 'LogoutDeadLetterQueu' }; // dangling Ref
    delete r.SvixLogoutLambdaFunction!.Properties.Role; // required property
    r.LogoutDeadLetterAlarm!.Properties.Dimensions[0].Value = { 'Fn::GetAtt': ['LogoutDeadLetterQueue', 'Url'] }; // no such attribute
    r.ExpireAllJobQueue!.Type = 'AWS::SQS::Queues'; // no such type
    r.HttpApiStage!.Properties.DefaultRouteSettings.ThrottlingRateLimit = 'fast'; // nested: a word for a number
    const role = r.JobLogoutIamRoleLambdaExecution!.Properties;
    role.Policies[0].PolicyDocument.Statement.push({ Effect: 'allow', Actions: ['sqs:SendMessage'], Resource: 'queue' });
    r.LogoutJobQueuePolicy!.Properties.PolicyDocument.Statement[0].Resource = { 'Fn::Sub': '${LogoutJobQueue.Arn}/${NoSuchParam}' };
    (t as unknown as { Outputs: Record<string, unknown> }).Outputs.Broken = { Valeu: { Ref: 'HttpApi' } }; // misspelt output key
    return t;
  }

  const findings = () => checkTemplate(broken() as never, spec);
  const has = (path: string, message: string | RegExp) =>
    expect(findings()).toContainEqual({ path, message: typeof message === 'string' ? message : expect.stringMatching(message) } satisfies Finding);

  it('reports an unknown property', () => has('Resources.LogoutJobQueue.Properties.VisibilityTimout', 'unknown property'));
  it('reports a wrong shape, scalar for list and list for scalar', () => {
    has('Resources.LogoutDeadLetterQueue.Properties.MessageRetentionPeriod', 'expected a integer, got a list');
    has('Resources.JobLogoutLambdaFunction.Properties.Architectures', 'expected a list, got string "arm64"');
  });
  it('reports a wrong type inside a nested property type', () =>
    has('Resources.HttpApiStage.Properties.DefaultRouteSettings.ThrottlingRateLimit', 'expected a number, got string "fast"'));
  it('reports a missing required property', () => has('Resources.SvixLogoutLambdaFunction.Properties.Role', 'required property missing'));
  it('reports a dangling Ref, an unknown attribute and an unknown Sub variable', () => {
    has('Resources.JobLogoutLambdaFunction.Properties.Environment.Variables.DLQ_URL', /^Ref LogoutDeadLetterQueu: not a resource/);
    has('Resources.LogoutDeadLetterAlarm.Properties.Dimensions[0].Value', 'GetAtt LogoutDeadLetterQueue.Url: AWS::SQS::Queue has no attribute Url');
    has('Resources.LogoutJobQueuePolicy.Properties.PolicyDocument.Statement[0].Resource', /^Sub \$\{NoSuchParam\}: not a resource/);
  });
  it('reports an unknown resource type', () => has('Resources.ExpireAllJobQueue.Type', 'AWS::SQS::Queues is not a CloudFormation resource type'));
  it('reports a malformed IAM statement', () => {
    const at = 'Resources.JobLogoutIamRoleLambdaExecution.Properties.Policies[0].PolicyDocument.Statement';
    const statements = (broken().Resources.JobLogoutIamRoleLambdaExecution!.Properties.Policies[0].PolicyDocument.Statement as unknown[]).length;
    const last = `${at}[${statements - 1}]`;
    has(`${last}.Effect`, 'Effect must be Allow or Deny, not "allow"');
    has(`${last}.Actions`, 'not a statement key');
    has(last, 'needs exactly one of Action and NotAction');
    has(`${last}.Resource`, '"queue" is not an ARN or *');
  });
  it('reports a malformed output', () => {
    has('Outputs.Broken.Valeu', 'not an output key');
    has('Outputs.Broken.Value', 'required');
  });
  it('reports nothing else than what was broken', () => {
    expect(findings()).toHaveLength(15);
  });
});
