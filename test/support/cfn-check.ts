import type { CfnSpec, SpecProperty, SpecType } from './cfn-spec.ts';

/**
 * A CloudFormation template checked against the resource specification (cfn-spec.ts), the checks
 * `cfn-lint` would make first, in TypeScript because this machine reaches npm only:
 *
 * - every resource type exists; every property is known, required ones are present, and each value
 *   has the specified shape (scalar, list, map, object), recursively into property types;
 * - every `Ref`, `Fn::GetAtt`, `Fn::Sub` names a resource, parameter or pseudo-parameter, and a
 *   `GetAtt` an attribute the resource type has; `Fn::If` and `Condition` name a condition;
 * - IAM policy documents: known keys, `Effect` Allow/Deny, `Action` (or NotAction), `Resource` in
 *   identity policies, `Principal` in resource and trust policies.
 *
 * Intrinsic functions stand for values of the shape they return; `Fn::If` checks both branches.
 *
 * @example
 * expect(checkTemplate(packagedTemplate('jwt'), loadCfnSpec())).toEqual([]);
 */

export interface Finding {
  /** Where: `Resources.LogoutJobQueue.Properties.RedrivePolicy`. */
  path: string;
  message: string;
}

/** Any parsed template (JSON): its sections are looked at as data, whatever their declared type. */
type Template = object;

const TEMPLATE_KEYS = [
  'AWSTemplateFormatVersion',
  'Description',
  'Metadata',
  'Parameters',
  'Mappings',
  'Conditions',
  'Transform',
  'Resources',
  'Outputs',
  'Rules',
];
const RESOURCE_KEYS = ['Type', 'Properties', 'DependsOn', 'Condition', 'DeletionPolicy', 'UpdateReplacePolicy', 'Metadata', 'CreationPolicy', 'UpdatePolicy'];
const OUTPUT_KEYS = ['Description', 'Value', 'Export', 'Condition'];
const PSEUDO_PARAMETERS = [
  'AWS::AccountId',
  'AWS::NotificationARNs',
  'AWS::NoValue',
  'AWS::Partition',
  'AWS::Region',
  'AWS::StackId',
  'AWS::StackName',
  'AWS::URLSuffix',
];
const INTRINSICS = new Set([
  'Ref',
  'Condition',
  'Fn::GetAtt',
  'Fn::Sub',
  'Fn::Join',
  'Fn::If',
  'Fn::Select',
  'Fn::Split',
  'Fn::GetAZs',
  'Fn::ImportValue',
  'Fn::FindInMap',
  'Fn::Base64',
  'Fn::Cidr',
  'Fn::Length',
  'Fn::ToJsonString',
  'Fn::Equals',
  'Fn::Not',
  'Fn::And',
  'Fn::Or',
]);
/** What an intrinsic stands for where a property's value is expected. */
const LIST_INTRINSICS = new Set(['Fn::Split', 'Fn::GetAZs', 'Fn::Cidr']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function intrinsicName(v: unknown): string | undefined {
  if (!isObject(v)) return undefined;
  const keys = Object.keys(v);
  return keys.length === 1 && keys[0] && INTRINSICS.has(keys[0]) && keys[0] !== 'Condition' ? keys[0] : undefined;
}

const isNoValue = (v: unknown) => isObject(v) && v.Ref === 'AWS::NoValue';

export function checkTemplate(template: Template, spec: CfnSpec): Finding[] {
  const findings: Finding[] = [];
  const report = (path: string, message: string) => findings.push({ path, message });
  const sections = template as Record<string, unknown>;
  const resources = (isObject(sections.Resources) ? sections.Resources : {}) as Record<string, Record<string, unknown>>;
  const parameters = isObject(sections.Parameters) ? sections.Parameters : {};
  const conditions = isObject(sections.Conditions) ? sections.Conditions : {};

  for (const key of Object.keys(sections)) if (!TEMPLATE_KEYS.includes(key)) report(key, 'not a template section');

  // ---- values against property types -------------------------------------------------------
  function attributeIsList(logicalId: string, attribute: string): boolean {
    const type = spec.resource(String(resources[logicalId]?.Type))?.attributes[attribute]?.type;
    return type?.type === 'array';
  }

  /** The shape an intrinsic returns: a scalar, a list, or unknown (accepted anywhere). */
  function intrinsicShape(name: string, arg: unknown): 'scalar' | 'list' | 'unknown' {
    if (LIST_INTRINSICS.has(name)) return 'list';
    if (name === 'Fn::GetAtt') {
      const [id, attr] = Array.isArray(arg) ? arg : String(arg).split(/\.(.*)/s);
      return typeof id === 'string' && typeof attr === 'string' && attributeIsList(id, attr) ? 'list' : 'scalar';
    }
    if (name === 'Ref') {
      const param = parameters[String(arg)];
      const type = isObject(param) ? String(param.Type) : '';
      return type.startsWith('List<') || type === 'CommaDelimitedList' ? 'list' : 'scalar';
    }
    if (name === 'Fn::Select' || name === 'Fn::FindInMap') return 'unknown';
    return 'scalar';
  }

  /** Findings of `value` against one type, without reporting (so unions can try each member). */
  function against(value: unknown, type: SpecType, path: string): Finding[] {
    const out: Finding[] = [];
    const bad = (message: string) => out.push({ path, message });
    const intrinsic = intrinsicName(value);
    if (intrinsic === 'Fn::If') {
      const [, yes, no] = (value as { 'Fn::If': unknown[] })['Fn::If'];
      for (const [branch, v] of [
        ['then', yes],
        ['else', no],
      ] as const)
        if (!isNoValue(v)) out.push(...against(v, type, `${path}.Fn::If(${branch})`));
      return out;
    }
    if (intrinsic) {
      if (type.type === 'json' || type.type === 'union') return out;
      const shape = intrinsicShape(intrinsic, (value as Record<string, unknown>)[intrinsic]);
      if (shape === 'unknown') return out;
      const wantsList = type.type === 'array';
      const wantsScalar = ['string', 'integer', 'number', 'boolean', 'date-time'].includes(type.type);
      if (wantsList && shape !== 'list') bad(`expected a list, got ${intrinsic} (a single value)`);
      else if (wantsScalar && shape !== 'scalar') bad(`expected a single ${type.type}, got ${intrinsic} (a list)`);
      else if (!wantsList && !wantsScalar) bad(`expected ${describe(type)}, got ${intrinsic}`);
      return out;
    }
    switch (type.type) {
      case 'json':
        return out;
      case 'string':
      case 'date-time':
        if (!['string', 'number', 'boolean'].includes(typeof value)) bad(`expected a string, got ${kindOf(value)}`);
        else if (type.type === 'string' && type.allowedValues && !type.allowedValues.includes(String(value)))
          bad(`${JSON.stringify(value)} is not one of ${type.allowedValues.join(', ')}`);
        return out;
      case 'integer':
      case 'number':
        if (!(typeof value === 'number' || (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))))
          bad(`expected a ${type.type}, got ${kindOf(value)}`);
        else if (type.type === 'integer' && !Number.isInteger(Number(value))) bad(`expected an integer, got ${value}`);
        return out;
      case 'boolean':
        if (!(typeof value === 'boolean' || value === 'true' || value === 'false')) bad(`expected a boolean, got ${kindOf(value)}`);
        return out;
      case 'null':
        if (value !== null) bad(`expected null, got ${kindOf(value)}`);
        return out;
      case 'tag':
        if (!isObject(value)) bad(`expected a tag {Key, Value}, got ${kindOf(value)}`);
        else
          out.push(...objectAgainst(value, { Key: { type: { type: 'string' }, required: true }, Value: { type: { type: 'string' }, required: true } }, path));
        return out;
      case 'array':
        if (!Array.isArray(value)) bad(`expected a list, got ${kindOf(value)}`);
        else for (const [i, v] of value.entries()) out.push(...against(v, type.element, `${path}[${i}]`));
        return out;
      case 'map':
        if (!isObject(value)) bad(`expected a map, got ${kindOf(value)}`);
        else for (const [k, v] of Object.entries(value)) out.push(...against(v, type.element, `${path}.${k}`));
        return out;
      case 'ref': {
        const def = spec.typeDefinition(type.reference.$ref);
        if (!isObject(value)) bad(`expected ${def.name} (an object), got ${kindOf(value)}`);
        else out.push(...objectAgainst(value, def.properties, path));
        return out;
      }
      case 'union': {
        const tries = type.types.map((t) => against(value, t, path));
        const best = tries.find((f) => f.length === 0) ?? tries.reduce((a, b) => (b.length < a.length ? b : a));
        return best;
      }
    }
  }

  function propertyAgainst(value: unknown, prop: SpecProperty, path: string): Finding[] {
    const first = against(value, prop.type, path);
    if (first.length === 0) return first;
    // The CDK keeps the types a property had before; CloudFormation still accepts them.
    for (const previous of prop.previousTypes ?? []) if (against(value, previous, path).length === 0) return [];
    return first;
  }

  function objectAgainst(value: Record<string, unknown>, props: Record<string, SpecProperty>, path: string): Finding[] {
    const out: Finding[] = [];
    for (const [key, v] of Object.entries(value)) {
      const prop = props[key];
      if (!prop) {
        out.push({ path: `${path}.${key}`, message: 'unknown property' });
        continue;
      }
      if (prop.deprecated) out.push({ path: `${path}.${key}`, message: `deprecated property (${prop.deprecated})` });
      if (!isNoValue(v)) out.push(...propertyAgainst(v, prop, `${path}.${key}`));
    }
    for (const [key, prop] of Object.entries(props)) {
      if (prop.required && (value[key] === undefined || isNoValue(value[key]))) out.push({ path: `${path}.${key}`, message: 'required property missing' });
    }
    return out;
  }

  // ---- resources -----------------------------------------------------------------------------
  for (const [id, resource] of Object.entries(resources)) {
    const path = `Resources.${id}`;
    for (const key of Object.keys(resource)) if (!RESOURCE_KEYS.includes(key)) report(`${path}.${key}`, 'not a resource attribute');
    const type = String(resource.Type);
    const dependsOn = resource.DependsOn === undefined ? [] : [resource.DependsOn].flat();
    for (const dep of dependsOn) if (typeof dep !== 'string' || !resources[dep]) report(`${path}.DependsOn`, `${String(dep)} is not a resource`);
    if (resource.Condition !== undefined && !(String(resource.Condition) in conditions))
      report(`${path}.Condition`, `${String(resource.Condition)} is not a condition`);
    if (type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource') continue;
    const resourceSpec = spec.resource(type);
    if (!resourceSpec) {
      report(`${path}.Type`, `${type} is not a CloudFormation resource type`);
      continue;
    }
    const props = resource.Properties ?? {};
    if (!isObject(props)) report(`${path}.Properties`, 'expected an object');
    else findings.push(...objectAgainst(props, resourceSpec.properties, `${path}.Properties`));
  }

  // ---- outputs -------------------------------------------------------------------------------
  for (const [name, output] of Object.entries(isObject(sections.Outputs) ? sections.Outputs : {})) {
    const path = `Outputs.${name}`;
    if (!isObject(output)) {
      report(path, 'expected an object');
      continue;
    }
    for (const key of Object.keys(output)) if (!OUTPUT_KEYS.includes(key)) report(`${path}.${key}`, 'not an output key');
    if (output.Value === undefined) report(`${path}.Value`, 'required');
    if (output.Export !== undefined && !(isObject(output.Export) && Object.keys(output.Export).join() === 'Name')) report(`${path}.Export`, 'expected {Name}');
  }

  // ---- references ----------------------------------------------------------------------------
  const refTargets = new Set([...Object.keys(resources), ...Object.keys(parameters), ...PSEUDO_PARAMETERS]);
  function checkGetAtt(id: string, attribute: string, path: string) {
    const target = resources[id];
    if (!target) return report(path, `GetAtt ${id}.${attribute}: ${id} is not a resource`);
    const type = String(target.Type);
    const targetSpec = spec.resource(type);
    if (!targetSpec) return; // custom or unknown type (the latter already reported)
    if (!(attribute in targetSpec.attributes)) report(path, `GetAtt ${id}.${attribute}: ${type} has no attribute ${attribute}`);
  }
  function walk(node: unknown, path: string) {
    if (Array.isArray(node)) {
      for (const [i, n] of node.entries()) walk(n, `${path}[${i}]`);
      return;
    }
    if (!isObject(node)) return;
    const keys = Object.keys(node);
    if (keys.length === 1) {
      const [name] = keys as [string];
      const arg = node[name];
      if (name === 'Ref' && !refTargets.has(String(arg))) report(path, `Ref ${String(arg)}: not a resource, parameter or pseudo-parameter`);
      if (name === 'Fn::GetAtt') {
        const [id, attr] = Array.isArray(arg) ? arg : String(arg).split(/\.(.*)/s);
        if (typeof id !== 'string' || typeof attr !== 'string') report(path, 'GetAtt: expected [resource, attribute]');
        else checkGetAtt(id, attr, path);
      }
      if (name === 'Fn::Sub') {
        const [text, vars] = Array.isArray(arg) ? arg : [arg, {}];
        const local = isObject(vars) ? vars : {};
        for (const [, variable] of String(text).matchAll(/\$\{([^}!][^}]*)\}/g)) {
          const v = String(variable).trim();
          if (v in local) continue;
          const dot = v.indexOf('.');
          if (dot > 0 && !v.startsWith('AWS::')) checkGetAtt(v.slice(0, dot), v.slice(dot + 1), path);
          else if (!refTargets.has(v)) report(path, `Sub \${${v}}: not a resource, parameter or pseudo-parameter`);
        }
      }
      if (
        (name === 'Fn::If' && Array.isArray(arg) && !(String(arg[0]) in conditions)) ||
        (name === 'Condition' && path.startsWith('Conditions') && !(String(arg) in conditions))
      ) {
        report(path, `${name} ${String(Array.isArray(arg) ? arg[0] : arg)}: not a condition`);
      }
    }
    for (const [k, v] of Object.entries(node)) walk(v, `${path}.${k}`);
  }
  for (const section of ['Resources', 'Outputs', 'Conditions']) walk(sections[section], section);

  // ---- IAM policy documents ------------------------------------------------------------------
  for (const [id, resource] of Object.entries(resources)) {
    const props = isObject(resource.Properties) ? resource.Properties : {};
    const path = `Resources.${id}.Properties`;
    const type = String(resource.Type);
    if (type === 'AWS::IAM::Role') {
      if (props.AssumeRolePolicyDocument !== undefined)
        findings.push(...checkPolicy(props.AssumeRolePolicyDocument, 'trust', `${path}.AssumeRolePolicyDocument`));
      const policies = Array.isArray(props.Policies) ? props.Policies : [];
      policies.forEach((p, i) => {
        if (isObject(p)) findings.push(...checkPolicy(p.PolicyDocument, 'identity', `${path}.Policies[${i}].PolicyDocument`));
      });
    } else if (type === 'AWS::IAM::Policy' || type === 'AWS::IAM::ManagedPolicy') {
      findings.push(...checkPolicy(props.PolicyDocument, 'identity', `${path}.PolicyDocument`));
    } else if (props.PolicyDocument !== undefined) {
      findings.push(...checkPolicy(props.PolicyDocument, 'resource', `${path}.PolicyDocument`));
    }
  }
  return findings;
}

const STATEMENT_KEYS = ['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition'];
const PRINCIPAL_KEYS = ['AWS', 'Service', 'Federated', 'CanonicalUser'];
const ACTION = /^(\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$/;
const CONDITION_OPERATOR = /^(ForAllValues:|ForAnyValue:)?[A-Za-z]+$/;

/**
 * An IAM policy document: `identity` (a role's or policy's: needs Resource, no Principal),
 * `resource` (a queue's or bucket's: needs Principal) or `trust` (a role's AssumeRolePolicyDocument).
 */
export function checkPolicy(doc: unknown, kind: 'identity' | 'resource' | 'trust', path: string): Finding[] {
  const out: Finding[] = [];
  const bad = (where: string, message: string) => out.push({ path: where, message });
  if (intrinsicName(doc)) return out;
  if (!isObject(doc)) return [{ path, message: 'expected a policy document object' }];
  for (const key of Object.keys(doc)) if (!['Version', 'Id', 'Statement'].includes(key)) bad(`${path}.${key}`, 'not a policy document key');
  if (doc.Version !== undefined && doc.Version !== '2012-10-17' && doc.Version !== '2008-10-17')
    bad(`${path}.Version`, `unknown policy version ${String(doc.Version)}`);
  const statements = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement === undefined ? [] : [doc.Statement];
  if (statements.length === 0) bad(`${path}.Statement`, 'no statement');
  for (const [i, s] of statements.entries()) {
    const at = `${path}.Statement[${i}]`;
    if (intrinsicName(s)) continue;
    if (!isObject(s)) {
      bad(at, 'expected a statement object');
      continue;
    }
    for (const key of Object.keys(s)) if (!STATEMENT_KEYS.includes(key)) bad(`${at}.${key}`, 'not a statement key');
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') bad(`${at}.Effect`, `Effect must be Allow or Deny, not ${JSON.stringify(s.Effect)}`);
    if ((s.Action === undefined) === (s.NotAction === undefined)) bad(at, 'needs exactly one of Action and NotAction');
    for (const key of ['Action', 'NotAction']) {
      if (s[key] === undefined) continue;
      const actions = [s[key]].flat();
      if (actions.length === 0) bad(`${at}.${key}`, 'empty');
      for (const a of actions)
        if (!intrinsicName(a) && !(typeof a === 'string' && ACTION.test(a))) bad(`${at}.${key}`, `${JSON.stringify(a)} is not service:Action`);
      if (kind === 'trust' && actions.some((a) => typeof a === 'string' && !a.startsWith('sts:')))
        bad(`${at}.${key}`, 'a trust policy allows sts: actions only');
    }
    const hasResource = s.Resource !== undefined || s.NotResource !== undefined;
    const hasPrincipal = s.Principal !== undefined || s.NotPrincipal !== undefined;
    if (s.Resource !== undefined && s.NotResource !== undefined) bad(at, 'both Resource and NotResource');
    if (kind === 'identity' && !hasResource) bad(at, 'an identity policy statement needs Resource or NotResource');
    if (kind === 'identity' && hasPrincipal) bad(at, 'an identity policy statement takes no Principal');
    if (kind !== 'identity' && !hasPrincipal) bad(at, `a ${kind} policy statement needs Principal or NotPrincipal`);
    for (const key of ['Resource', 'NotResource']) {
      for (const r of s[key] === undefined ? [] : [s[key]].flat()) {
        if (!intrinsicName(r) && !(typeof r === 'string' && (r === '*' || r.startsWith('arn:'))))
          bad(`${at}.${key}`, `${JSON.stringify(r)} is not an ARN or *`);
      }
    }
    for (const key of ['Principal', 'NotPrincipal']) {
      const p = s[key];
      if (p === undefined || p === '*' || intrinsicName(p)) continue;
      if (!isObject(p)) bad(`${at}.${key}`, 'expected * or an object');
      else for (const k of Object.keys(p)) if (!PRINCIPAL_KEYS.includes(k)) bad(`${at}.${key}.${k}`, 'not a principal type');
    }
    if (s.Condition !== undefined) {
      if (!isObject(s.Condition)) bad(`${at}.Condition`, 'expected an object');
      else
        for (const [op, block] of Object.entries(s.Condition)) {
          if (!CONDITION_OPERATOR.test(op)) bad(`${at}.Condition.${op}`, 'not a condition operator');
          if (!isObject(block)) bad(`${at}.Condition.${op}`, 'expected {key: value}');
        }
    }
  }
  return out;
}

function kindOf(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  if (isObject(v)) return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function describe(type: SpecType): string {
  if (type.type === 'ref') return 'an object';
  if (type.type === 'map') return 'a map';
  return type.type;
}
