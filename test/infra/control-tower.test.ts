import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '#local/routes';
import { type ControlTowerException, controlTowerExceptions, controlTowerFailures, type Variant } from '../support/cfn-guard.ts';
import { PACKAGE_DIR, PACKAGE_DIR_IAM, PACKAGE_DIR_LIMITS } from '../support/global-setup.ts';

/**
 * AWS Control Tower's proactive controls (cfn-guard, test/support/cfn-guard.ts) over the packaged
 * template in every variant the global setup packages: `jwt` (the defaults), `iam` (callerAuth=iam,
 * CORS, an alarm topic, a customer KMS key for the logs) and `limits` (edge=on and reserved
 * concurrency). A governed account that turns a control on as a CloudFormation hook refuses a
 * stack that fails it, so every failure must be one of resources/control-tower-exceptions.yml,
 * each with its reason, and every exception must still fail somewhere (the file cannot rot).
 */

const VARIANTS: Record<Variant, string> = { jwt: PACKAGE_DIR, iam: PACKAGE_DIR_IAM, limits: PACKAGE_DIR_LIMITS };

const exceptions = controlTowerExceptions();

const variants = Object.keys(VARIANTS) as Variant[];
const results = controlTowerFailures(variants.map((v) => join(PROJECT_ROOT, VARIANTS[v], 'cloudformation-template-update-stack.json')));
const failuresOf = Object.fromEntries(variants.map((v, i) => [v, results[i]!])) as Record<Variant, Map<string, Set<string>>>;

const covers = (exception: ControlTowerException | undefined, variant: Variant, resource: string) =>
  exception !== undefined && (exception.variants ?? variants).includes(variant) && (exception.resources?.includes(resource) ?? true);

describe('Control Tower proactive controls over the packaged template', () => {
  it('ran: the rules evaluated every variant and found what the exceptions name', () => {
    expect(results).toHaveLength(variants.length);
    for (const variant of variants) expect(failuresOf[variant].size, variant).toBeGreaterThan(0);
  });

  it.each(variants)('%s: every failing control is an exception, for that resource and variant', (variant) => {
    const unexcused = [...failuresOf[variant]].flatMap(([control, resources]) =>
      [...resources].filter((resource) => !covers(exceptions[control], variant, resource)).map((resource) => `${control} ${resource}`),
    );
    expect(unexcused).toEqual([]);
  });

  it('every exception still fails, on each resource it names, in each variant it names', () => {
    const stale: string[] = [];
    for (const [control, exception] of Object.entries(exceptions)) {
      for (const variant of exception.variants ?? variants) {
        const failing = failuresOf[variant].get(control);
        if (!failing) stale.push(`${control} passes in ${variant}`);
        for (const resource of exception.resources ?? []) if (!failing?.has(resource)) stale.push(`${control} passes on ${resource} in ${variant}`);
      }
    }
    expect(stale).toEqual([]);
  });

  it('every exception has a reason, and names only known variants', () => {
    for (const [control, exception] of Object.entries(exceptions)) {
      expect(control).toMatch(/^CT\.[A-Z0-9]+\.PR\.\d+$/);
      expect(exception.reason?.trim().length ?? 0, control).toBeGreaterThan(40);
      for (const variant of exception.variants ?? []) expect(variants, control).toContain(variant);
    }
  });

  it("docs/deploy.md's table lists exactly these exceptions, with their resources and variants", () => {
    const deploy = readFileSync(join(PROJECT_ROOT, 'docs', 'deploy.md'), 'utf8');
    const section = deploy.slice(deploy.indexOf('## Control Tower proactive controls'));
    const rows = [...section.matchAll(/^\| (CT\.[A-Z0-9]+\.PR\.\d+) +\| (.*?) +\| (.*?) +\|$/gm)];
    expect(rows.map((r) => r[1])).toEqual(Object.keys(exceptions));
    for (const [, control, resources, scope] of rows) {
      const exception = exceptions[control!]!;
      for (const resource of exception.resources ?? []) expect(resources, control).toContain(resource);
      expect(scope, control).toBe(exception.variants?.join(', ') ?? 'all');
    }
  });
});
