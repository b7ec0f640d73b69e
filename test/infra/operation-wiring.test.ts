import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HttpContract } from '#lib/contract';
import { nextauth, svix } from '#lib/contracts/index';
import { readServerlessConfig } from '#local/routes';
import { routeOf } from '#local/sandbox/faults';

/**
 * An operation is wired in about ten places (docs/architecture.md, "Adding an operation"). Each
 * check here names the one place an operation half-wired is missing, so the failure reads as the
 * next step of the recipe rather than as a mismatch somewhere in a template.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const contracts = Object.values({ ...svix, ...nextauth }) as HttpContract[];

interface Wiring {
  contracts: HttpContract[];
  serverless: ReturnType<typeof readServerlessConfig>;
  readme: string;
  authorization: string;
}

/** `nextauth.get-qr-login` → `getQrLogin`; Svix names stay as the API spells them (`app-portal-access`). */
const displayName = (c: HttpContract) => {
  const name = c.operation.slice(c.family.length + 1);
  return c.family === 'nextauth' ? name.replace(/-(\w)/g, (_, ch: string) => ch.toUpperCase()) : name;
};
const FAMILY = { svix: 'Svix', nextauth: 'nextAuth' } as const;
/** `{app_id}` → a sample value, for matching the sandbox's route patterns. */
const sample = (path: string) => path.replace(/\{\w+\}/g, 'x1');

/** What is missing for `contract`, one line per place of the recipe; empty when fully wired. */
function missingWiring(contract: HttpContract, { serverless, readme, authorization }: Wiring): string[] {
  const missing: string[] = [];
  const op = contract.operation;
  const key = `${contract.method} ${contract.path}`;
  const entry = Object.entries(serverless.functions).find(([, fn]) =>
    fn.events?.some((e) => e.httpApi && `${e.httpApi.method.toUpperCase()} ${e.httpApi.path}` === key),
  );
  if (!entry) return [`${op}: serverless.yml declares no function with the route ${key}`];
  const [name, fn] = entry;
  const module = `${fn.handler.slice(0, fn.handler.lastIndexOf('.'))}.ts`;
  if (!existsSync(join(ROOT, module))) missing.push(`${op}: ${name}'s handler module ${module} does not exist`);
  const authorizer = fn.events?.find((e) => e.httpApi)?.httpApi?.authorizer;
  if (contract.anonymous) {
    if (authorizer) missing.push(`${op}: the contract is anonymous but serverless.yml puts an authorizer on ${name}`);
  } else {
    const ref = typeof authorizer === 'string' ? /\$\{param:callerAuth\}\.(\w+)\}$/.exec(authorizer)?.[1] : undefined;
    if (!ref) missing.push(`${op}: ${name}'s route needs authorizer: \${self:custom.callerAuth.\${param:callerAuth}.<name>}`);
    const modes = (serverless.custom?.callerAuth ?? {}) as Record<string, Record<string, unknown>>;
    for (const mode of ['jwt', 'iam']) {
      if (ref && !modes[mode]?.[ref]) missing.push(`${op}: custom.callerAuth.${mode} has no entry ${ref}`);
    }
    const scopes = ref ? ((modes.jwt?.[ref] as { scopes?: string[] } | undefined)?.scopes ?? []) : [];
    const row = authorization
      .split('\n')
      .find((line) => line.startsWith('|') && line.includes(FAMILY[contract.family]) && line.includes(displayName(contract)));
    if (!row) missing.push(`${op}: docs/authorization.md has no row for ${FAMILY[contract.family]} ${displayName(contract)}`);
    else if (scopes.map((s) => `\`${s}\``).join(', ') !== row.split('|')[2]?.trim()) {
      missing.push(`${op}: docs/authorization.md's row does not list the scopes ${scopes.join(', ')}`);
    }
  }
  const upstreamPath = contract.successor ?? contract.path;
  if (!routeOf(contract.method, sample(upstreamPath).replace(/\/$/, '')))
    missing.push(`${op}: the sandbox (local/sandbox/) does not serve ${contract.method} ${upstreamPath}`);
  const readmePath = contract.path.replace(/\/?$/, '');
  const inReadme = readme
    .split('\n')
    .some((line) => line.startsWith('|') && (line.includes(`\`${contract.method} ${readmePath}\``) || line.includes(`\`${contract.method} ${readmePath}/`)));
  if (!inReadme) missing.push(`${op}: the README's Operations table has no row with ${contract.method} ${readmePath}`);
  return missing;
}

const wiring: Wiring = { contracts, serverless: readServerlessConfig(), readme: read('README.md'), authorization: read('docs/authorization.md') };

describe('every operation is wired in every place the recipe names', () => {
  it('finds the ten operations', () => {
    expect(contracts).toHaveLength(10);
  });

  it.each(contracts.map((c) => [c.operation, c] as const))('%s', (_op, contract) => {
    expect(missingWiring(contract, wiring)).toEqual([]);
  });

  it('names what is missing for an operation wired halfway (the checks can fail)', () => {
    const half = { ...svix.expireAllContract, operation: 'svix.rotate-all', path: '/api/v1/auth/app/{app_id}/rotate-all' } as HttpContract;
    expect(missingWiring(half, wiring)).toEqual([
      'svix.rotate-all: serverless.yml declares no function with the route POST /api/v1/auth/app/{app_id}/rotate-all',
    ]);

    const serverless = structuredClone(wiring.serverless);
    const fn = serverless.functions.svixExpireAll!;
    serverless.functions.svixRotateAll = {
      ...fn,
      handler: 'functions/svix-rotate-all.handler',
      events: [{ httpApi: { ...fn.events![0]!.httpApi!, path: half.path, authorizer: '${self:custom.callerAuth.${param:callerAuth}.svixRotate}' } }],
    };
    (serverless.custom!.callerAuth as Record<string, Record<string, unknown>>).jwt!.svixRotate = { name: 'gatewayJwt', scopes: ['svix/rotate'] };
    expect(missingWiring(half, { ...wiring, serverless })).toEqual([
      "svix.rotate-all: svixRotateAll's handler module functions/svix-rotate-all.ts does not exist",
      'svix.rotate-all: custom.callerAuth.iam has no entry svixRotate',
      'svix.rotate-all: docs/authorization.md has no row for Svix rotate-all',
      'svix.rotate-all: the sandbox (local/sandbox/) does not serve POST /api/v1/auth/app/{app_id}/rotate-all',
      "svix.rotate-all: the README's Operations table has no row with POST /api/v1/auth/app/{app_id}/rotate-all",
    ]);
  });
});
