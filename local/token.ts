import { parseArgs } from 'node:util';
import { allScopes, loadOrCreateDevKey, mintToken, TENANT_CLAIMS } from './jwt.ts';
import { httpRoutes } from './routes.ts';

/**
 * `npm run token -- [--sub NAME] [--scope S]... [--claim name=v1,v2]... [--svix-apps a,b] [--nextauth-servers s] [--expires 1h]`
 * mints a JWT the local API accepts (same key as `npm start`). Without --scope: every scope.
 */

const { values } = parseArgs({
  options: {
    scope: { type: 'string', multiple: true },
    claim: { type: 'string', multiple: true },
    'svix-apps': { type: 'string' },
    'nextauth-servers': { type: 'string' },
    expires: { type: 'string', default: '12h' },
    // Every caller is its own tenant (idempotency, audit): mint one token per caller you play.
    sub: { type: 'string', default: 'local-developer' },
    help: { type: 'boolean', default: false },
  },
});

const scopes = allScopes(httpRoutes());
if (values.help) {
  process.stdout.write(
    [
      'npm run token -- [options]',
      '  --sub NAME              the caller this token names (claim sub; default local-developer)',
      `  --scope S               repeatable; one of: ${scopes.join(', ')} (default: all)`,
      `  --svix-apps a,b         Svix app ids this caller may act on (claim ${TENANT_CLAIMS.svix}; default: none)`,
      `  --nextauth-servers s    nextAuth server ids (claim ${TENANT_CLAIMS.nextauth}; default: none)`,
      '  --claim name=v1,v2      any other claim (a list)',
      '  --expires 1h            lifetime (default 12h)',
      '',
    ].join('\n'),
  );
  process.exit(0);
}

const list = (v: string | undefined) => (v ? v.split(',').filter(Boolean) : []);
const claims: Record<string, string[]> = {
  [TENANT_CLAIMS.svix]: list(values['svix-apps']),
  [TENANT_CLAIMS.nextauth]: list(values['nextauth-servers']),
};
for (const c of values.claim ?? []) {
  const [name, value] = c.split('=', 2);
  if (name) claims[name] = list(value);
}
// Tenant binding refuses (403) every app or server a token does not list: say so now, not at the
// first refusal, which names no reason on the wire.
for (const [flag, claim] of [
  ['--svix-apps', TENANT_CLAIMS.svix],
  ['--nextauth-servers', TENANT_CLAIMS.nextauth],
] as const) {
  if (!claims[claim]?.length) process.stderr.write(`note: no ${flag}: claim ${claim} is empty, so tenant binding answers 403 on every one of them\n`);
}
const token = await mintToken(await loadOrCreateDevKey(), { scopes: values.scope ?? scopes, claims, expiresIn: values.expires, subject: values.sub });
process.stdout.write(`${token}\n`);
