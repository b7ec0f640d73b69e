import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SANDBOX_SERVER_ID } from '../../local/sandbox/nextauth.ts';
import { type Sandbox, startSandbox } from '../../local/sandbox/server.ts';

/**
 * The sandbox's own port, over real HTTP, as a browser page elsewhere would reach it: a cross-site
 * `text/plain` POST (no preflight) or a DNS-rebound name must not play the phone or read nonces;
 * curl and the functions (no Origin, Host 127.0.0.1:port) still work.
 */

let sandbox: Sandbox;
let port: number;

beforeAll(async () => {
  sandbox = await startSandbox({ svixKey: 'sk_sandbox_guard', nextauth: { apiKey: 'guard-key', serverId: DEFAULT_SANDBOX_SERVER_ID } });
  port = Number(new URL(sandbox.url).port);
});
afterAll(() => sandbox.close());

interface Sent {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** One request to the sandbox's port with exactly these headers (fetch would not let us set Host). */
function send({ method = 'GET', path, headers = {}, body }: Sent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, method, path, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    })
      .on('error', reject)
      .end(body);
  });
}

const scan = (headers: Record<string, string>) =>
  send({
    method: 'POST',
    path: '/_sandbox/nextauth/scan',
    headers: { 'content-type': 'text/plain', ...headers },
    body: JSON.stringify({ serverid: DEFAULT_SANDBOX_SERVER_ID, nonce: 'guard-nonce', accountid: 1 }),
  });

describe('the sandbox answers only loopback, same-origin requests', () => {
  it('refuses a cross-origin text/plain POST to /_sandbox/nextauth/scan (no preflight needed)', async () => {
    const refused = await scan({ origin: 'http://attacker.example' });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toEqual({ code: 'forbidden', detail: expect.stringContaining('Origin') });
    // The browser's `null` origin (a sandboxed iframe, a file: page) is not ours either.
    expect((await scan({ origin: 'null' })).status).toBe(403);
    // Another local port is another origin.
    expect((await scan({ origin: 'http://127.0.0.1:3000' })).status).toBe(403);
  });

  it('refuses a foreign Host (DNS rebinding) whatever the Origin: no pending nonce is listed', async () => {
    for (const headers of <Array<Record<string, string>>>[
      { host: 'evil.example' },
      { host: `evil.example:${port}` },
      { host: `evil.example:${port}`, origin: `http://evil.example:${port}` },
      { host: `127.0.0.1.evil.example:${port}` },
      { host: `127.0.0.1:${port + 1}` },
      { host: '127.0.0.1' },
      { host: `user@127.0.0.1:${port}` },
      { host: `192.168.1.10:${port}` },
    ]) {
      const answer = await send({ path: '/_sandbox/nextauth/pushes', headers });
      expect([headers.host, answer.status]).toEqual([headers.host, 403]);
      expect(answer.body).not.toContain('nonce');
    }
    // The upstream routes too: the whole port is guarded.
    expect((await send({ path: `/servers/x/sessions/`, headers: { host: `evil.example:${port}` } })).status).toBe(403);
  });

  it('answers curl, the functions and its own pages: loopback Host on its port, no Origin or its own', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      expect([host, (await send({ path: '/_sandbox/nextauth/pushes', headers: { host } })).status]).toEqual([host, 200]);
    }
    expect((await scan({})).status).toBe(200);
    expect((await scan({ origin: `http://127.0.0.1:${port}` })).status).toBe(200);
    expect((await scan({ host: `localhost:${port}`, origin: `http://localhost:${port}` })).status).toBe(200);
    // As the functions call it: fetch to sandbox.url.
    expect((await fetch(`${sandbox.url}/_sandbox/faults`)).status).toBe(200);
  });
});
