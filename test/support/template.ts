import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_DIR, PACKAGE_DIR_IAM, PACKAGE_DIR_LIMITS } from './global-setup.ts';

export interface CfnResource {
  Type: string;
  Properties: Record<string, unknown> & { [key: string]: unknown };
  DependsOn?: string | string[];
  Condition?: string;
}

export interface Template {
  Resources: Record<string, CfnResource>;
  Conditions?: Record<string, unknown>;
  Parameters?: Record<string, Record<string, unknown>>;
  Outputs?: Record<string, Record<string, unknown>>;
}

const ROOT = join(import.meta.dirname, '..', '..');

/** The CloudFormation template `serverless package` wrote in the global setup (`limits`: every fair-limit option on). */
export function packagedTemplate(variant: 'jwt' | 'iam' | 'limits' = 'jwt'): Template {
  const dir = { jwt: PACKAGE_DIR, iam: PACKAGE_DIR_IAM, limits: PACKAGE_DIR_LIMITS }[variant];
  return JSON.parse(readFileSync(join(ROOT, dir, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
}

export const resourcesOfType = (template: Template, type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/** Every IAM statement of a role's inline policies. */
export function statementsOf(role: CfnResource): Statement[] {
  const policies = (role.Properties.Policies ?? []) as Array<{ PolicyDocument: { Statement: Statement[] } }>;
  return policies.flatMap((p) => p.PolicyDocument.Statement);
}

export const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** The role a function runs with (`Fn::GetAtt [<Role>, Arn]`). */
export function roleOf(template: Template, functionLogicalId: string): [string, CfnResource] {
  const fn = template.Resources[functionLogicalId];
  const ref = (fn?.Properties.Role as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt'];
  if (!ref) throw new Error(`${functionLogicalId} has no role reference`);
  const role = template.Resources[ref[0]];
  if (!role) throw new Error(`${ref[0]} not in template`);
  return [ref[0], role];
}
