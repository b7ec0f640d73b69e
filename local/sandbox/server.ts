import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loopbackHost, sameOrigin } from '../browser-guard.ts';
import { applyFault, FaultTable } from './faults.ts';
import { createNextAuthSandbox, type NextAuthSandbox } from './nextauth.ts';
import { applyRateDecision, RateLimiter, type RateLimitSettings } from './rate-limit.ts';
import { createSvixSandbox } from './svix.ts';
import type { Clock, SandboxRequest, SandboxUpstream } from './types.ts';

/**
 * The sandbox upstream: one loopback HTTP server that behaves like Svix and nextAuth, so the
 * whole gateway runs with no vendor account. Everything beyond the upstream APIs is under `/_sandbox/`.
 */

export interface SandboxOptions {
  port?: number;
  host?: string;
  svixKey: string;
  nextauth: { apiKey: string; serverId: string; servers?: Array<{ id: string; apiKey: string }>; limitedApiKey?: string };
  clock?: Clock;
  /** Base URL people reach the sandbox on (for the Svix magic link). */
  publicUrl?: string;
  /** Initial faults, as JSON (SANDBOX_FAULTS). */
  faults?: string;
  /** A rate limit per credential (rate-limit.ts); absent = none. */
  rateLimit?: RateLimitSettings;
  /** Told of every request once answered, with its status (the bench counts calls per target with it). */
  observe?: (request: SandboxRequest, status: number) => void;
  /**
   * Local ports that forward to this one (read at each request, so ports opened later count):
   * requests addressed (`Host`) to them are answered as if to the sandbox's own port. The
   * cold-request bench puts slowed TCP hops in front (scripts/cold-request.ts).
   */
  forwardedPorts?: ReadonlySet<number>;
}

export interface Sandbox {
  url: string;
  server: Server;
  nextauth: NextAuthSandbox;
  faults: FaultTable;
  rateLimit: RateLimiter;
  close(): Promise<void>;
}

export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clockOption = options.clock ? { clock: options.clock } : {};

  const faults = new FaultTable(options.faults);
  const rateLimit = new RateLimiter(options.rateLimit, options.clock);
  const nextauth = createNextAuthSandbox({ ...options.nextauth, ...clockOption });
  const upstreams: SandboxUpstream[] = [
    createSvixSandbox({ orgKey: options.svixKey, publicUrl: `${options.publicUrl ?? url}/_sandbox/svix/portal`, ...clockOption }),
    nextauth.upstream,
  ];

  server.on('request', async (req, res) => {
    // Pending nonces, phone actions and fault switches: loopback callers only, and no page of
    // another origin (docs/local.md#the-sandbox-answers-this-machine-only).
    const addressed = loopbackHost(req, options.forwardedPorts);
    if (!addressed || !sameOrigin(req)) {
      const detail = addressed
        ? 'the sandbox refuses requests from another Origin'
        : 'the sandbox answers requests addressed to 127.0.0.1, localhost or [::1] on its own port only';
      res.writeHead(403, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify({ code: 'forbidden', detail }));
      req.resume();
      return;
    }
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const request: SandboxRequest = {
        method: (req.method ?? 'GET').toUpperCase(),
        url: new URL(req.url ?? '/', url),
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      if (options.observe) res.on('finish', () => options.observe?.(request, res.statusCode));
      if (faults.admin(request, res) || rateLimit.admin(request, res)) return;
      // Before the faults: a real upstream refuses what is over the limit before doing anything else.
      if (applyRateDecision(rateLimit.take(request), res)) return;
      const fault = faults.take(request.method, request.url.pathname);
      if (fault && (await applyFault(fault, res))) return;
      for (const upstream of upstreams) {
        if (await upstream(request, res)) return;
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'not_found', detail: 'Not found' }));
    } catch (err) {
      process.stderr.write(`sandbox: ${err instanceof Error ? err.stack : String(err)}\n`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end('{}');
    }
  });

  return {
    url,
    server,
    nextauth,
    faults,
    rateLimit,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
