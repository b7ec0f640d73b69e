import { describe, expect, it } from 'vitest';
import { httpRoutes, queueFunctions } from '#local/routes';
import { packagedTemplate, resourcesOfType } from '../support/template.ts';

/**
 * The local API reads serverless.yml with its own small resolver (local/routes.ts) rather than
 * through `serverless print`, which would add seconds to `npm start`. It must see what the framework
 * resolves from the same file (merge keys, `${self:…${param:…}}` authorizers): the packaged
 * template, written by osls in the global setup, is the reference.
 */

const template = packagedTemplate('jwt');
const functionOf = (logicalId: string) => template.Resources[logicalId]?.Properties;
const logicalId = (name: string) => `${name[0]?.toUpperCase()}${name.slice(1)}LambdaFunction`;

describe('the local API reads serverless.yml as the framework does', () => {
  const routes = httpRoutes();
  const packaged = resourcesOfType(template, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties);

  it('serves the ten packaged routes, each guarded by the same scopes', () => {
    expect(routes).toHaveLength(10);
    expect(routes.map((r) => `${r.method} ${r.path}`).sort()).toEqual(packaged.map((r) => r.RouteKey).sort());
    for (const route of routes) {
      const twin = packaged.find((r) => r.RouteKey === `${route.method} ${route.path}`);
      expect(route.authorizer?.scopes, String(twin?.RouteKey)).toEqual(twin?.AuthorizationScopes);
      expect(Boolean(route.authorizer), String(twin?.RouteKey)).toBe(twin?.AuthorizationType === 'JWT');
    }
  });

  it('runs each function from its packaged handler with its packaged timeout', () => {
    for (const fn of [...routes, ...queueFunctions()]) {
      const props = functionOf(logicalId(fn.functionName));
      expect(props?.Handler, fn.functionName).toBe(`${fn.modulePath}.${fn.exportName}`);
      expect(props?.Timeout, fn.functionName).toBe(fn.timeoutSeconds);
    }
  });

  it('finds the two queue functions, the ones with an SQS event source', () => {
    const consumers = resourcesOfType(template, 'AWS::Lambda::EventSourceMapping').map(
      ([, r]) => (r.Properties.FunctionName as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0],
    );
    expect(
      queueFunctions()
        .map((q) => logicalId(q.functionName))
        .sort(),
    ).toEqual(consumers.sort());
    expect(consumers).toHaveLength(2);
  });
});
