import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { scopesOf } from '../../local/jwt.ts';
import { httpRoutes, type RouteSpec } from '../../local/routes.ts';
import { base64urlServerId } from '../../local/sandbox/nextauth.ts';
import { QR_PNG_SIDE, refusePng } from './png.ts';
import { decodeQrPng } from './qr.ts';
import { AnswerTooLarge, describeReply, type Reply, type StageCall, type StageRequest } from './stage.ts';

/**
 * The checks of `npm run smoke`, in order, against a deployed stage. Every route comes from
 * serverless.yml (a route added there is checked for 401/403 with no change here). Nothing here
 * rings a phone or ends a session someone uses: provokes and nextAuth logout are only sent
 * without `X-Nonce` (refused before any upstream call), expire-all only with an invalid body
 * unless `destructive`, and then only for the smoke test's own Svix session.
 */

export type Outcome = { result: 'ok' | 'fail' | 'skip'; label: string; note?: string };

export interface SmokeOptions {
  call: StageCall;
  token: string;
  narrowToken?: string;
  svixApp?: string;
  nextauthServer?: string;
  destructive: boolean;
  report(outcome: Outcome): void;
  /** Credentials met on the way (app tokens, magic links), to be masked in all output. */
  secret(value: string): void;
}

/** A check's verdict: `undefined` is a pass; a string says what was wrong. */
type Verdict = string | undefined;

const UNAUTHORIZED = JSON.stringify({ message: 'Unauthorized' });
const FORBIDDEN = JSON.stringify({ message: 'Forbidden' });

const jsonOf = (reply: Reply): unknown => {
  try {
    return JSON.parse(reply.body.toString('utf8'));
  } catch {
    return undefined;
  }
};

const isGatewayAnswer = (reply: Reply, body: string) => reply.body.toString('utf8').replace(/\s/g, '') === body;

/** Why a request sent with the caller's token may have been refused, for the operator. */
function hint(reply: Reply): string {
  if (reply.status === 401 && isGatewayAnswer(reply, UNAUTHORIZED))
    return " (the token was refused: expired, or not from the stage's jwtIssuerUrl / jwtAudience?)";
  if (reply.status === 403 && isGatewayAnswer(reply, FORBIDDEN)) return " (the token lacks this route's scope)";
  if (reply.status === 403) return " (tenant binding: does the token's claim list this app or server?)";
  if (reply.status === 503 || reply.status === 500) return ' (see the function logs: secret or configuration?)';
  return '';
}

const expectStatus = (reply: Reply, status: number): Verdict =>
  reply.status === status ? undefined : `expected ${status}, got ${describeReply(reply)}${hint(reply)}`;

/** The scopes a token claims, read without verifying: only to plan checks. */
function tokenScopes(token: string): string[] {
  try {
    return scopesOf(decodeJwt(token));
  } catch {
    return [];
  }
}

function pathOf(route: RouteSpec, o: SmokeOptions): string {
  const values: Record<string, string> = {
    app_id: encodeURIComponent(o.svixApp ?? 'authgate-smoke'),
    serverid: base64urlServerId(o.nextauthServer ?? 'c21va2U'),
    accountid: '1',
    userid: 'authgate-smoke',
  };
  return route.path.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? 'x');
}

const routeName = (route: RouteSpec) => `${route.method} ${route.path}`;

export async function runChecks(o: SmokeOptions): Promise<void> {
  const routes = httpRoutes();
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const check = async (label: string, run: () => Promise<Verdict>) => {
    let verdict: Verdict;
    try {
      verdict = await run();
    } catch (err) {
      // One oversized answer fails its check; the others still run.
      if (!(err instanceof AnswerTooLarge)) throw err;
      verdict = err.message;
    }
    o.report(verdict === undefined ? { result: 'ok', label } : { result: 'fail', label, note: verdict });
    return verdict === undefined;
  };
  const skip = (label: string, note: string) => o.report({ result: 'skip', label, note });
  const request = (route: RouteSpec, extra: Partial<StageRequest> = {}) => o.call({ method: route.method as 'GET' | 'POST', path: pathOf(route, o), ...extra });
  const route = (functionName: string) => routes.find((r) => r.functionName === functionName);

  // 1. Is this an authgate stage at all? Network failures abort here (StageUnreachable).
  const guarded = routes.find((r) => r.authorizer);
  if (!guarded) throw new Error('serverless.yml declares no guarded route');
  let probe: Reply | AnswerTooLarge;
  try {
    probe = await request(guarded);
  } catch (err) {
    if (!(err instanceof AnswerTooLarge)) throw err;
    probe = err;
  }
  if (probe instanceof AnswerTooLarge || !(probe.status === 401 && isGatewayAnswer(probe, UNAUTHORIZED))) {
    o.report({
      result: 'fail',
      label: 'stage answers as authgate',
      note: `${routeName(guarded)} without a token ${probe instanceof AnswerTooLarge ? probe.message : `answered ${describeReply(probe)}`}, where an authgate stage answers 401 ${UNAUTHORIZED}: is --url the stage URL \`serverless deploy\` printed (with the stage path, if any)?`,
    });
    return;
  }
  o.report({ result: 'ok', label: 'stage answers as authgate' });

  // 2. Every route refuses a caller without a token: the authorizer, or (Svix logout) Svix's own 401.
  for (const r of routes) {
    await check(`${routeName(r)}: 401 without a token`, async () => {
      const reply = await request(r);
      if (reply.status !== 401) return `expected 401, got ${describeReply(reply)}`;
      if (r.authorizer && !isGatewayAnswer(reply, UNAUTHORIZED)) return `expected API Gateway's ${UNAUTHORIZED}, got ${describeReply(reply)}`;
      return undefined;
    });
  }

  // 3. Every scoped route refuses a token without its scope (only a real IdP can mint one: optional).
  const narrowScopes = o.narrowToken ? tokenScopes(o.narrowToken) : [];
  for (const r of routes) {
    const label = `${routeName(r)}: 403 without the route's scope`;
    if (!r.authorizer?.scopes?.length) skip(label, 'the route asks for no scope');
    else if (!o.narrowToken) skip(label, 'no --narrow-token');
    else if (r.authorizer.scopes.some((s) => narrowScopes.includes(s))) skip(label, "the narrow token holds one of this route's scopes");
    else {
      const narrow = o.narrowToken;
      await check(label, async () => {
        const reply = await request(r, { headers: bearer(narrow) });
        return reply.status === 403 && isGatewayAnswer(reply, FORBIDDEN) ? undefined : `expected 403 ${FORBIDDEN}, got ${describeReply(reply)}`;
      });
    }
  }

  // 4. Svix, with the token: a portal link and app token for the app, then that token logged out.
  const checked = new Set<string>();
  /** A family's check of a route: skipped without the route, or without the option naming what to act on. */
  const family = (target: string | undefined, option: string) => async (functionName: string, label: string, run: (r: RouteSpec) => Promise<Verdict>) => {
    const r = route(functionName);
    if (!r) return skip(label, `no ${functionName} route in serverless.yml`);
    checked.add(functionName);
    const full = `${routeName(r)}: ${label}`;
    if (!target) return skip(full, `no ${option}`);
    return check(full, () => run(r));
  };
  const svix = family(o.svixApp, '--svix-app');
  const sessionId = `authgate-smoke-${randomBytes(6).toString('hex')}`;
  const portal = async (r: RouteSpec, body?: unknown): Promise<{ token?: string; verdict: Verdict }> => {
    const reply = await request(r, { headers: bearer(o.token), ...(body === undefined ? {} : { json: body }) });
    const value = jsonOf(reply) as { url?: unknown; token?: unknown } | undefined;
    if (typeof value?.token === 'string') o.secret(value.token);
    if (typeof value?.url === 'string') o.secret(value.url);
    if (reply.status !== 200) return { verdict: expectStatus(reply, 200) };
    if (typeof value?.url !== 'string' || !/^https?:\/\//.test(value.url) || typeof value.token !== 'string' || value.token === '') {
      return { verdict: `expected {url, token}, got ${describeReply(reply)}` };
    }
    if (r.functionName === 'svixDashboardAccess' && reply.headers.get('deprecation') !== 'true')
      return { token: value.token, verdict: 'no `Deprecation: true` header' };
    return { token: value.token, verdict: undefined };
  };
  const logoutRoute = route('svixLogout');
  const logout = async (appToken: string | undefined, expected: 204 | 401): Promise<Verdict> => {
    if (!logoutRoute || !appToken) return 'no app token to log out (the call that mints it failed)';
    return expectStatus(await request(logoutRoute, { headers: bearer(appToken) }), expected);
  };

  let appToken: string | undefined;
  await svix('svixAppPortalAccess', '200 {url, token} for --svix-app', async (r) => {
    const minted = await portal(r, { expiry: 3600, sessionId });
    appToken = minted.token;
    return minted.verdict;
  });
  await svix('svixLogout', '204 for that app token', () => logout(appToken, 204));
  await svix('svixLogout', '401 for it again: the logged-out token no longer works', () => logout(appToken, 401));
  let dashboardToken: string | undefined;
  await svix('svixDashboardAccess', '200 {url, token}, Deprecation: true', async (r) => {
    const minted = await portal(r);
    dashboardToken = minted.token;
    return minted.verdict;
  });
  await svix('svixLogout', '204 for the dashboard-access token, not left valid', () => logout(dashboardToken, 204));
  if (o.destructive) {
    let expiring: string | undefined;
    const expireSession = `${sessionId}-expire`;
    await svix('svixAppPortalAccess', '200 {url, token} for a second smoke session', async (r) => {
      const minted = await portal(r, { expiry: 3600, sessionId: expireSession });
      expiring = minted.token;
      return minted.verdict;
    });
    await svix('svixExpireAll', '204 expiring that smoke session now (--destructive)', async (r) =>
      expectStatus(await request(r, { headers: bearer(o.token), json: { expiry: 0, sessionIds: [expireSession] } }), 204),
    );
    await svix('svixLogout', "401 for that session's token: expired", () => logout(expiring, 401));
  } else {
    await svix('svixExpireAll', '422 for expiry -1 (validation only; --destructive for a real call)', async (r) => {
      const reply = await request(r, { headers: bearer(o.token), json: { expiry: -1 } });
      const loc = (jsonOf(reply) as { detail?: Array<{ loc?: unknown }> } | undefined)?.detail?.[0]?.loc;
      if (reply.status !== 422) return expectStatus(reply, 422);
      return JSON.stringify(loc) === JSON.stringify(['body', 'expiry']) ? undefined : `expected a 422 on body.expiry, got ${describeReply(reply)}`;
    });
  }

  // 5. nextAuth, with the token, on a fresh nonce nobody uses: a session and its QR code.
  const nonce = randomBytes(16).toString('hex');
  const nextauth = family(o.nextauthServer, '--nextauth-server');
  let raw: Buffer | undefined;
  await nextauth('nextauthGetSession', '200 LoginStatus, logged out, for a fresh nonce', async (r) => {
    const reply = await request(r, { headers: { ...bearer(o.token), 'x-nonce': nonce } });
    if (reply.status !== 200) return expectStatus(reply, 200);
    const status = jsonOf(reply) as { loggedin?: unknown; loginqrdata?: unknown } | undefined;
    if (status?.loggedin !== false || typeof status.loginqrdata !== 'string') return `expected {loggedin: false, loginqrdata, …}, got ${describeReply(reply)}`;
    raw = Buffer.from(status.loginqrdata, 'base64');
    return undefined;
  });
  const qr = async (r: RouteSpec, query: string) => {
    const reply = await request(r, { path: `${pathOf(r, o)}${query}`, headers: { ...bearer(o.token), 'x-nonce': nonce } });
    return { reply, verdict: reply.status === 200 ? (raw ? undefined : 'no loginqrdata to compare with (getSession failed)') : expectStatus(reply, 200) };
  };
  await nextauth('nextauthGetQrLogin', '200, the raw bytes of loginqrdata', async (r) => {
    const { reply, verdict } = await qr(r, '');
    if (verdict) return verdict;
    return raw?.equals(reply.body) ? undefined : `the ${reply.body.length} bytes answered are not the QR data of getSession`;
  });
  await nextauth('nextauthGetQrLogin', '?img=png: a PNG that decodes to the same bytes', async (r) => {
    const { reply, verdict } = await qr(r, `?img=png&s=${QR_PNG_SIDE}`);
    if (verdict) return verdict;
    const refused = refusePng(reply.body);
    if (refused) return refused;
    try {
      return decodeQrPng(reply.body).equals(raw ?? Buffer.alloc(0)) ? undefined : 'the PNG decodes to other bytes than getSession gave';
    } catch (err) {
      return `not a readable QR PNG (${err instanceof Error ? err.message : String(err)})`;
    }
  });
  for (const functionName of ['nextauthLogout', 'nextauthProvokeLogin', 'nextauthProvokeLoginOnAccount', 'nextauthProvokeLoginOnUser']) {
    await nextauth(functionName, '400 without X-Nonce (refused before any upstream call)', async (r) => {
      const reply = await request(r, { headers: bearer(o.token) });
      const code = (jsonOf(reply) as { code?: unknown; detail?: unknown } | undefined)?.code;
      if (reply.status !== 400) return expectStatus(reply, 400);
      return code === 'validation_error' ? undefined : `expected {code: validation_error}, got ${describeReply(reply)}`;
    });
  }

  // Routes serverless.yml declares that no check above covers with a token.
  for (const r of routes.filter((x) => !checked.has(x.functionName))) skip(`${routeName(r)}: answer with the token`, 'no smoke check for this route yet');
}
