import { describe, expect, it } from 'vitest';
import { actionsOf, packagedTemplate, resourcesOfType, roleOf, statementsOf } from '../support/template.ts';

/** Assertions on the CloudFormation template that `serverless package` produced for this run. */
const template = packagedTemplate();

const SVIX_FUNCTIONS = ['SvixExpireAllLambdaFunction', 'SvixAppPortalAccessLambdaFunction', 'SvixDashboardAccessLambdaFunction'];
const secretStatements = (logicalId: string) =>
  statementsOf(roleOf(template, logicalId)[1]).filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')));
const subOf = (resource: unknown) => (resource as { 'Fn::Sub'?: string })['Fn::Sub'];

describe('packaged template: Svix functions', () => {
  it('gives every function a role of its own', () => {
    const functions = resourcesOfType(template, 'AWS::Lambda::Function');
    const roles = functions.map(([id]) => roleOf(template, id)[0]);
    expect(new Set(roles).size).toBe(functions.length);
    expect(functions.length).toBeGreaterThanOrEqual(4);
    // ...and no other role: the framework's default one (with every queue permission) is dropped.
    expect(
      resourcesOfType(template, 'AWS::IAM::Role')
        .map(([id]) => id)
        .sort(),
    ).toEqual([...roles].sort());
  });

  it.each(SVIX_FUNCTIONS)('%s may read only the Svix secret, by its exact ARN pattern', (id) => {
    const statements = secretStatements(id);
    expect(statements).toHaveLength(1);
    expect(actionsOf(statements[0]!)).toEqual(['secretsmanager:GetSecretValue']);
    expect(subOf(statements[0]!.Resource)).toBe('arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:authgate/test/svix-??????');
  });

  it('logout has no Secrets Manager permission at all', () => {
    expect(secretStatements('SvixLogoutLambdaFunction')).toEqual([]);
    const env = (template.Resources.SvixLogoutLambdaFunction!.Properties.Environment as { Variables: Record<string, string> }).Variables;
    expect(env.SVIX_SECRET_ID).toBeUndefined();
  });

  it('no role grants a Secrets Manager action on "*"', () => {
    for (const [, role] of resourcesOfType(template, 'AWS::IAM::Role')) {
      for (const s of statementsOf(role)) {
        if (!actionsOf(s).some((a) => a.startsWith('secretsmanager:'))) continue;
        expect(JSON.stringify(s.Resource)).not.toMatch(/"\*"|:secret:\*/);
      }
    }
  });

  it('declares the four routes on HTTP API payload 2.0, none ending in "/"', () => {
    const routes = resourcesOfType(template, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties.RouteKey as string);
    expect(routes).toEqual(
      expect.arrayContaining([
        'POST /api/v1/auth/app/{app_id}/expire-all',
        'POST /api/v1/auth/app-portal-access/{app_id}',
        'POST /api/v1/auth/dashboard-access/{app_id}',
        'POST /api/v1/auth/logout',
      ]),
    );
    for (const key of routes) expect(key).not.toMatch(/\/$/);
    for (const [, integration] of resourcesOfType(template, 'AWS::ApiGatewayV2::Integration')) {
      expect(integration.Properties.PayloadFormatVersion).toBe('2.0');
    }
  });

  it('runs on a current Node.js runtime', () => {
    for (const [, fn] of resourcesOfType(template, 'AWS::Lambda::Function')) expect(fn.Properties.Runtime).toBe('nodejs22.x');
  });
});
