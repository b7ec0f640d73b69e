import { afterEach, describe, expect, it } from 'vitest';
import { handler as provokeLogin } from '#functions/nextauth-provoke-login';
import { handler as appPortalAccess } from '#functions/svix-app-portal-access';
import { MAX_JSON_DEPTH } from '#lib/json-body';
import { clearSecretCache } from '#lib/secrets';
import { DEFAULT_SANDBOX_SERVER_ID } from '#local/sandbox/nextauth';
import { invoke } from '../support/invoke.ts';
import { logLines } from '../support/logs.ts';
import { useBothSandboxes } from '../support/upstream.ts';

/**
 * Any caller could raise the 5xx alarm with one request: a body nested 60,000 deep made something
 * recurse past the stack (RangeError, 500). The depth is bounded right after the parse, before
 * anything recurses, and answered as the family's own validation error, with no upstream call.
 */

const ORG_KEY = 'sk_canary_depth_org_key_01';
const API_KEY = 'nextauth-depth-canary-key-01';
const upstream = useBothSandboxes({ svix: ORG_KEY, nextauth: API_KEY, serverId: DEFAULT_SANDBOX_SERVER_ID });
afterEach(() => clearSecretCache());

/** `{"a":{"a":…{}…}}`, `depth` objects deep, as text (JSON.stringify of it would recurse too). */
const nested = (depth: number) => `${'{"a":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}`;
/** `[[…[]…]]`, `depth` arrays deep. */
const nestedArrays = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

const provoke = (body: string) =>
  invoke(provokeLogin, {
    method: 'POST',
    rawPath: `/servers/${DEFAULT_SANDBOX_SERVER_ID}/sessions/provokelogin`,
    pathParameters: { serverid: DEFAULT_SANDBOX_SERVER_ID },
    headers: { 'x-nonce': 'nonce-depth', 'content-type': 'application/json' },
    body,
  });

const portal = (body: string) =>
  invoke(appPortalAccess, {
    method: 'POST',
    rawPath: '/api/v1/auth/app-portal-access/app_demo/',
    pathParameters: { app_id: 'app_demo' },
    headers: { 'content-type': 'application/json' },
    body,
  });

describe('a body nested deeper than the gateway allows', () => {
  it("answers nextAuth's 400 for a 60,000-deep announceinfo.info, without calling nextAuth", async () => {
    const res = await provoke(`{"announceinfo":{"info":${nested(60_000)}}}`);
    expect(res.statusCode).toBe(400);
    expect(res.json).toEqual({ code: 'validation_error', detail: `body: The body is nested deeper than ${MAX_JSON_DEPTH} levels.` });
    expect(upstream.requests).toHaveLength(0);
    expect(logLines.join('\n')).not.toContain('RangeError');
  });

  it("answers Svix's 422 HTTPValidationError for a deep Svix body, without calling Svix", async () => {
    const res = await portal(`{"featureFlags":${nestedArrays(60_000)}}`);
    expect(res.statusCode).toBe(422);
    expect(res.json).toEqual({ detail: [{ loc: ['body'], msg: `The body is nested deeper than ${MAX_JSON_DEPTH} levels.`, type: 'value_error.jsondecode' }] });
    expect(upstream.requests).toHaveLength(0);
  });

  it('refuses arrays as well as objects, one level past the bound', async () => {
    // root → featureFlags → MAX_JSON_DEPTH arrays: one level too many.
    expect((await portal(`{"featureFlags":${nestedArrays(MAX_JSON_DEPTH)}}`)).statusCode).toBe(422);
    expect(upstream.requests).toHaveLength(0);
  });

  it('accepts a body exactly at the bound (the root counts as one level)', async () => {
    // root → announceinfo → info → (MAX_JSON_DEPTH - 3) more objects = MAX_JSON_DEPTH levels.
    const info = nested(MAX_JSON_DEPTH - 2);
    upstream.script({ status: 200 });
    const res = await provoke(`{"announceinfo":{"info":${info}}}`);
    expect(res.statusCode).toBe(200);
    expect(upstream.requests.map((r) => r.body)).toEqual([`{"announceinfo":{"info":${info}}}`]);
  });
});
