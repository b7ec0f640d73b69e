import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '#local/routes';
import { LIMITS_PARAMS } from '../support/global-setup.ts';
import { type CfnResource, packagedTemplate, resourcesOfType } from '../support/template.ts';

/**
 * Fair limits (docs/limits.md) in the packaged templates: off by default (the template of before,
 * give or take an inert condition and parameter), and with every option on (the global setup
 * packages that variant with LIMITS_PARAMS). Plus the us-east-1 web ACL template they point to.
 */

const off = packagedTemplate();
const on = packagedTemplate('limits');
const functionsOf = (template: typeof off) => resourcesOfType(template, 'AWS::Lambda::Function');
const HTTP_FAMILIES: Record<string, string> = {
  SvixLogoutLambdaFunction: LIMITS_PARAMS.logoutConcurrency,
  SvixExpireAllLambdaFunction: LIMITS_PARAMS.svixConcurrency,
  SvixAppPortalAccessLambdaFunction: LIMITS_PARAMS.svixConcurrency,
  SvixDashboardAccessLambdaFunction: LIMITS_PARAMS.svixConcurrency,
  NextauthGetQrLoginLambdaFunction: LIMITS_PARAMS.nextauthConcurrency,
  NextauthGetSessionLambdaFunction: LIMITS_PARAMS.nextauthConcurrency,
  NextauthLogoutLambdaFunction: LIMITS_PARAMS.nextauthConcurrency,
  NextauthProvokeLoginLambdaFunction: LIMITS_PARAMS.nextauthConcurrency,
  NextauthProvokeLoginOnAccountLambdaFunction: LIMITS_PARAMS.nextauthConcurrency,
  NextauthProvokeLoginOnUserLambdaFunction: LIMITS_PARAMS.nextauthConcurrency,
};
const envOf = (fn: CfnResource) => (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
interface DistributionConfig {
  WebACLId: unknown;
  Origins: Array<{ DomainName: unknown; CustomOriginConfig: { OriginProtocolPolicy: string }; OriginCustomHeaders: unknown[] }>;
  DefaultCacheBehavior: { ViewerProtocolPolicy: string; AllowedMethods: string[]; CachePolicyId: string; OriginRequestPolicyId: string };
}
const distributionConfig = (template: typeof off) => template.Resources.EdgeDistribution?.Properties.DistributionConfig as DistributionConfig;

interface WafRule {
  Name: string;
  Priority: number;
  Action: { Block: { CustomResponse: unknown } };
  Statement: {
    RateBasedStatement: { AggregateKeyType: string; EvaluationWindowSec: unknown; ScopeDownStatement?: { ByteMatchStatement?: Record<string, unknown> } };
  };
}
interface WebAclProperties {
  Scope: string;
  DefaultAction: unknown;
  Rules: WafRule[];
  CustomResponseBodies: Record<string, { Content: string }>;
}

describe('packaged template: fair limits off (the default)', () => {
  it('reserves no concurrency and gives no function an edge secret', () => {
    expect(functionsOf(off).length).toBeGreaterThanOrEqual(12);
    for (const [id, fn] of functionsOf(off)) {
      expect(fn.Properties.ReservedConcurrentExecutions, id).toBeUndefined();
      expect(envOf(fn), id).not.toHaveProperty('EDGE_ORIGIN_SECRET');
    }
  });

  it('creates no distribution: its condition is false', () => {
    expect(off.Resources.EdgeDistribution?.Condition).toBe('EdgeOn');
    expect(off.Conditions?.EdgeOn).toEqual({ 'Fn::Equals': ['off', 'on'] });
    expect(off.Outputs?.EdgeUrl?.Condition).toBe('EdgeOn');
  });

  it('keeps the route throttles it had', () => {
    const [[, stage] = []] = resourcesOfType(off, 'AWS::ApiGatewayV2::Stage');
    expect((stage!.Properties.DefaultRouteSettings as Record<string, number>).ThrottlingRateLimit).toBeGreaterThan(0);
  });
});

describe('packaged template: fair limits on', () => {
  it('reserves the concurrency of each function family as the parameters say; jobs keep their queue limit', () => {
    for (const [id, reserved] of Object.entries(HTTP_FAMILIES)) {
      // A --param value arrives as a string; CloudFormation reads "20" for an Integer property as 20.
      expect(String(on.Resources[id]?.Properties.ReservedConcurrentExecutions), id).toBe(reserved);
    }
    expect(on.Resources.JobLogoutLambdaFunction?.Properties.ReservedConcurrentExecutions).toBeUndefined();
    // Every HTTP function is in one of the families: a new one must not be forgotten.
    const http = new Set(resourcesOfType(on, 'AWS::Lambda::Permission').map(([, p]) => JSON.stringify(p.Properties.FunctionName)));
    const httpFunctions = functionsOf(on)
      .map(([id]) => id)
      .filter((id) => [...http].some((ref) => ref.includes(id)) && !id.startsWith('Job'));
    expect(httpFunctions.sort()).toEqual(Object.keys(HTTP_FAMILIES).sort());
  });

  it('puts CloudFront with the given web ACL in front of the HTTP API, caching nothing and forwarding every header but Host', () => {
    expect(on.Conditions?.EdgeOn).toEqual({ 'Fn::Equals': ['on', 'on'] });
    expect(on.Parameters?.EdgeWebAclArn?.Default).toBe(LIMITS_PARAMS.edgeWebAclArn);
    const config = distributionConfig(on);
    expect(config.WebACLId).toEqual({ Ref: 'EdgeWebAclArn' });
    expect(config.Origins).toHaveLength(1);
    expect(config.Origins[0]?.DomainName).toEqual({ 'Fn::Sub': '${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}' });
    expect(on.Resources.HttpApi?.Type).toBe('AWS::ApiGatewayV2::Api');
    expect(config.Origins[0]?.CustomOriginConfig.OriginProtocolPolicy).toBe('https-only');
    const behavior = config.DefaultCacheBehavior;
    expect(behavior.ViewerProtocolPolicy).toBe('https-only');
    expect(behavior.AllowedMethods).toEqual(expect.arrayContaining(['GET', 'POST']));
    expect(behavior.CachePolicyId).toBe('4135ea2d-6df8-44a3-9df3-4b5a84be39ad'); // Managed-CachingDisabled
    expect(behavior.OriginRequestPolicyId).toBe('b689b0a8-53d0-40ab-baf2-68738e2966ac'); // Managed-AllViewerExceptHostHeader
  });

  it('sends the origin secret from Secrets Manager, and every HTTP function holds the same reference to check it', () => {
    const [header] = distributionConfig(on).Origins[0]?.OriginCustomHeaders ?? [];
    const reference = '{{resolve:secretsmanager:authgate/test/edge-origin:SecretString}}';
    expect(header).toEqual({ HeaderName: 'x-authgate-edge', HeaderValue: reference });
    for (const id of Object.keys(HTTP_FAMILIES)) expect(envOf(on.Resources[id]!).EDGE_ORIGIN_SECRET, id).toBe(reference);
  });

  it('refuses at deploy time an edge without a web ACL: the parameter must be a us-east-1 web ACL ARN', () => {
    const pattern = new RegExp(String(on.Parameters?.EdgeWebAclArn?.AllowedPattern));
    expect(pattern.test(LIMITS_PARAMS.edgeWebAclArn)).toBe(true);
    expect(pattern.test('')).toBe(false);
    expect(pattern.test('arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/x/1')).toBe(false);
    // Off, anything goes (the parameter is unused).
    expect(new RegExp(String(off.Parameters?.EdgeWebAclArn?.AllowedPattern)).test('')).toBe(true);
  });
});

describe('resources/edge-waf.yml: the us-east-1 web ACL', () => {
  const template = parse(readFileSync(join(PROJECT_ROOT, 'resources', 'edge-waf.yml'), 'utf8')) as {
    Parameters: Record<string, { Default?: number }>;
    Resources: { WebAcl: CfnResource };
    Outputs: Record<string, { Value: unknown }>;
  };
  const acl = template.Resources.WebAcl.Properties as unknown as WebAclProperties;
  const rule = (name: string) => acl.Rules.find((r) => r.Name === name);

  it('is a CLOUDFRONT-scope web ACL that allows by default and exports its ARN', () => {
    expect(template.Resources.WebAcl.Type).toBe('AWS::WAFv2::WebACL');
    expect(acl.Scope).toBe('CLOUDFRONT');
    expect(acl.DefaultAction).toEqual({ Allow: {} });
    expect(template.Outputs.WebAclArn?.Value).toEqual({ 'Fn::GetAtt': ['WebAcl', 'Arn'] });
  });

  it('limits Svix logout per source IP (the route without an authorizer)', () => {
    const statement = rule('logout-per-ip')?.Statement.RateBasedStatement;
    expect(statement?.AggregateKeyType).toBe('IP');
    expect(statement?.ScopeDownStatement?.ByteMatchStatement).toMatchObject({ PositionalConstraint: 'STARTS_WITH', SearchString: '/api/v1/auth/logout' });
  });

  it('limits each caller by its Authorization header, and every IP on every route', () => {
    expect(rule('per-caller')?.Statement.RateBasedStatement).toMatchObject({
      AggregateKeyType: 'CUSTOM_KEYS',
      CustomKeys: [{ Header: { Name: 'authorization' } }],
    });
    expect(rule('per-ip')?.Statement.RateBasedStatement.AggregateKeyType).toBe('IP');
    expect(rule('per-ip')?.Statement.RateBasedStatement.ScopeDownStatement).toBeUndefined();
  });

  it('answers a limited caller 429 in API Gateway’s throttle shape, within WAF’s bounds', () => {
    for (const r of acl.Rules) {
      expect(r.Action.Block.CustomResponse, r.Name).toEqual({ ResponseCode: 429, CustomResponseBodyKey: 'too-many-requests' });
      expect(r.Statement.RateBasedStatement.EvaluationWindowSec, r.Name).toEqual({ Ref: 'EvaluationWindowSec' });
    }
    expect(JSON.parse(acl.CustomResponseBodies['too-many-requests']?.Content ?? '')).toEqual({ message: 'Too Many Requests' });
    // WAF's lowest rate limit is 10 per window.
    for (const name of ['LogoutPerIpLimit', 'PerCallerLimit', 'PerIpLimit']) expect(template.Parameters[name]?.Default).toBeGreaterThanOrEqual(10);
    expect(new Set(acl.Rules.map((r) => r.Priority)).size).toBe(3);
  });
});
