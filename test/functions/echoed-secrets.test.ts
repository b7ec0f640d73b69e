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

/** Every spelling of `key` an upstream's JSON can use that decodes back to it. */
const spellings = (key: string): Array<[string, string]> => [
  ['raw', key],
  ['\\/-escaped', key.replaceAll('/', '\\/')],
  ['\\u-escaped', [...key].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')],
  ['partly', key.slice(0, 15)],
];

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
    for (const part of [SVIX_KEY.slice(0, 12), SVIX_KEY.slice(0, 12).replaceAll('/', '\\/')]) expect(res.body).not.toContain(part);
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
    for (const part of [NEXTAUTH_KEY.slice(0, 12), NEXTAUTH_KEY.slice(0, 12).replaceAll('/', '\\/')]) expect(res.body).not.toContain(part);
  });
});
