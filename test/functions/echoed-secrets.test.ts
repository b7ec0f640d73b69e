import { describe, expect, it } from 'vitest';
import { handler as getSession } from '#functions/nextauth-get-session';
import { handler as appPortalAccess } from '#functions/svix-app-portal-access';
import { invoke } from '../support/invoke.ts';
import { mockSecrets } from '../support/secrets.ts';
import { useTestUpstream } from '../support/upstream.ts';

// Keys holding '/' so that an upstream's JSON may spell them with `\/`, as JSON allows.
const SVIX_KEY = 'sk_echo/canary+key/f00d';
const NEXTAUTH_KEY = 'na/echo/canary+key=7Qx2';
mockSecrets({ 'test/svix': SVIX_KEY, 'test/nextauth': JSON.stringify({ apiKey: NEXTAUTH_KEY }) });
const upstream = useTestUpstream(
  () => [],
  (url) => ({ SVIX_API_URL: url, SVIX_SECRET_ID: 'test/svix', NEXTAUTH_API_URL: url, NEXTAUTH_SECRET_ID: 'test/nextauth' }),
);

const uEscaped = (text: string) => [...text].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');

/**
 * Every spelling of `key`, or of a part of it, that an upstream's JSON text can hold: what JSON
 * decodes back to it, and what a JSON string can quote (a JSON text of its own, a link, base64).
 */
const spellings = (key: string): Array<[string, string]> => [
  ['raw', key],
  ['\\/-escaped', key.replaceAll('/', '\\/')],
  ['\\u-escaped', uEscaped(key)],
  ['partly', key.slice(0, 15)],
  ['by its last 12 characters', key.slice(-12)],
  ['by 12 characters from its middle', key.slice(5, 17)],
  ['percent-encoded, upper case', encodeURIComponent(key)],
  ['percent-encoded, lower case', encodeURIComponent(key).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())],
  ['escaped twice (\\\\/)', key.replaceAll('/', '\\\\/')],
  ['\\u-escaped twice', uEscaped(key).replaceAll('\\u', '\\\\u')],
  ['in base64', Buffer.from(key).toString('base64')],
];

/** No 12 characters of `key` in a row, as they are or as JSON escapes a `/`. */
function expectNoWindow(body: string | undefined, key: string): void {
  for (let at = 0; at + 12 <= key.length; at++) {
    const window = key.slice(at, at + 12);
    expect(body).not.toContain(window);
    expect(body).not.toContain(window.replaceAll('/', '\\/'));
  }
}

describe('an upstream that echoes our key', () => {
  it.each(spellings(SVIX_KEY))('Svix: the key spelt %s never reaches the caller', async (_how, spelt) => {
    upstream.script({ status: 400, body: `{"code":"bad","detail":"got ${spelt}"}`, headers: { 'content-type': 'application/json' } });
    const res = await invoke(appPortalAccess, {
      method: 'POST',
      rawPath: '/api/v1/auth/app-portal-access/app_1',
      pathParameters: { app_id: 'app_1' },
      body: {},
    });
    expect(res.statusCode).toBe(400);
    expect(res.json).toEqual({ code: 'bad', detail: 'got [redacted]' });
    expectNoWindow(res.body, SVIX_KEY);
  });

  it.each(spellings(NEXTAUTH_KEY))('nextAuth: the key spelt %s never reaches the caller', async (_how, spelt) => {
    upstream.script({ status: 200, body: `{"loggedin":false,"hsid":"${spelt}"}`, headers: { 'content-type': 'application/json' } });
    const res = await invoke(getSession, {
      method: 'GET',
      rawPath: '/servers/c2VydmVy/sessions',
      pathParameters: { serverid: 'c2VydmVy' },
      headers: { 'x-nonce': 'n-1' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json).toEqual({ loggedin: false, hsid: '[redacted]' });
    expectNoWindow(res.body, NEXTAUTH_KEY);
  });

  it('Svix: the key inside a JSON text that Svix quotes in a string is cut there, and the answer stays JSON', async () => {
    const inner = JSON.stringify({ k: SVIX_KEY.replaceAll('/', '\\/') });
    upstream.script({ status: 400, body: JSON.stringify({ code: 'bad', detail: inner }), headers: { 'content-type': 'application/json' } });
    const res = await invoke(appPortalAccess, {
      method: 'POST',
      rawPath: '/api/v1/auth/app-portal-access/app_1',
      pathParameters: { app_id: 'app_1' },
      body: {},
    });
    expect(res.json).toEqual({ code: 'bad', detail: '{"k":"[redacted]' });
    expectNoWindow(res.body, SVIX_KEY);
  });
});
