import { dirname } from 'node:path';
import { startLocalApi } from './api.ts';
import { formatAudit, processAudit } from './audit.ts';
import { removeOnExit, stopOnSignals } from './cleanup.ts';
import { consoleRoutes } from './console/serve.ts';
import { corsFromServerless, stageParams } from './cors.ts';
import { allScopes, loadOrCreateDevKey, mintToken, TENANT_CLAIMS } from './jwt.ts';
import { whenOrphaned } from './orphan-watch.ts';
import { startPackagedForDevelopment } from './packaged/start.ts';
import { httpRoutes } from './routes.ts';
import { runJobInProcess } from './run-job.ts';
import { SECRET_IDS, startGatewaySandbox } from './sandbox/for-gateway.ts';
import { base64urlServerId } from './sandbox/nextauth.ts';
import { rateLimitFromArgs } from './sandbox/rate-limit-flags.ts';
import { fileSecretSource } from './secrets-file.ts';

/**
 * `npm start`: the sandbox upstream and the local API, both on 127.0.0.1.
 *
 * The upstream keys are made fresh at every start and handed to the gateway the way AWS would:
 * as secrets, here read from a file (local/secrets-file.ts) instead of Secrets Manager. Routes are
 * closed exactly as in AWS; the development token printed below opens them all.
 */

// `npm start -- --param="cors=on" --param="corsAllowedOrigins=http://localhost:5173"`, as for a deploy.
const cors = (() => {
  try {
    return corsFromServerless(stageParams(process.argv.slice(2)));
  } catch (err) {
    process.stderr.write(`npm start: ${(err as Error).message}\n`);
    process.exit(2);
  }
})();
const port = Number(process.env.PORT ?? 3000);
// The pessimistic reading of API Gateway's routing (see `strict` in api.ts).
const strict = process.argv.includes('--strict') || process.env.LOCAL_API_STRICT === '1';
const sandboxPort = Number(process.env.SANDBOX_PORT ?? 4010);
// `npm start -- --rate-limit=20 --rate-burst=40`: the sandbox refuses what a credential sends over 20/s (docs/local.md).
const rateLimit = (() => {
  try {
    return rateLimitFromArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`npm start: ${(err as Error).message}\n`);
    process.exit(2);
  }
})();
const { sandbox, serverId, secondServer, secretsFile } = await startGatewaySandbox({
  port: sandboxPort,
  faults: process.env.SANDBOX_FAULTS,
  ...(rateLimit ? { rateLimit } : {}),
});
// The secrets file holds this run's keys only: gone with the process (every stop below exits, so this runs).
removeOnExit(dirname(secretsFile));
// Registered now, before anything else starts: a signal with no listener kills Node at once and
// nothing is cleaned up. Ctrl-C, `kill` and a closed terminal alike close what has started, and
// the exit that follows removes the secrets file (local/cleanup.ts).
const running: Array<{ close(): Promise<void> }> = [sandbox];
stopOnSignals(async (signal) => {
  // After a hangup there is no terminal to write to (EIO).
  if (signal !== 'SIGHUP') process.stdout.write(`\n${signal}: stopping\n`);
  await Promise.all(running.map((r) => r.close()));
});
// `kill -HUP` of npm ends npm only (it forwards SIGINT and SIGTERM to its script, not SIGHUP):
// stop as the terminal hanging up would have made us (local/orphan-watch.ts).
whenOrphaned(() => process.kill(process.pid, 'SIGHUP'));
// `npm start -- --packaged`: every route from its function's zip, as Lambda would run it (docs/artifacts.md).
// The same secrets as the in-process functions read (both nextAuth servers' keys), from the same file.
const fromFile = fileSecretSource(secretsFile);
const packaged = process.argv.includes('--packaged')
  ? await startPackagedForDevelopment({
      sandboxUrl: sandbox.url,
      secretValues: { svix: await fromFile(SECRET_IDS.svix), nextauth: await fromFile(SECRET_IDS.nextauth) },
    })
  : undefined;
if (packaged) running.push(packaged);

Object.assign(process.env, {
  SVIX_TENANT_CLAIM: TENANT_CLAIMS.svix,
  NEXTAUTH_TENANT_CLAIM: TENANT_CLAIMS.nextauth,
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
});
// Audit records print as one readable line each (the console's Audit view lists them too);
// every other log line prints as it is.
processAudit.tee((line, record) => process.stdout.write(`${record ? formatAudit(record) : line}\n`));

const routes = httpRoutes();
const authKey = await loadOrCreateDevKey();
const devToken = await mintToken(authKey, { scopes: allScopes(routes), claims: { [TENANT_CLAIMS.svix]: ['*'], [TENANT_CLAIMS.nextauth]: ['*'] } });
const api = await startLocalApi({
  port,
  authKey,
  routes,
  strict,
  ...(packaged ? { handlerFor: packaged.handlerFor } : {}),
  ...(cors ? { cors } : {}),
  extra: consoleRoutes({ sandboxUrl: sandbox.url, serverId, devToken, runJob: (kind, messages) => runJobInProcess(kind, messages) }),
});
running.push(api);

process.stdout.write(
  [
    '',
    `authgate local API   ${api.url}${strict ? '   (strict: paths decoded before routing, GET bodies dropped)' : ''}`,
    `console              ${api.url}/   (QR login, Svix portal, jobs, faults in a browser)`,
    `sandbox upstream     ${sandbox.url}   (Svix + nextAuth; sandbox-only routes under /_sandbox/)`,
    `rate limit           ${rateLimit ? `${sandbox.rateLimit.limit?.rate}/s per credential, burst ${sandbox.rateLimit.limit?.burst} (429 + Retry-After beyond)` : 'off (--rate-limit=R --rate-burst=B, or the console)'}`,
    ...(packaged ? [`handlers             each route from its zip in ${packaged.packageDir} (the console's Jobs card still runs the TypeScript)`] : []),
    `nextAuth server id   ${serverId}   (in paths: ${base64urlServerId(serverId)}${strict ? '' : ` or ${encodeURIComponent(serverId)}`})`,
    'Svix apps            app_demo, app_2 (others are created with an `application` body)',
    'nextAuth users       alice (accounts 1, 2), bob (account 3)',
    `CORS                 ${cors ? `on for ${cors.allowOrigins.join(', ') || 'no origin'} (docs/cors.md)` : 'off (docs/cors.md)'}`,
    '',
    "Paste into the shell you call it from (docs/local.md's commands use these; the token has every",
    'scope and every tenant for 12 h; narrower ones: npm run token -- --help):',
    `export API=${api.url} SANDBOX=${sandbox.url}`,
    `export SERVER='${serverId}' SID=${base64urlServerId(serverId)}`,
    `export SERVER2='${secondServer.id}' SID2=${base64urlServerId(secondServer.id)}`,
    `export TOKEN=${devToken}`,
    '',
    'Jobs against this sandbox (npm run job, in another shell):',
    `export SVIX_API_URL=${sandbox.url} NEXTAUTH_API_URL=${sandbox.url} SECRETS_FILE=${secretsFile}`,
    '',
    'Ctrl-C stops both.',
    '',
  ].join('\n'),
);
