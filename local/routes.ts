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

type Authorizer = { name: string; scopes?: string[] };

interface ServerlessFunction {
  handler: string;
  timeout?: number;
  /** An authorizer object, or a `${self:...}` reference to one (per caller-authorization mode). */
  events?: Array<{ httpApi?: { method: string; path: string; authorizer?: Authorizer | string }; sqs?: unknown }>;
}

interface ServerlessConfig {
  provider: { timeout?: number };
  functions: Record<string, ServerlessFunction>;
  params?: { default?: Record<string, unknown> };
  custom?: Record<string, unknown>;
}

/**
 * The local API verifies JWTs only (it cannot check SigV4), so it always resolves the JWT
 * authorizers, whatever `callerAuth` a stage deploys with: locally every guarded route stays guarded.
 */
const LOCAL_PARAMS: Record<string, string> = { callerAuth: 'jwt' };

/**
 * Resolves the two variable forms serverless.yml uses where the local tools read it: `${param:name}`
 * and `${self:a.b.${param:c}}`. A whole-value reference keeps its type (a list stays a list), as in osls.
 */
export function resolveVariable(value: unknown, config: object, params: Record<string, unknown>): unknown {
  if (typeof value !== 'string') return value;
  const whole = /^\$\{param:(\w+)\}$/.exec(value);
  if (whole?.[1]) return params[whole[1]];
  const self = /^\$\{self:([\w.]+)\}$/.exec(value.replace(/\$\{param:(\w+)\}/g, (_, name: string) => String(params[name])));
  if (!self?.[1]) return value;
  return self[1].split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], config);
}

/** An authorizer reference (`${self:a.${param:b}.c}`), resolved with the local parameters. */
function resolveAuthorizer(value: Authorizer | string | undefined, config: ServerlessConfig): Authorizer | undefined {
  if (value === undefined || typeof value !== 'string') return value;
  const resolved = resolveVariable(value, config, { ...config.params?.default, ...LOCAL_PARAMS });
  if (!resolved || typeof resolved !== 'object' || !('name' in resolved)) {
    // An authorizer we cannot resolve must not leave the route open.
    throw new Error(`serverless.yml: cannot resolve the authorizer ${value} for the local API`);
  }
  return resolved as Authorizer;
}

export const PROJECT_ROOT = join(import.meta.dirname, '..');

export function readServerlessConfig(file = join(PROJECT_ROOT, 'serverless.yml')): ServerlessConfig {
  // CloudFormation tags (!Sub, !GetAtt) mean nothing here; keep them as plain values.
  const tags = ['!Sub', '!GetAtt', '!Ref', '!Join', '!If', '!Equals', '!Not', '!Select'].map((tag) => ({
    tag,
    resolve: (value: string) => value,
  }));
  // `merge`: serverless.yml shares blocks with YAML merge keys (`<<: *svixFunction`), as osls reads them.
  return parse(readFileSync(file, 'utf8'), { customTags: tags, merge: true, logLevel: 'error' }) as ServerlessConfig;
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
        ...(event.httpApi.authorizer ? { authorizer: resolveAuthorizer(event.httpApi.authorizer, config) } : {}),
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

/** The `source` values the job rules accept by default (params.default.jobEventSources), as a list. */
export function jobEventSources(config = readServerlessConfig()): string[] {
  return [config.params?.default?.jobEventSources ?? []].flat().map(String);
}
