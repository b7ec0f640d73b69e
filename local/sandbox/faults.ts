import type { ServerResponse } from 'node:http';
import { readSetting, replyJson as reply } from './admin.ts';
import type { SandboxRequest } from './types.ts';

/**
 * Fault injection for the sandbox upstream, per route: added latency, an error status (429 with
 * Retry-After, 500, 502, 503), a connection reset, or a hang. Set at start-up with
 * `SANDBOX_FAULTS='{"svix.app-portal-access":{"status":503,"retryAfter":1}}'` or at run time:
 *
 *   GET    /_sandbox/faults               the table
 *   PUT    /_sandbox/faults/{route}       body: a Fault
 *   DELETE /_sandbox/faults[/{route}]     clear one or all
 *
 * `route` is an operation name below, or `*` for every upstream call.
 */

export interface Fault {
  /** Added before the answer (or before the fault). */
  latencyMs?: number;
  status?: 429 | 500 | 502 | 503;
  /** Seconds, sent as `Retry-After` with `status`. */
  retryAfter?: number;
  reset?: boolean;
  hang?: boolean;
  /** Apply to this many calls, then clear itself; absent = every call. */
  times?: number;
  /** Apply to this fraction of calls (0–1); absent = all. */
  probability?: number;
}

const ROUTES: Array<[name: string, method: string, pattern: RegExp]> = [
  ['svix.app-portal-access', 'POST', /^\/api\/v1\/auth\/app-portal-access\/[^/]+\/?$/],
  ['svix.expire-all', 'POST', /^\/api\/v1\/auth\/app\/[^/]+\/expire-all\/?$/],
  ['svix.logout', 'POST', /^\/api\/v1\/auth\/logout\/?$/],
  ['nextauth.get-qr-login', 'GET', /^\/servers\/[^/]+\/sessions\/qr\/login\/?$/],
  ['nextauth.get-session', 'GET', /^\/servers\/[^/]+\/sessions\/?$/],
  ['nextauth.logout', 'POST', /^\/servers\/[^/]+\/sessions\/logout\/?$/],
  ['nextauth.provoke-login', 'POST', /^\/servers\/[^/]+\/sessions\/provokelogin\/?$/],
  ['nextauth.provoke-login-on-account', 'POST', /^\/servers\/[^/]+\/accounts\/[^/]+\/provokelogin\/?$/],
  ['nextauth.provoke-login-on-user', 'POST', /^\/servers\/[^/]+\/users\/[^/]+\/provokelogin\/?$/],
];
const FAULT_ROUTES = ROUTES.map(([name]) => name);

export function routeOf(method: string, path: string): string | undefined {
  return ROUTES.find(([, m, pattern]) => m === method && pattern.test(path))?.[0];
}

function parseFault(input: unknown): Fault | string {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return 'a fault is a JSON object';
  const f = input as Record<string, unknown>;
  const known = ['latencyMs', 'status', 'retryAfter', 'reset', 'hang', 'times', 'probability'];
  const unknown = Object.keys(f).filter((k) => !known.includes(k));
  if (unknown.length) return `unknown fields: ${unknown.join(', ')}`;
  if (f.status !== undefined && ![429, 500, 502, 503].includes(f.status as number)) return 'status must be 429, 500, 502 or 503';
  for (const k of ['latencyMs', 'retryAfter', 'times'] as const) {
    if (f[k] !== undefined && (!Number.isInteger(f[k]) || (f[k] as number) < 0)) return `${k} must be a non-negative integer`;
  }
  if (f.probability !== undefined && (typeof f.probability !== 'number' || f.probability < 0 || f.probability > 1)) return 'probability must be 0..1';
  return f as Fault;
}

export class FaultTable {
  private readonly faults = new Map<string, Fault>();

  constructor(initial?: string) {
    if (!initial) return;
    for (const [route, fault] of Object.entries(JSON.parse(initial) as Record<string, unknown>)) {
      const parsed = parseFault(fault);
      if (typeof parsed === 'string') throw new Error(`SANDBOX_FAULTS ${route}: ${parsed}`);
      this.set(route, parsed);
    }
  }

  set(route: string, fault: Fault): void {
    if (route !== '*' && !FAULT_ROUTES.includes(route)) throw new Error(`unknown route ${route}`);
    this.faults.set(route, { ...fault });
  }

  clear(route?: string): void {
    if (route) this.faults.delete(route);
    else this.faults.clear();
  }

  list(): Record<string, Fault> {
    return Object.fromEntries(this.faults);
  }

  /** The fault for this request, if one applies; counts it down. */
  take(method: string, path: string, random = Math.random): Fault | undefined {
    const route = routeOf(method, path);
    if (!route) return undefined;
    const key = this.faults.has(route) ? route : this.faults.has('*') ? '*' : undefined;
    const fault = key ? this.faults.get(key) : undefined;
    if (!key || !fault) return undefined;
    if (fault.probability !== undefined && random() >= fault.probability) return undefined;
    if (fault.times !== undefined) {
      fault.times -= 1;
      if (fault.times <= 0) this.faults.delete(key);
    }
    return fault;
  }

  /** The admin routes. Returns true when it answered. */
  admin(req: SandboxRequest, res: ServerResponse): boolean {
    const match = /^\/_sandbox\/faults(?:\/([^/]+))?\/?$/.exec(req.url.pathname);
    if (!match) return false;
    const route = match[1] ? decodeURIComponent(match[1]) : undefined;
    if (req.method === 'GET') return reply(res, 200, { routes: FAULT_ROUTES, faults: this.list() });
    if (req.method === 'DELETE') {
      this.clear(route);
      return reply(res, 200, { faults: this.list() });
    }
    if (req.method !== 'PUT' || !route) return reply(res, 405, { error: 'use GET, PUT /_sandbox/faults/{route} or DELETE' });
    const fault = readSetting(req, res, parseFault);
    if (fault === undefined) return true;
    try {
      this.set(route, fault);
    } catch (err) {
      return reply(res, 404, { error: (err as Error).message, routes: FAULT_ROUTES });
    }
    return reply(res, 200, { faults: this.list() });
  }
}

/**
 * Plays a fault. Returns true when the fault answered the request (status, reset, hang);
 * false when only latency was added and the upstream should answer as usual.
 */
export async function applyFault(fault: Fault, res: ServerResponse): Promise<boolean> {
  if (fault.latencyMs) await new Promise((resolve) => setTimeout(resolve, fault.latencyMs));
  if (fault.hang) return true; // never answer; the client's timeout is what is under test
  if (fault.reset) {
    res.socket?.resetAndDestroy();
    return true;
  }
  if (fault.status) {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (fault.retryAfter !== undefined) headers['retry-after'] = String(fault.retryAfter);
    const body =
      fault.status === 429
        ? { code: 'rate_limit_exceeded', detail: 'Too many requests (sandbox fault).' }
        : { code: 'server_error', detail: 'Injected fault.' };
    res.writeHead(fault.status, headers).end(JSON.stringify(body));
    return true;
  }
  return false;
}
