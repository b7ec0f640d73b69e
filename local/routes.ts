import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/**
 * The HTTP routes, read from `serverless.yml` itself so the local API serves exactly what API
 * Gateway will: a route added, removed or re-pathed there changes here with no second list.
 */

export interface RouteSpec {
  /** The serverless function name, e.g. `svixExpireAll`. */
  functionName: string;
  method: string;
  /** Path template as declared, e.g. `/api/v1/auth/app/{app_id}/expire-all`. */
  path: string;
  /** Module path relative to the project root, without extension. */
  modulePath: string;
  exportName: string;
  timeoutSeconds: number;
  /** The route's API Gateway authorizer, as declared; absent = open route. */
  authorizer?: { name: string; scopes?: string[] };
}

export interface QueueFunctionSpec {
  functionName: string;
  modulePath: string;
  exportName: string;
  timeoutSeconds: number;
}

interface ServerlessFunction {
  handler: string;
  timeout?: number;
  events?: Array<{ httpApi?: { method: string; path: string; authorizer?: { name: string; scopes?: string[] } }; sqs?: unknown }>;
}

interface ServerlessConfig {
  provider: { timeout?: number };
  functions: Record<string, ServerlessFunction>;
}

export const PROJECT_ROOT = join(import.meta.dirname, '..');

export function readServerlessConfig(file = join(PROJECT_ROOT, 'serverless.yml')): ServerlessConfig {
  // CloudFormation tags (!Sub, !GetAtt) mean nothing here; keep them as plain values.
  const tags = ['!Sub', '!GetAtt', '!Ref', '!Join', '!If', '!Equals', '!Not', '!Select'].map((tag) => ({
    tag,
    resolve: (value: string) => value,
  }));
  return parse(readFileSync(file, 'utf8'), { customTags: tags, logLevel: 'error' }) as ServerlessConfig;
}

function splitHandler(handler: string): { modulePath: string; exportName: string } {
  const dot = handler.lastIndexOf('.');
  return { modulePath: handler.slice(0, dot), exportName: handler.slice(dot + 1) };
}

export function httpRoutes(config = readServerlessConfig()): RouteSpec[] {
  const routes: RouteSpec[] = [];
  for (const [functionName, fn] of Object.entries(config.functions)) {
    for (const event of fn.events ?? []) {
      if (!event.httpApi) continue;
      routes.push({
        functionName,
        method: event.httpApi.method.toUpperCase(),
        path: event.httpApi.path,
        ...(event.httpApi.authorizer ? { authorizer: event.httpApi.authorizer } : {}),
        ...splitHandler(fn.handler),
        timeoutSeconds: fn.timeout ?? config.provider.timeout ?? 6,
      });
    }
  }
  return routes;
}

export function queueFunctions(config = readServerlessConfig()): QueueFunctionSpec[] {
  return Object.entries(config.functions)
    .filter(([, fn]) => fn.events?.some((e) => e.sqs))
    .map(([functionName, fn]) => ({ functionName, ...splitHandler(fn.handler), timeoutSeconds: fn.timeout ?? config.provider.timeout ?? 6 }));
}
