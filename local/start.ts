import { startLocalApi } from './api.ts';
import { consoleRoutes } from './console/serve.ts';
import { corsFromServerless, stageParams } from './cors.ts';
import { allScopes, loadOrCreateDevKey, mintToken, TENANT_CLAIMS } from './jwt.ts';
import { httpRoutes } from './routes.ts';
import { runJobInProcess } from './run-job.ts';
import { startGatewaySandbox } from './sandbox/for-gateway.ts';

/**
 * `npm start`: the sandbox upstream and the local API, both on 127.0.0.1.
 *
 * The upstream keys are made fresh at every start and handed to the gateway the way AWS would:
 * as secrets, here read from a file (SECRETS_SOURCE=file) instead of Secrets Manager. Routes are
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
const sandboxPort = Number(process.env.SANDBOX_PORT ?? 4010);
const { sandbox, serverId, secretsFile } = await startGatewaySandbox({ port: sandboxPort, faults: process.env.SANDBOX_FAULTS });

Object.assign(process.env, {
  SVIX_TENANT_CLAIM: TENANT_CLAIMS.svix,
  NEXTAUTH_TENANT_CLAIM: TENANT_CLAIMS.nextauth,
  TENANT_WILDCARD_ALLOWED: '1',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
});

const routes = httpRoutes();
const authKey = await loadOrCreateDevKey();
const devToken = await mintToken(authKey, { scopes: allScopes(routes), claims: { [TENANT_CLAIMS.svix]: ['*'], [TENANT_CLAIMS.nextauth]: ['*'] } });
const api = await startLocalApi({
  port,
  authKey,
  routes,
  ...(cors ? { cors } : {}),
  extra: consoleRoutes({ sandboxUrl: sandbox.url, serverId, devToken, runJob: (kind, messages) => runJobInProcess(kind, messages) }),
});

process.stdout.write(
  [
    '',
    `authgate local API   ${api.url}`,
    `console              ${api.url}/   (QR login, Svix portal, jobs, faults in a browser)`,
    `sandbox upstream     ${sandbox.url}   (Svix + nextAuth; sandbox-only routes under /_sandbox/)`,
    `nextAuth server id   ${serverId}   (percent-encode it in paths: ${encodeURIComponent(serverId)})`,
    'Svix apps            app_demo, app_2 (others are created with an `application` body)',
    'nextAuth users       alice (accounts 1, 2), bob (account 3)',
    `CORS                 ${cors ? `on for ${cors.allowOrigins.join(', ') || 'no origin'} (docs/cors.md)` : 'off (docs/cors.md)'}`,
    '',
    'Development token (every scope, every tenant; 12 h). Narrower ones: npm run token -- --help',
    `export TOKEN=${devToken}`,
    '',
    'Jobs against this sandbox (npm run job, in another shell):',
    `export SVIX_API_URL=${sandbox.url} NEXTAUTH_API_URL=${sandbox.url} SECRETS_FILE=${secretsFile}`,
    '',
    'Ctrl-C stops both.',
    '',
  ].join('\n'),
);

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\n${signal}: stopping\n`);
  await Promise.all([api.close(), sandbox.close()]);
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
