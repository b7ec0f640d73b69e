import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { inLambda, setting, type UrlVariable } from '../config.ts';
import { UpstreamTransportError } from '../errors.ts';
import { log } from '../log.ts';
import { withPreconnect } from './preconnect.ts';

/**
 * One HTTP exchange with an upstream, on keep-alive connections reused across invocations.
 *
 * Why `node:http(s)` and not `fetch`: nextAuth's getQrLogin takes a JSON body on a GET, which
 * `fetch` refuses; Node's `fetch` also loads undici lazily on the first call, a cold-start cost
 * this module avoids; and one transport for both upstreams keeps one retry policy.
 */

export interface UpstreamCall {
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body?: Buffer;
  /** Abort the attempt after this many milliseconds. */
  timeoutMs: number;
}

export interface UpstreamReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** API Gateway cannot return more than ~6 MB from a Lambda anyway; refuse to buffer more. */
const MAX_RESPONSE_BYTES = 6 * 1024 * 1024;

const agentOptions = { keepAlive: true, maxSockets: 64, keepAliveMsecs: 10_000 };
const agents = { 'http:': withPreconnect(new http.Agent(agentOptions), 80), 'https:': withPreconnect(new https.Agent(agentOptions), 443) };

/** Opens the connection the next call to `url`'s host will use (during init: `preconnectAtInit`). */
export function preconnect(url: URL): void {
  agents[url.protocol === 'https:' ? 'https:' : 'http:'].preconnect(url);
}

/**
 * In Lambda, opens the connection to the upstream at `baseUrlVariable` during init, so that its
 * handshake overlaps the secret's fetch (credentials.ts, `prefetchSecretAtInit`, says why) instead
 * of following it. It cannot fail init: a missing or malformed URL is logged here and reported by
 * the first request, with the variable's name.
 *
 * @example
 * preconnectAtInit(SVIX_API_URL);   // client.ts, when a family's client is made at module scope
 */
export function preconnectAtInit(baseUrlVariable: UrlVariable): void {
  if (!inLambda()) return;
  try {
    preconnect(setting(baseUrlVariable));
  } catch (error) {
    log.warn('upstream pre-connect skipped', { variable: baseUrlVariable.name, error });
  }
}

export function send(call: UpstreamCall): Promise<UpstreamReply> {
  const isHttps = call.url.protocol === 'https:';
  const requestFn = isHttps ? https.request : http.request;
  const headers: Record<string, string> = { ...call.headers };
  if (call.body) headers['content-length'] = String(call.body.length);

  return new Promise((resolve, reject) => {
    let req: http.ClientRequest;
    try {
      req = requestFn(call.url, {
        method: call.method,
        headers,
        agent: agents[isHttps ? 'https:' : 'http:'],
        signal: AbortSignal.timeout(Math.max(1, Math.floor(call.timeoutMs))),
      });
    } catch (err) {
      // Node validates headers synchronously; such a request can never succeed, so it is no transport fault to retry.
      reject(new UpstreamTransportError('invalid', 'the upstream request could not be built', { cause: err }));
      return;
    }
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          reject(new UpstreamTransportError('invalid', 'the upstream answer is larger than the gateway can pass on'));
          req.destroy();
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (err) => reject(toTransportError(err)));
    });
    req.on('error', (err) => reject(toTransportError(err)));
    req.end(call.body);
  });
}

function toTransportError(err: Error): UpstreamTransportError {
  const timedOut = err.name === 'AbortError' || err.name === 'TimeoutError' || (err.cause as Error | undefined)?.name === 'TimeoutError';
  // The message names the failure class only; the URL and headers stay out of it.
  const code = (err as NodeJS.ErrnoException).code;
  return timedOut
    ? new UpstreamTransportError('timeout', 'upstream did not answer in time', { cause: err })
    : new UpstreamTransportError('unreachable', `upstream connection failed${code ? ` (${code})` : ''}`, { cause: err });
}
