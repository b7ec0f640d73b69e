import { once } from 'node:events';
import http, { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UpstreamTransportError } from '#lib/errors';
import { withPreconnect } from '#lib/upstream/preconnect';
import { preconnect, send } from '#lib/upstream/transport';
import { parsedLogs } from '../../support/logs.ts';

let server: Server;
let url: URL;
let connections = 0;
/** When set, the server drops every new connection at once (as an idle timeout would). */
let dropConnections = false;

beforeAll(async () => {
  server = createServer((_req, res) => res.writeHead(200).end('ok'));
  server.on('connection', (socket) => {
    connections++;
    if (dropConnections) socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});
beforeEach(() => {
  server.closeAllConnections();
  connections = 0;
  dropConnections = false;
});

const get = () => send({ method: 'GET', url, headers: {}, timeoutMs: 5_000 });

describe('an early upstream connection', () => {
  it('is opened before any request and carries the first one', async () => {
    const connected = once(server, 'connection');
    preconnect(url);
    await connected;
    expect((await get()).status).toBe(200);
    expect(connections).toBe(1);
  });

  it('is not used once the server has closed it: the request opens its own', async () => {
    dropConnections = true;
    const agent = withPreconnect(new http.Agent({ keepAlive: true }), 80);
    const early = agent.preconnect(url);
    await once(early!, 'close');
    dropConnections = false;
    const status = await new Promise((resolve, reject) => http.get(url, { agent }, (res) => resolve(res.resume().statusCode)).on('error', reject));
    expect(status).toBe(200);
    expect(connections).toBe(2);
    agent.destroy();
  });

  it('that fails (nothing listens) is only logged: it neither throws nor crashes, and the request fails as it would have', async () => {
    const closed = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const nowhere = new URL(`http://127.0.0.1:${port}/`);

    const agent = withPreconnect(new http.Agent({ keepAlive: true }), 80);
    const early = agent.preconnect(nowhere);
    // Not events.once: it would reject on the 'error' that comes first.
    await new Promise((resolve) => early!.once('close', resolve));
    expect(parsedLogs().find((l) => l.msg === 'early upstream connection failed')).toMatchObject({ level: 'warn', code: 'ECONNREFUSED' });
    expect(() => preconnect(nowhere)).not.toThrow();
    const err = await send({ method: 'GET', url: nowhere, headers: {}, timeoutMs: 1_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamTransportError);
    expect((err as UpstreamTransportError).kind).toBe('unreachable');
  });
});
