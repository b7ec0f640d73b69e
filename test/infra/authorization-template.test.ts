import { describe, expect, it } from 'vitest';
import { packagedTemplate, resourcesOfType } from '../support/template.ts';

const template = packagedTemplate();
const routes = resourcesOfType(template, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties);
const LOGOUT = 'POST /api/v1/auth/logout';

describe('packaged template: caller authorization', () => {
  it('has a JWT authorizer whose issuer and audience come from stage parameters', () => {
    const [[, authorizer] = []] = resourcesOfType(template, 'AWS::ApiGatewayV2::Authorizer');
    expect(authorizer?.Properties.AuthorizerType).toBe('JWT');
    expect(authorizer?.Properties.IdentitySource).toEqual(['$request.header.Authorization']);
    // `--stage test` uses the default parameters.
    expect(authorizer?.Properties.JwtConfiguration).toEqual({ Audience: ['authgate'], Issuer: 'https://issuer.example.com/' });
  });

  it('puts the authorizer, with scopes, on every route but Svix logout', () => {
    const guarded = routes.filter((r) => r.RouteKey !== LOGOUT);
    expect(guarded.length).toBeGreaterThanOrEqual(3);
    for (const route of guarded) {
      expect(route.AuthorizationType, String(route.RouteKey)).toBe('JWT');
      expect((route.AuthorizationScopes as string[]).length, String(route.RouteKey)).toBeGreaterThan(0);
    }
  });

  it('scopes each Svix operation as docs/authorization.md says', () => {
    const scopesOf = (key: string) => routes.find((r) => r.RouteKey === key)?.AuthorizationScopes;
    expect(scopesOf('POST /api/v1/auth/app-portal-access/{app_id}')).toEqual(['svix/app-portal-access']);
    expect(scopesOf('POST /api/v1/auth/dashboard-access/{app_id}')).toEqual(['svix/app-portal-access']);
    expect(scopesOf('POST /api/v1/auth/app/{app_id}/expire-all')).toEqual(['svix/expire-all']);
  });

  it('leaves logout without an authorizer (its credential is the app token) but throttled', () => {
    const logout = routes.find((r) => r.RouteKey === LOGOUT);
    expect(logout?.AuthorizationType ?? 'NONE').toBe('NONE');
    const [[, stage] = []] = resourcesOfType(template, 'AWS::ApiGatewayV2::Stage');
    const settings = (stage!.Properties.RouteSettings as Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }>)[LOGOUT];
    expect(settings?.ThrottlingRateLimit).toBeGreaterThan(0);
    expect(settings?.ThrottlingBurstLimit).toBeGreaterThan(0);
  });

  it('with callerAuth=iam, puts SigV4 (AWS_IAM) on every route but Svix logout instead', () => {
    const iamRoutes = resourcesOfType(packagedTemplate('iam'), 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties);
    expect(iamRoutes).toHaveLength(routes.length);
    for (const route of iamRoutes) {
      if (route.RouteKey === LOGOUT) expect(route.AuthorizationType ?? 'NONE').toBe('NONE');
      else expect(route.AuthorizationType, String(route.RouteKey)).toBe('AWS_IAM');
    }
  });

  it('throttles every other route by default', () => {
    const [[, stage] = []] = resourcesOfType(template, 'AWS::ApiGatewayV2::Stage');
    const defaults = stage!.Properties.DefaultRouteSettings as { ThrottlingRateLimit: number; ThrottlingBurstLimit: number };
    expect(defaults.ThrottlingRateLimit).toBeGreaterThan(0);
    expect(defaults.ThrottlingBurstLimit).toBeGreaterThan(0);
  });
});
