import type { Agent } from 'node:http';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { log } from '../log.ts';

/**
 * Opening an upstream connection ahead of the first request, on a keep-alive agent: the TCP (and
 * TLS) handshake then runs during init, beside the secret's fetch, instead of after it.
 *
 * Node's agents have no public pre-connect, so this uses the documented extension point instead:
 * `agent.createConnection` (nodejs.org/api/http.html#agentcreateconnectionoptions-callback). The
 * early connection is made by the agent's own `createConnection` (so TLS gets the agent's options
 * and SNI) and handed to the first request for the same host and port; nothing is ever sent on it
 * before that request, so it is safe for every operation, a provoke-login included.
 *
 * An early connection that waits too long is closed rather than used: servers close connections
 * that sit idle (Node's default keep-alive timeout is 5 s), and a request written into a closing
 * connection fails. It is unref'd while it waits, so it never holds a process open.
 */

/** Longest an early connection waits for its first request. */
export const EARLY_CONNECTION_MAX_IDLE_MS = 4_000;

interface EarlyConnection {
  socket: Duplex & { ref?(): unknown; unref?(): unknown };
  openedAt: number;
  onError: (error: NodeJS.ErrnoException) => void;
}

export interface PreconnectingAgent {
  /**
   * Starts a connection to `url`'s host and port for the next request there, and returns it (none
   * when one is already waiting, or it could not be started); never throws.
   */
  preconnect(url: URL): Duplex | undefined;
}

/**
 * Gives `agent` a `preconnect(url)`.
 *
 * @example
 * const agent = withPreconnect(new https.Agent({ keepAlive: true }), 443);
 * agent.preconnect(new URL('https://api.eu.svix.com'));   // at init; the first request uses it
 */
export function withPreconnect<A extends Agent>(agent: A, defaultPort: number): A & PreconnectingAgent {
  const early = new Map<string, EarlyConnection>();
  const create = agent.createConnection.bind(agent);
  const keyOf = (host: unknown, port: unknown) => `${String(host)}:${String(port ?? defaultPort)}`;

  agent.createConnection = (options, callback) => {
    const key = keyOf(options.host, options.port);
    const waiting = early.get(key);
    if (waiting) {
      early.delete(key);
      if (!waiting.socket.destroyed && Date.now() - waiting.openedAt < EARLY_CONNECTION_MAX_IDLE_MS) {
        // The request attaches its own error listener before any I/O event can fire.
        waiting.socket.off('error', waiting.onError);
        waiting.socket.ref?.();
        return waiting.socket;
      }
      waiting.socket.destroy();
    }
    return create(options, callback);
  };

  const preconnect = (url: URL): Duplex | undefined => {
    // What `http.request(url)` hands the agent: brackets off an IPv6 host, the default port filled in.
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = url.port ? Number(url.port) : defaultPort;
    const key = keyOf(host, port);
    if (early.has(key)) return undefined;
    try {
      const options = { ...(agent as { options?: object }).options, host, port, ...(isIP(host) ? {} : { servername: host }) };
      const socket = create(options) as EarlyConnection['socket'] | null | undefined;
      if (!socket) return undefined;
      socket.unref?.();
      // Until a request takes it, nobody else listens: an unhandled 'error' would end the process.
      const onError = (error: NodeJS.ErrnoException) => log.warn('early upstream connection failed', { host, code: error.code });
      socket.on('error', onError);
      socket.once('close', () => {
        if (early.get(key)?.socket === socket) early.delete(key);
      });
      early.set(key, { socket, openedAt: Date.now(), onError });
      setTimeout(() => {
        if (early.get(key)?.socket !== socket) return;
        early.delete(key);
        socket.destroy();
      }, EARLY_CONNECTION_MAX_IDLE_MS).unref();
      return socket;
    } catch (error) {
      log.warn('early upstream connection not started', { host, error });
      return undefined;
    }
  };

  return Object.assign(agent, { preconnect });
}
