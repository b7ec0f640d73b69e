import { existsSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { log } from '#lib/log';
import { AuditFeed } from '#local/audit';
import { type ConsoleOptions, consoleRoutes } from '#local/console/serve';
import { PROJECT_ROOT } from '#local/routes';
import { runJobInProcess } from '#local/run-job';
import { base64urlServerId } from '#local/sandbox/nextauth';
import { decodeQrPng } from '../../scripts/smoke/qr.ts';
import { type LocalStack, startLocalStack } from '../support/local-stack.ts';

/**
 * The local console (docs/local.md) in a real browser: Debian's `chromium` driven by playwright-core,
 * clicking through a QR login and a Svix portal round trip against the local API and sandbox.
 * Nothing is downloaded: without a system Chromium (scripts/install-browser.sh installs it) the
 * browser part is skipped, and says so.
 */

/** CHROMIUM_PATH, when set, is the only browser tried (so `CHROMIUM_PATH=none` shows the skip). */
const CHROMIUM_CANDIDATES = process.env.CHROMIUM_PATH ? [process.env.CHROMIUM_PATH] : ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
const executablePath = CHROMIUM_CANDIDATES.find((path) => existsSync(path));
const SCREENSHOT = join(PROJECT_ROOT, 'test-artifacts', 'console.png');
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

if (!executablePath) {
  console.warn(`console e2e SKIPPED: no Chromium at ${CHROMIUM_CANDIDATES.join(', ')}; run scripts/install-browser.sh or set CHROMIUM_PATH`);
}

/** The audit records this process logs, as `npm start` collects them for the console. */
const auditFeed = new AuditFeed();
let restoreLogSink: (() => void) | undefined;
// After the shared setup's per-test capture sink, so lines are both captured and fed.
beforeEach(() => {
  restoreLogSink = auditFeed.tee();
});
afterEach(() => restoreLogSink?.());

/** A stack whose console options can be swapped per test (the sandbox URL is known only after start). */
let stack: LocalStack;
const consoleOptions: Partial<ConsoleOptions> = {};
let routes: ReturnType<typeof consoleRoutes> | undefined;
const configure = (extra: Partial<ConsoleOptions> = {}) => {
  routes = consoleRoutes({ sandboxUrl: stack.sandbox.url, serverId: stack.serverId, devToken: stack.devToken, audit: auditFeed, ...consoleOptions, ...extra });
};

beforeAll(async () => {
  stack = await startLocalStack({ extra: (req, res, url) => (routes ? routes(req, res, url) : false) });
  configure();
});
afterAll(() => stack?.close());

describe('console routes (no browser)', () => {
  it('serves the page at / and its assets, and leaves every other path to the API', async () => {
    const page = await fetch(`${stack.api.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('data-testid="qr-card"');
    expect((await fetch(`${stack.api.url}/_console/console.js`)).headers.get('content-type')).toMatch(/javascript/);
    // An API route still answers (401 without a token: the authorizer ran, not the console).
    const api = await fetch(`${stack.api.url}/api/v1/auth/app-portal-access/app_demo/`, { method: 'POST', body: '{}' });
    expect(api.status).toBe(401);
    expect((await fetch(`${stack.api.url}/nowhere`)).status).toBe(404);
  });

  it('gives the page its config', async () => {
    const config = await (await fetch(`${stack.api.url}/_console/config`)).json();
    expect(config).toEqual({ serverId: stack.serverId, devToken: stack.devToken });
  });

  it('proxies /_sandbox/* with method, body and status', async () => {
    const put = await fetch(`${stack.api.url}/_sandbox/faults/svix.logout`, { method: 'PUT', body: JSON.stringify({ status: 503 }) });
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual({ faults: { 'svix.logout': { status: 503 } } });
    const bad = await fetch(`${stack.api.url}/_sandbox/faults/svix.logout`, { method: 'PUT', body: 'nope' });
    expect(bad.status).toBe(400);
    expect((await fetch(`${stack.api.url}/_sandbox/faults`, { method: 'DELETE' })).status).toBe(200);
    expect(await (await fetch(`${stack.sandbox.url}/_sandbox/faults`)).json()).toMatchObject({ faults: {} });
  });

  it('refuses cross-origin /_sandbox/* calls (a page elsewhere cannot set faults or play the phone)', async () => {
    const { port } = new URL(stack.api.url);
    const statusWithOrigin = (origin: string) =>
      new Promise<number>((resolve, reject) => {
        request({ host: '127.0.0.1', port, method: 'PUT', path: '/_sandbox/faults/svix.logout', headers: { origin, host: `127.0.0.1:${port}` } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on('error', reject)
          .end(JSON.stringify({ status: 503 }));
      });
    expect(await statusWithOrigin('http://attacker.example')).toBe(403);
    // Nothing reached the sandbox.
    expect(await (await fetch(`${stack.sandbox.url}/_sandbox/faults`)).json()).toMatchObject({ faults: {} });
    expect(await statusWithOrigin(`http://127.0.0.1:${port}`)).toBe(200);
    expect((await fetch(`${stack.api.url}/_sandbox/faults`, { method: 'DELETE' })).status).toBe(200);
  });

  it('serves the audit records it saw at /_console/audit, to the page only', async () => {
    log.info('audit', { operation: 'svix.expire-all', caller: { id: 'jwt:routes-test' }, target: { appId: 'app_routes' }, status: 204 });
    const res = await fetch(`${stack.api.url}/_console/audit`);
    expect(res.status).toBe(200);
    const { records } = (await res.json()) as { records: Array<Record<string, unknown>> };
    expect(records[0]).toMatchObject({ msg: 'audit', operation: 'svix.expire-all', target: { appId: 'app_routes' }, status: 204 });
    const { port } = new URL(stack.api.url);
    const statusWith = (headers: Record<string, string>, method = 'GET') =>
      new Promise<number>((resolve, reject) => {
        request({ host: '127.0.0.1', port, method, path: '/_console/audit', headers: { host: `127.0.0.1:${port}`, ...headers } }, (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        })
          .on('error', reject)
          .end();
      });
    expect(await statusWith({ origin: 'http://attacker.example' })).toBe(403);
    expect(await statusWith({ 'sec-fetch-site': 'cross-site' })).toBe(403);
    expect(await statusWith({ origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' })).toBe(200);
    expect(await statusWith({}, 'POST')).toBe(405);
  });

  it('answers 501 for jobs without runJob, and runs them with it', async () => {
    const post = (kind: string, body: string) =>
      fetch(`${stack.api.url}/_console/jobs/${kind}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect((await post('logout', '{}')).status).toBe(501);
    const calls: unknown[] = [];
    configure({
      runJob: async (kind, messages) => {
        calls.push([kind, messages]);
        return { targets: [{ ok: true }] };
      },
    });
    try {
      const res = await post('expire-all', '{"appId":"app_demo"}');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ targets: [{ ok: true }] });
      expect(calls).toEqual([['expire-all', [{ appId: 'app_demo' }]]]);
      expect((await post('expire-all', 'not json')).status).toBe(400);
      expect((await post('reboot', '{}')).status).toBe(404);
    } finally {
      configure();
    }
  });

  it('hands the dev token only to requests addressed to a loopback name or an IP (no DNS rebinding)', async () => {
    const { port } = new URL(stack.api.url);
    const statusWithHost = (host: string) =>
      new Promise<number>((resolve, reject) => {
        request({ host: '127.0.0.1', port, path: '/_console/config', headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on('error', reject)
          .end();
      });
    expect(await statusWithHost(`localhost:${port}`)).toBe(200);
    expect(await statusWithHost(`attacker.example:${port}`)).toBe(403);
  });
});

describe.skipIf(!executablePath)('console page in headless Chromium', () => {
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const byId = (id: string) => page.locator(`[data-testid="${id}"]`);
  const logText = () => byId('log').innerText();

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: executablePath as string, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(`${stack.api.url}/`);
    await page.locator('body[data-ready="true"]').waitFor();
  }, 30_000);

  afterAll(async () => {
    if (page) {
      mkdirSync(join(PROJECT_ROOT, 'test-artifacts'), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true }).catch(() => {});
    }
    await browser?.close();
  });

  it('completes a QR login by clicking: nonce, QR code, scan, logged in as alice; then log out and push back in', async () => {
    const nonce = (await byId('qr-nonce').innerText()).trim();
    expect(nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(await byId('config-server-id').innerText()).toBe(stack.serverId);

    // The QR code is a real one: what it encodes is the session's loginqrdata.
    await page.locator('[data-testid="qr-image"]:not([hidden])').waitFor();
    expect(await byId('qr-image').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBe(240);
    await page.locator('[data-testid="qr-status"][data-state="logged-out"]').waitFor();
    const status = JSON.parse(
      await (
        await fetch(`${stack.api.url}/servers/${encodeURIComponent(stack.serverId)}/sessions/`, {
          headers: { 'x-nonce': nonce, authorization: `Bearer ${stack.devToken}` },
        })
      ).text(),
    );
    expect(decodeQrPng(await byId('qr-image').screenshot()).toString('base64')).toBe(status.loginqrdata);

    await byId('qr-account').selectOption('1');
    await byId('qr-scan').click();
    await page.locator('[data-testid="qr-status"][data-state="logged-in"]').waitFor();
    expect(await byId('qr-status').innerText()).toContain('logged in as alice (account 1)');

    await byId('qr-logout').click();
    await page.locator('[data-testid="qr-status"][data-state="logged-out"]').waitFor();
    // Confirmed once the push has reached the phone, as a person would: clicked at once, the confirm
    // can overtake the provoke call on a loaded machine and find no push to confirm.
    const pushed = page.waitForResponse((r) => r.url().endsWith('/sessions/provokelogin') && r.status() === 200);
    await byId('qr-provoke').click();
    await pushed;
    await byId('qr-confirm').click();
    await page.locator('[data-testid="qr-status"][data-state="logged-in"]').waitFor();
    expect(await byId('qr-status').innerText()).toContain('logged in as alice');

    // The log documents each call: the encoded path, the headers sent, the status.
    const log = await logText();
    const encoded = base64urlServerId(stack.serverId);
    expect(log).toMatch(new RegExp(`GET\\s+${escapeRegExp(`/servers/${encoded}/sessions/qr/login?img=png&s=240`)}\\s+200`));
    expect(log).toMatch(new RegExp(`POST\\s+${escapeRegExp(`/servers/${encoded}/sessions/provokelogin`)}\\s+200`));
    expect(log).toMatch(/POST\s+\/_sandbox\/nextauth\/scan\s+200/);
    expect(log).toContain(`X-Nonce: ${nonce}`);
    expect(log).toMatch(/Authorization: Bearer eyJ\S+ \(dev token\)/);
  });

  it('does a Svix portal round trip: link and valid token, log out, token invalid; expire-all too', async () => {
    await byId('svix-app').fill('app_demo');
    await byId('svix-portal').click();
    await page.locator('[data-testid="svix-token-state"][data-valid="true"]').waitFor();
    const token = (await byId('svix-token').innerText()).trim();
    expect(token).toMatch(/^appsk_/);
    expect(await byId('svix-link').getAttribute('href')).toMatch(new RegExp(`^${stack.sandbox.url}/_sandbox/svix/portal#key=`));

    await byId('svix-logout').click();
    await page.locator('[data-testid="svix-token-state"][data-valid="false"]').waitFor();
    expect(await byId('svix-token-state').innerText()).toContain('revoked');
    const log = await logText();
    expect(log).toMatch(/POST\s+\/api\/v1\/auth\/logout\/\s+204/);
    expect(log).toMatch(/Authorization: Bearer appsk_\S+ \(app token\)/);

    await byId('svix-portal').click();
    await page.locator('[data-testid="svix-token-state"][data-valid="true"]').waitFor();
    await byId('svix-expire-all').click();
    await page.locator('[data-testid="svix-token-state"][data-valid="false"]').waitFor();
    expect(await byId('svix-token-state').innerText()).toContain('expired');
  });

  it('sets a sandbox fault from the page and shows the gateway answer in the log', async () => {
    await byId('fault-route').selectOption('svix.app-portal-access');
    await byId('fault-kind').selectOption('503');
    await byId('fault-apply').click();
    await page.locator('[data-testid="fault-table"]', { hasText: 'svix.app-portal-access' }).waitFor();
    await byId('svix-portal').click();
    await page
      .locator('[data-testid="log-entry"]', { hasText: /app-portal-access\/app_demo\/\s*5\d\d/ })
      .first()
      .waitFor();
    await byId('fault-kind').selectOption('none');
    await byId('fault-apply').click();
    await page.locator('[data-testid="fault-table"]', { hasText: 'no faults' }).waitFor();
  });

  it('sets a sandbox rate limit from the page: beyond the burst the gateway passes the 429 on', async () => {
    await page.locator('[data-testid="rate-limit-state"]', { hasText: 'off' }).waitFor();
    await byId('rate-limit-rate').fill('0.1');
    await byId('rate-limit-burst').fill('1');
    await byId('rate-limit-apply').click();
    await page.locator('[data-testid="rate-limit-state"]', { hasText: 'on: 0.1/s per credential, burst 1' }).waitFor();
    await byId('svix-portal').click();
    await byId('svix-portal').click();
    await page
      .locator('[data-testid="log-entry"]', { hasText: /app-portal-access\/app_demo\/\s*429/ })
      .first()
      .waitFor();
    await byId('rate-limit-refresh').click();
    await page.locator('[data-testid="rate-limit-state"]', { hasText: /refused [1-9]/ }).waitFor();
    await byId('rate-limit-off').click();
    await page.locator('[data-testid="rate-limit-state"]', { hasText: 'off' }).waitFor();
  });

  it('runs a job from the Jobs card against a rate-limited sandbox: deferred, then delivered again and done', async () => {
    configure({ runJob: (kind, messages) => runJobInProcess(kind, messages) });
    const rateLimit = `${stack.sandbox.url}/_sandbox/rate-limit`;
    try {
      // One call every 4 s on the Svix org key: of the two targets, one is refused with 429 (at 1/s a
      // loaded machine could stall a second between them, and both would pass). Which one is the
      // race's: a message's targets go out together (lib/jobs/runner.ts), in no promised order.
      expect((await fetch(rateLimit, { method: 'PUT', body: JSON.stringify({ rate: 0.25, burst: 1 }) })).status).toBe(200);
      await byId('job-kind').selectOption('expire-all');
      await byId('job-message').fill(
        JSON.stringify({
          targets: [
            { appId: 'app_demo', sessionIds: ['s-1'] },
            { appId: 'app_demo', sessionIds: ['s-2'] },
          ],
        }),
      );
      await byId('job-submit').click();
      await page.locator('[data-testid="job-result"]', { hasText: 'done 1, unfinished 0' }).waitFor({ timeout: 20_000 });
      // Read as `npm run job` prints it: a line a delivery, then the summary (the full report below).
      const lines = (await byId('job-result').innerText()).split('\n');
      expect(lines.slice(0, 3)).toEqual([
        expect.stringMatching(/^message 1 +delivery 1 +\S+ +deferred \d+ s: target [01]: 429/),
        expect.stringMatching(/^message 1 +delivery 2 +\S+ +continued \(verified\): done$/),
        'done 1, unfinished 0, dead-lettered 0 (2 deliveries, 1 continuation)',
      ]);
    } finally {
      await fetch(rateLimit, { method: 'DELETE' });
      configure();
    }
  }, 30_000);

  it('shows an audit row for an operation: caller, operation, target, status', async () => {
    await byId('svix-app').fill('app_2');
    await byId('svix-portal').click();
    await page.locator('[data-testid="svix-token-state"][data-valid="true"]').waitFor();
    const row = page.locator('[data-testid="audit-row"][data-operation="svix.app-portal-access"]', { hasText: 'appId=app_2' }).first();
    await row.waitFor();
    const text = await row.innerText();
    expect(text).toContain('local-developer');
    expect(text).toMatch(/\b200\b/);
  });

  it('threw no script errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
