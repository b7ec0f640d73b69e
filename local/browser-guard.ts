import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/**
 * What the local servers (the console on the local API's port, the sandbox on its own) ask of a
 * request before answering it: they hold a development token, pending nonces and fault switches,
 * and a browser will send requests to loopback ports for any page it has open.
 *
 * - DNS rebinding: a page on `attacker.example` whose name is re-pointed at 127.0.0.1 reaches the
 *   port as same-origin, but its requests still say `Host: attacker.example`. Only loopback names
 *   and addresses, on the port the request actually came in on, are answered.
 * - Cross-site requests: a `text/plain` POST or a form from another page needs no CORS preflight
 *   and still changes state; the browser names its page in `Origin`, which must be our own.
 *   Tools (curl, the functions, `npm run job`) send no `Origin` and pass.
 *
 * @example
 * if (!loopbackHost(req) || !sameOrigin(req)) return forbidden(res);
 */

/** Loopback names and addresses: `localhost` (and `*.localhost`, RFC 6761 §6.3), 127.0.0.0/8, ::1. */
function isLoopback(hostname: string): boolean {
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) return true;
  if (isIP(hostname) === 4) return hostname.startsWith('127.');
  return hostname === '::1';
}

/**
 * The request is addressed (`Host`) to a loopback name or address, on the port it came in on
 * (so a page served by another local port cannot be rebound onto this one either), or on
 * one of `forwardedPorts`, local hops the caller knows forward to this port.
 */
export function loopbackHost(req: IncomingMessage, forwardedPorts?: ReadonlySet<number>): boolean {
  const host = req.headers.host;
  if (!host) return false;
  let url: URL;
  try {
    url = new URL(`http://${host}`);
  } catch {
    return false;
  }
  // `new URL` drops a port equal to the scheme's default; an absent port means 80.
  const port = url.port === '' ? 80 : Number(url.port);
  return (
    url.username === '' &&
    url.pathname === '/' &&
    isLoopback(url.hostname.replace(/^\[|\]$/g, '')) &&
    (port === req.socket.localPort || forwardedPorts?.has(port) === true)
  );
}

/** No `Origin` (not a browser, or a same-origin GET), or exactly the origin the request is addressed to. */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  return origin === undefined || origin === `http://${req.headers.host}`;
}

/**
 * For reads of what callers did: `sameOrigin`, and no request a browser marks as coming from
 * another site (`Sec-Fetch-Site`, sent even where Origin is not, e.g. a cross-site `<script src>`).
 */
export function sameOriginRead(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  return sameOrigin(req) && site !== 'cross-site' && site !== 'same-site';
}
