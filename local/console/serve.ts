import { readFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { type AuditFeed, callerOf, processAudit, resultOf, targetOf } from '../audit.ts';
import { loopbackHost, sameOrigin, sameOriginRead } from '../browser-guard.ts';

/**
 * The local console (docs/local.md): one page at the local API's root that uses the gateway the way an
 * operator's web app would, plus the few same-origin helpers it needs. Passed to `startLocalApi`
 * as `extra`; answers only `/`, `/_console/*` and `/_sandbox/*` and leaves every other path to
 * the API routes.
 *
 *   GET  /                          the page (assets under /_console/)
 *   GET  /_console/config           {serverId, devToken}
 *   POST /_console/jobs/{kind}      runs a job (logout | expire-all) in process; 501 without runJob
 *   GET  /_console/audit            the latest audit records, newest first (same-origin only)
 *   *    /_sandbox/*                streamed to the sandbox upstream, so the page needs no CORS (same-origin only)
 */

export interface ConsoleOptions {
  sandboxUrl: string;
  serverId: string;
  devToken?: string;
  runJob?: (kind: 'logout' | 'expire-all', messages: unknown[]) => Promise<unknown>;
  /** Where the Audit view's records come from; by default this process's feed (`processAudit`). */
  audit?: Pick<AuditFeed, 'records'>;
}

const DIR = import.meta.dirname;
/** The only files served; nothing else under local/console/ is reachable. */
const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/_console/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
  '/_console/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
};
const JOB_KINDS = ['logout', 'expire-all'] as const;
type JobKind = (typeof JOB_KINDS)[number];
const MAX_JOB_BODY_BYTES = 1024 * 1024;
/** Hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded by a proxy. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);
/**
 * Not sent on to the sandbox either: the page's Origin was checked here (it is the console's, which
 * the sandbox would refuse as another origin); the sandbox sees this proxy as a local tool.
 */
const CHECKED_HERE = new Set(['origin', 'referer', 'sec-fetch-site', 'sec-fetch-mode', 'sec-fetch-dest']);

function json(res: ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
  return true;
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function proxy(req: IncomingMessage, res: ServerResponse, url: URL, sandboxUrl: string): Promise<true> {
  const target = new URL(url.pathname + url.search, sandboxUrl);
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && !CHECKED_HERE.has(name)) headers[name] = value;
  }
  return new Promise((resolve) => {
    const upstream = httpRequest(target, { method: req.method ?? 'GET', headers }, (answer) => {
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
      }
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, out);
      answer.pipe(res);
      answer.on('end', () => resolve(true));
      answer.on('error', () => {
        res.destroy();
        resolve(true);
      });
    });
    upstream.on('error', (err) => {
      // A sandbox fault may reset the connection: say so the way a gateway would.
      if (!res.headersSent) json(res, 502, { message: 'Bad Gateway', detail: `sandbox: ${err.message}` });
      else res.destroy();
      resolve(true);
    });
    // If the page gives up (a "hang" fault, a closed tab), stop waiting on the sandbox too.
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
}

async function job(req: IncomingMessage, res: ServerResponse, kind: JobKind, runJob: ConsoleOptions['runJob']): Promise<true> {
  if (!runJob) return json(res, 501, { message: 'Not Implemented', detail: 'this console was started without runJob' });
  const body = await readBody(req, MAX_JOB_BODY_BYTES);
  if (body === undefined) return json(res, 413, { message: 'Request Entity Too Large' });
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return json(res, 400, { message: 'body must be JSON: one job message or an array of them' });
  }
  const messages = Array.isArray(parsed) ? parsed : [parsed];
  try {
    return json(res, 200, (await runJob(kind, messages)) ?? null);
  } catch (err) {
    process.stderr.write(`console: ${kind} job failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    return json(res, 500, { message: 'job failed', detail: err instanceof Error ? err.message : String(err) });
  }
}

export function consoleRoutes(options: ConsoleOptions): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> {
  return async (req, res, url) => {
    const path = url.pathname;
    const method = (req.method ?? 'GET').toUpperCase();
    const asset = ASSETS[path];
    const ours = asset !== undefined || path === '/_console' || path.startsWith('/_console/') || path === '/_sandbox' || path.startsWith('/_sandbox/');
    if (!ours) return false;
    // It hands out the development token: no DNS-rebound name (local/browser-guard.ts).
    if (!loopbackHost(req)) return json(res, 403, { message: 'Forbidden', detail: 'the console answers on 127.0.0.1, localhost or [::1] only' });

    if (asset) {
      if (method !== 'GET' && method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        return json(res, 405, { message: 'Method Not Allowed' });
      }
      const bytes = await readFile(join(DIR, asset.file));
      res.writeHead(200, { 'content-type': asset.type, 'content-length': bytes.length, 'cache-control': 'no-cache' });
      res.end(method === 'HEAD' ? undefined : bytes);
      return true;
    }

    if (path.startsWith('/_sandbox')) {
      // The sandbox's routes change state (faults, scans, push confirmations): page-only, as jobs are.
      if (!sameOrigin(req)) return json(res, 403, { message: 'Forbidden', detail: 'cross-origin sandbox call' });
      return proxy(req, res, url, options.sandboxUrl);
    }

    if (path === '/_console/config' && method === 'GET') {
      return json(res, 200, { serverId: options.serverId, devToken: options.devToken ?? null });
    }
    if (path === '/_console/audit') {
      if (method !== 'GET') {
        res.setHeader('allow', 'GET');
        return json(res, 405, { message: 'Method Not Allowed' });
      }
      if (!sameOriginRead(req)) return json(res, 403, { message: 'Forbidden', detail: 'cross-origin audit read' });
      // Each record with its caller, target and result already read as `npm start` prints them (audit.ts).
      const records = (options.audit ?? processAudit).records();
      return json(res, 200, { records: records.map((r) => ({ ...r, shown: { caller: callerOf(r), target: targetOf(r), result: resultOf(r) } })) });
    }
    const jobMatch = /^\/_console\/jobs\/([^/]+)\/?$/.exec(path);
    if (jobMatch) {
      const kind = JOB_KINDS.find((k) => k === jobMatch[1]);
      if (!kind) return json(res, 404, { message: 'Not Found', detail: `job kinds: ${JOB_KINDS.join(', ')}` });
      if (method !== 'POST') {
        res.setHeader('allow', 'POST');
        return json(res, 405, { message: 'Method Not Allowed' });
      }
      if (!sameOrigin(req)) return json(res, 403, { message: 'Forbidden', detail: 'cross-origin job submission' });
      return job(req, res, kind, options.runJob);
    }
    return json(res, 404, { message: 'Not Found' });
  };
}
