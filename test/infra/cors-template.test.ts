import { describe, expect, it } from 'vitest';
import { corsFromServerless, stageParams } from '#local/cors';
import { CORS_TEST_ORIGIN } from '../support/global-setup.ts';
import { packagedTemplate, resourcesOfType } from '../support/template.ts';

/** Browser callers: HTTP API's own CORS configuration, from the `cors*` stage parameters. */

const apiOf = (callerAuth: 'jwt' | 'iam') => {
  const apis = resourcesOfType(packagedTemplate(callerAuth), 'AWS::ApiGatewayV2::Api');
  expect(apis).toHaveLength(1);
  return apis[0]?.[1].Properties ?? {};
};

describe('packaged template: CORS', () => {
  it('is off by default: the API has no CorsConfiguration, and no route answers OPTIONS', () => {
    expect(apiOf('jwt')).not.toHaveProperty('CorsConfiguration');
    const routeKeys = resourcesOfType(packagedTemplate(), 'AWS::ApiGatewayV2::Route').map(([, r]) => String(r.Properties.RouteKey));
    expect(routeKeys.filter((key) => key.startsWith('OPTIONS'))).toEqual([]);
  });

  it('with cors=on, configures the API from the parameters (one origin given with --param)', () => {
    expect(apiOf('iam').CorsConfiguration).toEqual({
      AllowOrigins: [CORS_TEST_ORIGIN],
      AllowHeaders: ['authorization', 'content-type', 'idempotency-key', 'svix-req-id', 'svix-retry-count', 'x-nonce'],
      AllowMethods: ['GET', 'POST'],
      ExposeHeaders: ['deprecation', 'link', 'retry-after'],
      MaxAge: 600,
    });
  });

  it('the local API reads the same configuration from serverless.yml', () => {
    expect(corsFromServerless()).toBeUndefined();
    const local = corsFromServerless({ cors: 'on', corsAllowedOrigins: CORS_TEST_ORIGIN });
    const { CorsConfiguration } = apiOf('iam') as { CorsConfiguration: Record<string, unknown> };
    expect(local).toEqual({
      allowOrigins: CorsConfiguration.AllowOrigins,
      allowHeaders: CorsConfiguration.AllowHeaders,
      allowMethods: CorsConfiguration.AllowMethods,
      exposeHeaders: CorsConfiguration.ExposeHeaders,
      maxAge: CorsConfiguration.MaxAge,
    });
  });

  it('npm start takes the same --param flags, and leaves its other flags alone', () => {
    const params = stageParams(['--strict', '--param=cors=on', '--param', `corsAllowedOrigins=${CORS_TEST_ORIGIN}`]);
    expect(params).toEqual({ cors: 'on', corsAllowedOrigins: CORS_TEST_ORIGIN });
    expect(corsFromServerless(params)?.allowOrigins).toEqual([CORS_TEST_ORIGIN]);
    expect(() => stageParams(['--param=cors'])).toThrow(/name=value/);
  });
});
