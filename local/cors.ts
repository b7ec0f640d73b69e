import { parseArgs } from 'node:util';
import { readServerlessConfig, resolveVariable } from './routes.ts';

/**
 * HTTP API's native CORS, for the local API: the configuration is read from serverless.yml
 * (`provider.httpApi.cors`, driven by the `cors*` stage parameters) and applied the way API
 * Gateway applies a `CorsConfiguration`:
 *
 * - a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered by the
 *   gateway itself, on any path, before routes and authorizers: 204, with the allow headers when
 *   the origin is allowed and none when it is not;
 * - every other answer to a request with an allowed `Origin` gets `Access-Control-Allow-Origin`
 *   (and the exposed headers), whoever made it: a function, the authorizer or the router;
 * - CORS headers a function returns are ignored: the configuration decides.
 *
 * With CORS off there is none of this: `OPTIONS` is an unrouted method (404) and no answer carries
 * a CORS header.
 */

export interface CorsConfig {
  allowOrigins: string[];
  allowHeaders: string[];
  allowMethods: string[];
  exposeHeaders: string[];
  maxAge?: number;
  allowCredentials?: boolean;
}

/** What `provider.httpApi.cors` holds once resolved (osls's schema). */
interface ServerlessCors {
  allowedOrigins?: string | string[];
  allowedHeaders?: string | string[];
  allowedMethods?: string | string[];
  exposedResponseHeaders?: string | string[];
  maxAge?: number | string;
  allowCredentials?: boolean;
}

/** osls's defaults for `cors: true`. */
const OSLS_DEFAULT_HEADERS = ['Content-Type', 'X-Amz-Date', 'Authorization', 'X-Api-Key', 'X-Amz-Security-Token', 'X-Amz-User-Agent', 'X-Amzn-Trace-Id'];

type Config = ReturnType<typeof readServerlessConfig> & { provider: { httpApi?: { cors?: unknown } } };

const list = (value: unknown): string[] => (value === undefined || value === null ? [] : Array.isArray(value) ? value.map(String) : [String(value)]);

/**
 * The CORS configuration serverless.yml gives a stage: its default parameters, overridden by
 * `overrides` as `--param="name=value"` would. Undefined when CORS is off.
 *
 * @example
 * corsFromServerless({ cors: 'on', corsAllowedOrigins: ['http://localhost:5173'] });
 */
export function corsFromServerless(overrides: Record<string, unknown> = {}, config = readServerlessConfig() as Config): CorsConfig | undefined {
  const params = { ...config.params?.default, ...overrides };
  const cors = resolveVariable(config.provider.httpApi?.cors, config, params);
  if (!cors) return undefined;
  if (cors === true) return { allowOrigins: ['*'], allowHeaders: OSLS_DEFAULT_HEADERS, allowMethods: ['OPTIONS'], exposeHeaders: [] };
  if (typeof cors !== 'object') throw new Error(`serverless.yml: cannot resolve provider.httpApi.cors (${String(cors)}) for the local API`);
  const field = (name: keyof ServerlessCors) => resolveVariable((cors as ServerlessCors)[name], config, params);
  const maxAge = field('maxAge');
  return {
    allowOrigins: list(field('allowedOrigins')),
    allowHeaders: list(field('allowedHeaders')),
    allowMethods: list(field('allowedMethods')),
    exposeHeaders: list(field('exposedResponseHeaders')),
    ...(maxAge === undefined || maxAge === '' ? {} : { maxAge: Number(maxAge) }),
    ...(field('allowCredentials') === true ? { allowCredentials: true } : {}),
  };
}

/**
 * `--param="name=value"` arguments, as osls takes them. Other flags (`npm start -- --strict`, …)
 * are left to whoever reads them.
 */
export function stageParams(args: string[]): Record<string, string> {
  const { values } = parseArgs({ args, options: { param: { type: 'string', multiple: true } }, strict: false, allowPositionals: true });
  const params: Record<string, string> = {};
  for (const pair of [values.param ?? []].flat()) {
    if (typeof pair !== 'string') throw new Error('--param wants name=value');
    const eq = pair.indexOf('=');
    if (eq < 1) throw new Error(`--param wants name=value, got "${pair}"`);
    params[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return params;
}

/** API Gateway's origin rules: `*`, an exact origin, or a prefix ending in `*` (`https://*`). */
function allowedOrigin(cors: CorsConfig, origin: string | undefined): string | undefined {
  if (!origin) return undefined;
  const lower = origin.toLowerCase();
  for (const allowed of cors.allowOrigins) {
    if (allowed === '*') return '*';
    const pattern = allowed.toLowerCase();
    if (pattern.endsWith('*') ? lower.startsWith(pattern.slice(0, -1)) : lower === pattern) return origin;
  }
  return undefined;
}

export const isPreflight = (method: string, headers: Record<string, string>): boolean =>
  method === 'OPTIONS' && headers.origin !== undefined && headers['access-control-request-method'] !== undefined;

/** The preflight's headers: none for an origin the configuration does not allow. */
export function preflightHeaders(cors: CorsConfig, headers: Record<string, string>): Record<string, string> {
  const origin = allowedOrigin(cors, headers.origin);
  if (!origin) return {};
  return {
    'access-control-allow-origin': origin,
    ...(cors.allowMethods.length ? { 'access-control-allow-methods': cors.allowMethods.join(',') } : {}),
    ...(cors.allowHeaders.length ? { 'access-control-allow-headers': cors.allowHeaders.join(',') } : {}),
    ...(cors.maxAge !== undefined ? { 'access-control-max-age': String(cors.maxAge) } : {}),
    ...(cors.allowCredentials ? { 'access-control-allow-credentials': 'true' } : {}),
  };
}

/** The headers every other answer to this request gets. */
export function responseHeaders(cors: CorsConfig, headers: Record<string, string>): Record<string, string> {
  const origin = allowedOrigin(cors, headers.origin);
  if (!origin) return {};
  return {
    'access-control-allow-origin': origin,
    ...(cors.exposeHeaders.length ? { 'access-control-expose-headers': cors.exposeHeaders.join(',') } : {}),
    ...(cors.allowCredentials ? { 'access-control-allow-credentials': 'true' } : {}),
  };
}

/** A function's own CORS headers, which API Gateway ignores when it has a CORS configuration. */
export const isCorsHeader = (name: string): boolean => name.toLowerCase().startsWith('access-control-');
