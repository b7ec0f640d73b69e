import type { CfnTemplate } from './package.ts';

/**
 * What a function's execution role allows, read from the template's inline policies, so the fake
 * AWS APIs refuse what AWS would refuse: a function reading a secret its role does not name, or
 * sending to a queue it may not. Enough IAM for the roles this template declares: Allow and Deny
 * statements, `Action` and `Resource` with `*` and `?` wildcards, resources given as strings,
 * `Fn::Sub` over pseudo-parameters or `Fn::GetAtt <queue>.Arn`. A statement with anything else
 * (NotAction, NotResource, Condition, another intrinsic) never allows and always denies, so it can
 * only make the harness stricter than AWS, never laxer.
 */

export type Allows = (action: string, resourceArn: string) => boolean;

interface Statement {
  Effect?: string;
  Action?: string | string[];
  Resource?: unknown;
  NotAction?: unknown;
  NotResource?: unknown;
  Condition?: unknown;
}

const wildcard = (pattern: string, flags = '') =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    flags,
  );

export interface ArnContext {
  partition: string;
  region: string;
  accountId: string;
}

/** A Resource value as a string ARN, or undefined when it cannot be known locally. */
function resolveArn(value: unknown, template: CfnTemplate, ctx: ArnContext): string | undefined {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown> | null;
  const getAtt = v?.['Fn::GetAtt'];
  if (Array.isArray(getAtt) && getAtt[1] === 'Arn') {
    const target = template.Resources[String(getAtt[0])];
    if (target?.Type === 'AWS::SQS::Queue') return `arn:${ctx.partition}:sqs:${ctx.region}:${ctx.accountId}:${String(target.Properties?.QueueName)}`;
    return undefined;
  }
  const sub = v?.['Fn::Sub'];
  if (typeof sub === 'string') {
    const pseudo: Record<string, string> = { 'AWS::Partition': ctx.partition, 'AWS::Region': ctx.region, 'AWS::AccountId': ctx.accountId };
    const names = [...sub.matchAll(/\$\{([^}]+)\}/g)].map((m) => String(m[1]));
    if (!names.every((name) => name in pseudo)) return undefined;
    return sub.replace(/\$\{([^}]+)\}/g, (_, name: string) => pseudo[name] ?? '');
  }
  return undefined;
}

/** The role of function `logicalId` (its `Role: Fn::GetAtt [<role>, Arn]`), as an `Allows`. */
export function roleAllows(template: CfnTemplate, logicalId: string, ctx: ArnContext): Allows {
  const roleRef = (template.Resources[logicalId]?.Properties?.Role as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt']?.[0];
  const role = roleRef ? template.Resources[roleRef] : undefined;
  const policies = (role?.Properties?.Policies ?? []) as Array<{ PolicyDocument?: { Statement?: Statement | Statement[] } }>;
  const statements = policies.flatMap((p) => [p.PolicyDocument?.Statement ?? []].flat());
  /** `undefined`: the statement uses what this reader does not model. */
  const matches = (s: Statement, action: string, arn: string): boolean | undefined => {
    if (s.NotAction !== undefined || s.NotResource !== undefined || s.Condition !== undefined) return undefined;
    const actions = [s.Action ?? []].flat();
    const resources = [s.Resource ?? []].flat().map((r) => resolveArn(r, template, ctx));
    if (!actions.some((a) => wildcard(a, 'i').test(action))) return false;
    if (resources.some((r) => r !== undefined && wildcard(r).test(arn))) return true;
    return resources.includes(undefined) ? undefined : false;
  };
  return (action, arn) => {
    // Unknowable Deny statements deny, unknowable Allow statements do not allow: never laxer than AWS.
    if (statements.some((s) => s.Effect === 'Deny' && matches(s, action, arn) !== false)) return false;
    return statements.some((s) => s.Effect === 'Allow' && matches(s, action, arn) === true);
  };
}
