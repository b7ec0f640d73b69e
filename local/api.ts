import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { parseClaimList } from '#lib/tenancy';
import { printable } from './audit.ts';
import { type CorsConfig, responseHeaders as corsHeaders, isCorsHeader, isPreflight, preflightHeaders } from './cors.ts';
import { httpEvent, lambdaContext } from './events.ts';
import { authorize, type DevKey, TENANT_CLAIMS } from './jwt.ts';
import { httpRoutes, PROJECT_ROOT, type RouteSpec } from './routes.ts';

/**
 * The local API: API Gateway HTTP API in ~100 lines, for development and the e2e tests.
 * It invokes the same handler modules Lambda runs, with real payload 2.0 events, on the routes
 * declared in serverless.yml. Like HTTP API it serves `/x/` on the route `/x`.
 *
 * Chosen over serverless-offline by measurement: its first answer comes seconds sooner (no esbuild
 * build, no worker start; figures in docs/performance.md, reasons in docs/decisions.md). What it
 * shares with AWS is what matters here: event shape, routing, binary bodies. What it does not
 * model: per-function environments and containers (one process, one env), unless its handlers come
 * from local/packaged/.
 */

export type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2>;

interface CompiledRoute extends RouteSpec {
  pattern: RegExp;
  params: string[];
}

/** HTTP API's payload limit. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

function compile(route: RouteSpec): CompiledRoute {
  const params: string[] = [];
  const source = route.path
    .replace(/\/$/, '')
    .split('/')
    .map((segment) => {
      const param = /^\{(\w+)\}$/.exec(segment);
      if (!param?.[1]) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      params.push(param[1]);
      return '([^/]+)';
    })
    .join('/');
  return { ...route, params, pattern: new RegExp(`^${source}/?$`) };
}

/** Repeated headers joined with "," as API Gateway (payload 2.0) does; Node would silently drop some of them. */
function joinedHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] ?? '').toLowerCase();
    const value = req.rawHeaders[i + 1] ?? '';
    out[name] = name in out ? `${out[name]},${value}` : value;
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, headers);
  res.end(body);
}

export interface LocalApiOptions {
  port?: number;
  host?: string;
  routes?: RouteSpec[];
  /**
   * The key the local JWT authorizer verifies with. Routes that declare an authorizer in
   * serverless.yml are closed without a valid token, exactly as in AWS; there is no way to open them.
   */
  authKey: DevKey;
  /**
   * The pessimistic reading of HTTP API (`npm start -- --strict`, or LOCAL_API_STRICT=1): the
   * path is percent-decoded before routes are matched, so a `%2F` inside `{serverid}` becomes a
   * `/` and no route matches (404), and a GET's body is dropped. AWS documents that it decodes
   * request parameters and users report both effects; neither is certain, so the nextAuth flow is
   * tested both ways. Off: routes match the raw path and parameters are decoded afterwards.
   */
  strict?: boolean;
  /**
   * Where a route's handler comes from. Default: the TypeScript module serverless.yml names, in this
   * process; `npm start -- --packaged` serves each route from its function's zip instead (local/packaged/).
   */
  handlerFor?: (route: RouteSpec) => Handler | Promise<Handler>;
  /** HTTP API's CORS configuration (`corsFromServerless()`); absent = off, as by default in AWS. */
  cors?: CorsConfig;
  /** Extra handling before routing (the console page, for instance). Return true when answered. */
  extra?: (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;
}

export interface LocalApi {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** The tenant claims (local/jwt.ts) and the path parameter each one binds. */
const TENANT_PARAMETERS: ReadonlyArray<[claim: string, parameter: string]> = [
  [TENANT_CLAIMS.svix, 'app_id'],
  [TENANT_CLAIMS.nextauth, 'serverid'],
];

/**
 * The development token's `"*"` (every tenant) is a local convenience, so it lives here, not in
 * lib/: a claim listing `*` is handed on listing the id this request names instead. In AWS a `*`
 * is just an id no app or server has (docs/authorization.md).
 */
function withTenantWildcard(context: unknown, pathParameters: Record<string, string>): unknown {
  const jwt = (context as { jwt?: { claims?: Record<string, unknown> } }).jwt;
  if (!jwt?.claims) return context;
  // A copy: the verified token's claims are cached across requests (jwt.ts).
  const claims = { ...jwt.claims };
  for (const [claim, parameter] of TENANT_PARAMETERS) {
    const listed = parseClaimList(claims[claim]);
    const id = pathParameters[parameter];
    if (listed.includes('*') && id !== undefined) claims[claim] = listed.filter((entry) => entry !== '*').concat(id);
  }
  return { ...(context as object), jwt: { ...jwt, claims } };
}

export async function startLocalApi(options: LocalApiOptions): Promise<LocalApi> {
  const routes = (options.routes ?? httpRoutes()).map(compile);
  const handlers = new Map<string, Promise<Handler>>();
  const load = (route: RouteSpec) => {
    if (options.handlerFor) return Promise.resolve(options.handlerFor(route));
    const key = `${route.modulePath}#${route.exportName}`;
    let handler = handlers.get(key);
    if (!handler) {
      const url = pathToFileURL(join(PROJECT_ROOT, `${route.modulePath}.ts`)).href;
      handler = import(url).then((mod: Record<string, Handler>) => mod[route.exportName] as Handler);
      handlers.set(key, handler);
    }
    return handler;
  };

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (options.extra && (await options.extra(req, res, url))) return;
      const method = (req.method ?? 'GET').toUpperCase();
      const headers = joinedHeaders(req);
      if (options.cors) {
        // API Gateway answers preflights itself, before routes and authorizers.
        if (isPreflight(method, headers)) return send(res, 204, '', preflightHeaders(options.cors, headers));
        for (const [name, value] of Object.entries(corsHeaders(options.cors, headers))) res.setHeader(name, value);
      }
      const routedPath = options.strict ? safeDecode(url.pathname) : url.pathname;
      const match = routes.map((route) => ({ route, m: route.method === method ? route.pattern.exec(routedPath) : null })).find((candidate) => candidate.m);
      if (!match?.m) return send(res, 404, JSON.stringify({ message: 'Not Found' }), { 'content-type': 'application/json' });

      let authorizerContext: unknown;
      if (match.route.authorizer) {
        const outcome = await authorize(options.authKey, headers.authorization, match.route.authorizer);
        if (!outcome.ok) return send(res, outcome.status, JSON.stringify(outcome.body), { 'content-type': 'application/json' });
        authorizerContext = outcome.context;
      }
      const received = await readBody(req);
      const body = received && options.strict && method === 'GET' ? Buffer.alloc(0) : received;
      if (body === undefined) return send(res, 413, JSON.stringify({ message: 'Request Entity Too Large' }), { 'content-type': 'application/json' });
      const pathParameters: Record<string, string> = {};
      for (const [i, name] of match.route.params.entries()) {
        // API Gateway hands handlers decoded path parameters (strict: decoded once, before routing).
        const raw = match.m[i + 1] ?? '';
        pathParameters[name] = options.strict ? raw : safeDecode(raw);
      }
      const event = httpEvent({
        method,
        rawPath: url.pathname,
        rawQueryString: url.search.slice(1),
        headers,
        routeKey: `${match.route.method} ${match.route.path}`,
        pathParameters,
        body,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        ...(authorizerContext ? { authorizer: withTenantWildcard(authorizerContext, pathParameters) } : {}),
      });
      const handler = await load(match.route);
      const result = await handler(event, lambdaContext({ functionName: match.route.functionName, timeoutMs: match.route.timeoutSeconds * 1000 }));
      if (typeof result === 'string' || !result) return send(res, 200, result ?? '', { 'content-type': 'application/json' });
      const responseHeaders: Record<string, string> = {};
      for (const [k, v] of Object.entries(result.headers ?? {})) if (!(options.cors && isCorsHeader(k))) responseHeaders[k] = String(v);
      const bytes = result.isBase64Encoded ? Buffer.from(result.body ?? '', 'base64') : Buffer.from(result.body ?? '');
      if (result.cookies?.length) res.setHeader('set-cookie', result.cookies);
      send(res, result.statusCode ?? 200, bytes, responseHeaders);
    } catch (err) {
      // What API Gateway answers when the integration itself fails.
      // A stack keeps its lines; anything else a message holds (ESC, CR, NUL) is escaped (audit.ts).
      const text = err instanceof Error ? String(err.stack) : String(err);
      process.stderr.write(`local api: handler failed: ${text.split('\n').map(printable).join('\n')}\n`);
      if (!res.headersSent) send(res, 500, JSON.stringify({ message: 'Internal Server Error' }), { 'content-type': 'application/json' });
    }
  });

  // Requests Node refuses to parse (headers over its 16 KB, bad framing) get an answer in API
  // Gateway's words, as they would in AWS, instead of a bare status line.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // With a listener, closing the socket is ours; a socket mid-response gets no second status line.
    if (!socket.writable || (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
      socket.destroy();
      return;
    }
    const [status, message] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large'] : [400, 'Bad Request'];
    const body = JSON.stringify({ message });
    socket.end(`HTTP/1.1 ${status} ${message}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
