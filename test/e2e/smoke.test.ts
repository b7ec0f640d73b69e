import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mintToken } from '#local/jwt';
import { PROJECT_ROOT } from '#local/routes';
import { base64urlServerId } from '#local/sandbox/nextauth';
import { smoke } from '../../scripts/smoke/run.ts';
import { type LocalStack, startLocalStack } from '../support/local-stack.ts';

/**
 * `npm run smoke` against the local stack as it would run against a deployed stage: what it
 * prints line by line, its exit code, and that no credential ever shows in its output.
 */

let stack: LocalStack;
let html: Server;
let htmlUrl: string;

beforeAll(async () => {
  stack = await startLocalStack();
  // A host that is not authgate: any path answers 200 with a web page.
  html = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><h1>Welcome</h1>'));
  await new Promise<void>((resolve) => html.listen(0, '127.0.0.1', resolve));
  htmlUrl = `http://127.0.0.1:${(html.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await stack.close();
  await new Promise((resolve) => html.close(resolve));
});

async function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; lines: string[]; output: string }> {
  const lines: string[] = [];
  const code = await smoke(args, env, (line) => lines.push(...line.split('\n')));
  return { code, lines, output: lines.join('\n') };
}

/** The checks' verdicts as `[tag, label]`, without notes. */
const verdicts = (lines: string[]) =>
  lines.filter((l) => /^(ok|FAIL|skip) /.test(l)).map((l) => [l.slice(0, 4).trim(), l.slice(6).replace(/ \(.*\)$|: expected .*$/, '')]);

/** Every segment of a JWT, which must never be printed (the header is the same for all: not a secret). */
const expectNoToken = (output: string, token: string) => {
  expect(output).not.toContain(token);
  // Whole segments, and their starts (what an echo cut short would leave).
  for (const part of token.split('.').slice(1)) for (const piece of [part, part.slice(0, 16)]) expect(output).not.toContain(piece);
};

const ROUTES_401 = [
  'POST /api/v1/auth/app/{app_id}/expire-all',
  'POST /api/v1/auth/app-portal-access/{app_id}',
  'POST /api/v1/auth/dashboard-access/{app_id}',
  'POST /api/v1/auth/logout',
  'GET /servers/{serverid}/sessions/qr/login',
  'GET /servers/{serverid}/sessions',
  'POST /servers/{serverid}/sessions/logout',
  'POST /servers/{serverid}/sessions/provokelogin',
  'POST /servers/{serverid}/accounts/{accountid}/provokelogin',
  'POST /servers/{serverid}/users/{userid}/provokelogin',
];

const WITH_TOKEN = [
  ['ok', 'POST /api/v1/auth/app-portal-access/{app_id}: 200 {url, token} for --svix-app'],
  ['ok', 'POST /api/v1/auth/logout: 204 for that app token'],
  ['ok', 'POST /api/v1/auth/logout: 401 for it again: the logged-out token no longer works'],
  ['ok', 'POST /api/v1/auth/dashboard-access/{app_id}: 200 {url, token}, Deprecation: true'],
  ['ok', 'POST /api/v1/auth/logout: 204 for the dashboard-access token, not left valid'],
];
const NEXTAUTH = [
  ['ok', 'GET /servers/{serverid}/sessions: 200 LoginStatus, logged out, for a fresh nonce'],
  ['ok', 'GET /servers/{serverid}/sessions/qr/login: 200, the raw bytes of loginqrdata'],
  ['ok', 'GET /servers/{serverid}/sessions/qr/login: ?img=png: a PNG that decodes to the same bytes'],
  ...ROUTES_401.slice(6).map((r) => ['ok', `${r}: 400 without X-Nonce`]),
];

describe('npm run smoke against the local stack', () => {
  it('passes with a standard base64 server id; skips the 403 checks without a narrow token; prints no credential', async () => {
    const pushesBefore = stack.sandbox.nextauth.pushes().length;
    const { code, lines, output } = await run([
      '--url',
      stack.api.url,
      '--token',
      stack.devToken,
      '--svix-app',
      'app_demo',
      '--nextauth-server',
      stack.serverId,
    ]);
    expect(verdicts(lines)).toEqual([
      ['ok', 'stage answers as authgate'],
      ...ROUTES_401.map((r) => ['ok', `${r}: 401 without a token`]),
      ...ROUTES_401.map((r) => ['skip', `${r}: 403 without the route's scope`]),
      ...WITH_TOKEN,
      ['ok', 'POST /api/v1/auth/app/{app_id}/expire-all: 422 for expiry -1'],
      ...NEXTAUTH,
    ]);
    expect(lines.filter((l) => l.startsWith('skip')).map((l) => /\((.*)\)$/.exec(l)?.[1])).toEqual([
      'no --narrow-token',
      'no --narrow-token',
      'no --narrow-token',
      'the route asks for no scope',
      ...Array(6).fill('no --narrow-token'),
    ]);
    expect(lines.at(-1)).toBe('smoke: 24 ok, 0 failed, 10 skipped');
    expect(code).toBe(0);
    expectNoToken(output, stack.devToken);
    expect(output).not.toMatch(/appsk_|#key=/);
    // Never a provoke: no phone rang.
    expect(stack.sandbox.nextauth.pushes()).toHaveLength(pushesBefore);
  });

  it('passes with the base64url id, a narrow token (403s) and --destructive (expire-all of its own session only)', async () => {
    const narrow = await stack.token({ scopes: ['nextauth/users'] });
    const { code, lines, output } = await run(
      ['--url', `${stack.api.url}/`, '--svix-app', 'app_demo', '--nextauth-server', base64urlServerId(stack.serverId), '--destructive'],
      {
        AUTHGATE_TOKEN: stack.devToken,
        AUTHGATE_NARROW_TOKEN: narrow,
      },
    );
    expect(verdicts(lines)).toEqual([
      ['ok', 'stage answers as authgate'],
      ...ROUTES_401.map((r) => ['ok', `${r}: 401 without a token`]),
      ...ROUTES_401.map((r) => [
        r.endsWith('/logout') && r.includes('auth') ? 'skip' : r.includes('/users/') ? 'skip' : 'ok',
        `${r}: 403 without the route's scope`,
      ]),
      ...WITH_TOKEN,
      ['ok', 'POST /api/v1/auth/app-portal-access/{app_id}: 200 {url, token} for a second smoke session'],
      ['ok', 'POST /api/v1/auth/app/{app_id}/expire-all: 204 expiring that smoke session now'],
      ['ok', "POST /api/v1/auth/logout: 401 for that session's token: expired"],
      ...NEXTAUTH,
    ]);
    expect(lines).toContain(
      "skip  POST /servers/{serverid}/users/{userid}/provokelogin: 403 without the route's scope (the narrow token holds one of this route's scopes)",
    );
    expect(code).toBe(0);
    expectNoToken(output, stack.devToken);
    expectNoToken(output, narrow);
  });

  it('fails a token the stage refuses, saying why, exit 1, the token masked', async () => {
    const foreign = await mintToken(stack.authKey, { scopes: ['svix/app-portal-access'], issuer: 'https://someone-else.example/' });
    const { code, lines, output } = await run(['--url', stack.api.url, '--token', foreign, '--svix-app', 'app_demo', '--nextauth-server', stack.serverId]);
    expect(code).toBe(1);
    expect(lines).toContain(
      'FAIL  POST /api/v1/auth/app-portal-access/{app_id}: 200 {url, token} for --svix-app: expected 200, got 401 application/json {"message":"Unauthorized"} (the token was refused: expired, or not from the stage\'s jwtIssuerUrl / jwtAudience?)',
    );
    expect(lines.filter((l) => l.startsWith('FAIL'))).toHaveLength(13);
    expect(lines.at(-1)).toBe('smoke: 11 ok, 13 failed, 10 skipped');
    expectNoToken(output, foreign);
  });

  it('shows no body but the size when a stage echoes the token back', async () => {
    // Looks like authgate without a token; with one, answers 500 quoting the Authorization header.
    const echo = createServer((req, res) => {
      if (!req.headers.authorization) return res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"Unauthorized"}');
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`bad header: ${req.headers.authorization}`);
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    try {
      const { code, lines, output } = await run([
        '--url',
        `http://127.0.0.1:${(echo.address() as AddressInfo).port}`,
        '--token',
        stack.devToken,
        '--svix-app',
        'app_demo',
      ]);
      expect(code).toBe(1);
      // The body is never shown: its size is.
      const echoed = Buffer.byteLength(`bad header: Bearer ${stack.devToken}`);
      expect(lines).toContain(
        `FAIL  POST /api/v1/auth/app-portal-access/{app_id}: 200 {url, token} for --svix-app: expected 200, got 500 text/plain (${echoed} bytes) (see the function logs: secret or configuration?)`,
      );
      expectNoToken(output, stack.devToken);
    } finally {
      await new Promise((resolve) => echo.close(resolve));
    }
  });

  it('against a hostile host: prints no piece of the token in any spelling, stops reading a huge answer, decodes no oversized PNG', async () => {
    const token = stack.devToken;
    // Every spelling of the token an echo might use, cut into pieces small enough to slip past a
    // mask that looks for runs of token characters.
    const spellings = [
      token,
      token.toLowerCase(),
      token.toUpperCase(),
      [...token].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''),
      [...token].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''),
      Buffer.from(token).toString('base64'),
      Buffer.from(token).toString('hex'),
      ...token.split('.').map((segment) => Buffer.from(segment, 'base64url').toString('hex')),
    ];
    const pieces = (text: string) => text.match(/.{1,9}/g)?.join(' ') ?? '';
    const echo = spellings.map(pieces).join('\n');
    // A PNG that declares 5000 × 5000 pixels in a few hundred bytes.
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(5000, 0);
    ihdr.writeUInt32BE(5000, 4);
    ihdr.set([8, 6, 0, 0, 0], 8);
    const chunk = (type: string, data: Buffer) => {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(data.length);
      return Buffer.concat([length, Buffer.from(type, 'latin1'), data, Buffer.alloc(4)]);
    };
    const bomb = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
      chunk('IDAT', deflateSync(Buffer.alloc(64 * 1024))),
      chunk('IEND', Buffer.alloc(0)),
    ]);
    const qrData = Buffer.from('authgate-smoke-qr');
    let streamed = 0;
    const HUGE = 600 * 1024 * 1024;
    const hostile = createServer((req, res) => {
      const path = req.url ?? '/';
      if (!req.headers.authorization) return res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"Unauthorized"}');
      if (path.includes('/dashboard-access/')) {
        // 600 MB, sent only as fast as it is read.
        res.writeHead(200, { 'content-type': 'application/json' });
        const block = Buffer.alloc(64 * 1024, 0x20);
        const more = () => {
          while (streamed < HUGE) {
            streamed += block.length;
            if (!res.write(block)) return void res.once('drain', more);
          }
          res.end();
        };
        res.on('close', () => res.removeAllListeners('drain'));
        return more();
      }
      if (path.includes('/sessions/qr/login')) {
        return res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(path.includes('img=png') ? bomb : qrData);
      }
      if (/\/sessions\/?$/.test(path)) {
        return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ loggedin: false, loginqrdata: qrData.toString('base64') }));
      }
      // Everything else: the echo, in the body and in a content type of its own making.
      res.writeHead(500, { 'content-type': `text/${pieces(token).split(' ')[1]}; charset=${pieces(token).split(' ')[2]}` }).end(echo);
    });
    await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
    const decode = vi.spyOn(PNG.sync, 'read');
    try {
      const { code, lines, output } = await run([
        '--url',
        `http://127.0.0.1:${(hostile.address() as AddressInfo).port}`,
        '--token',
        token,
        '--svix-app',
        'app_demo',
        '--nextauth-server',
        stack.serverId,
      ]);
      expect(code).toBe(1);
      // No window of 8 characters of any spelling, in any case.
      const shown = output.toLowerCase();
      for (const spelling of spellings) {
        for (let i = 0; i + 8 <= spelling.length; i++) expect(shown).not.toContain(spelling.slice(i, i + 8).toLowerCase());
      }
      expect(lines).toContain(
        'FAIL  POST /api/v1/auth/app-portal-access/{app_id}: 200 {url, token} for --svix-app: expected 200, got 500 (other content type) (' +
          `${Buffer.byteLength(echo)} bytes) (see the function logs: secret or configuration?)`,
      );
      // The huge answer: read no further than 1 MiB (plus what the sockets buffer), and said so.
      expect(lines).toContain(
        'FAIL  POST /api/v1/auth/dashboard-access/{app_id}: 200 {url, token}, Deprecation: true: answered 200 with more than 1 MiB: stopped reading (every answer checked is a few KB)',
      );
      expect(streamed).toBeLessThan(16 * 1024 * 1024);
      // The PNG: refused from its header, never handed to the decoder.
      expect(lines).toContain(
        'FAIL  GET /servers/{serverid}/sessions/qr/login: ?img=png: a PNG that decodes to the same bytes: a PNG of 5000 × 5000 pixels, larger than 1200 × 1200 for a QR code asked at 300: not decoded',
      );
      expect(decode).not.toHaveBeenCalled();
    } finally {
      decode.mockRestore();
      hostile.closeAllConnections();
      await new Promise((resolve) => hostile.close(resolve));
    }
  }, 60_000);

  it('says clearly, without a stack, when the URL is wrong: refused, not authgate, TLS, DNS, not a URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const apiPort = new URL(stack.api.url).port;

    const cases: Array<[string, string]> = [
      [`http://127.0.0.1:${port}`, `FAIL  stage: connection to 127.0.0.1:${port} refused: nothing listens there; check the stage URL`],
      [
        htmlUrl,
        'FAIL  stage answers as authgate: POST /api/v1/auth/app/{app_id}/expire-all without a token answered 200 text/html (31 bytes), where an authgate stage answers 401 {"message":"Unauthorized"}: is --url the stage URL `serverless deploy` printed (with the stage path, if any)?',
      ],
      [
        `https://127.0.0.1:${apiPort}`,
        `FAIL  stage: TLS failed with 127.0.0.1:${apiPort}: the server does not speak TLS on this port (http:// rather than https://?) (ERR_SSL_WRONG_VERSION_NUMBER); an API Gateway stage URL is https with a valid certificate`,
      ],
      ['http://authgate-smoke.invalid', 'FAIL  stage: cannot resolve authgate-smoke.invalid'],
      ['stage.example.com', 'FAIL  stage: --url "stage.example.com" is not a URL; give the stage URL, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com'],
      ['https://me:pa55word@stage.example.com', 'FAIL  stage: --url must not hold credentials (user:password@); the token goes in --token'],
    ];
    for (const [url, expected] of cases) {
      const { code, lines, output } = await run(['--url', url, '--token', stack.devToken]);
      expect([url, code]).toEqual([url, 1]);
      expect(lines.find((l) => l.startsWith('FAIL'))?.startsWith(expected)).toBe(true);
      expect(lines.at(-1)).toBe('smoke: 0 ok, 1 failed, 0 skipped');
      expect(output).not.toMatch(/\n\s+at /);
      expect(output).not.toContain('pa55word');
      expectNoToken(output, stack.devToken);
    }
  });

  it('runs as `npm run --silent smoke` in a process of its own: exit 0, then exit 1 for a refused connection', async () => {
    const npm = (args: string[]) =>
      new Promise<{ code: number; out: string }>((resolve) => {
        execFile(
          'npm',
          ['run', '--silent', 'smoke', '--', ...args],
          { cwd: PROJECT_ROOT, env: { ...process.env, AUTHGATE_TOKEN: stack.devToken } },
          (err, stdout, stderr) => resolve({ code: typeof err?.code === 'number' ? err.code : err ? 1 : 0, out: `${stdout}${stderr}` }),
        );
      });
    const ok = await npm(['--url', stack.api.url, '--nextauth-server', base64urlServerId(stack.serverId)]);
    expect(ok.out).toMatch(/^smoke: 18 ok, 0 failed, 16 skipped$/m);
    expect(ok.code).toBe(0);
    const refused = await npm(['--url', 'http://127.0.0.1:9', '--timeout', '5']);
    expect(refused.out).toMatch(/^FAIL {2}stage: /m);
    expect(refused.out).not.toMatch(/\n\s+at /);
    expect(refused.code).toBe(1);
    expectNoToken(ok.out + refused.out, stack.devToken);
  }, 60_000);
});
