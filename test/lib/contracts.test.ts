import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HttpContract } from '#lib/contract';
import { nextauth, svix } from '#lib/contracts/index';
import { httpRoutes } from '#local/routes';

/**
 * Each operation's contract (lib/contracts/) and the route serverless.yml declares for the
 * framework must agree: one route per contract, same method and path, an authorizer exactly where
 * the contract expects a named caller, and the route's function built from that contract.
 */

const ROOT = join(import.meta.dirname, '..', '..');
const contracts = Object.entries({ ...svix, ...nextauth }) as Array<[string, HttpContract]>;
const routes = httpRoutes();
const key = (method: string, path: string) => `${method.toUpperCase()} ${path}`;

describe('contracts and serverless.yml', () => {
  it('declare the same routes, one function each', () => {
    expect(contracts.map(([, c]) => key(c.method, c.path)).sort()).toEqual(routes.map((r) => key(r.method, r.path)).sort());
  });

  it.each(contracts)('%s: its route has an authorizer unless anonymous, and its function is built from it', (name, contract) => {
    const route = routes.find((r) => key(r.method, r.path) === key(contract.method, contract.path));
    expect(route).toBeDefined();
    expect(Boolean(route?.authorizer)).toBe(!contract.anonymous);
    const source = readFileSync(join(ROOT, `${route?.modulePath}.ts`), 'utf8');
    expect(source).toMatch(new RegExp(`operationHandler\\(${name},`));
  });

  it.each(contracts)('%s: names each path parameter of its route, and its tenant and idempotency target among them', (_name, contract) => {
    const inPath = [...contract.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    expect(Object.keys(contract.pathParameters)).toEqual(inPath);
    if (contract.tenant) expect(inPath).toContain(contract.tenant);
    if (contract.idempotency?.target) expect(inPath).toContain(contract.idempotency.target);
    expect(contract.operation.startsWith(`${contract.family}.`)).toBe(true);
  });
});
