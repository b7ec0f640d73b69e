import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/**
 * AWS Control Tower's proactive controls, run offline: the cfn-guard binary and the Control Tower
 * rule set that the registry package `@cdklabs/cdk-validator-cfnguard` ships (pinned in
 * package.json), over packaged CloudFormation templates. A deploy-time hook runs the same rules.
 */

const PACKAGE = join(import.meta.dirname, '..', '..', 'node_modules', '@cdklabs', 'cdk-validator-cfnguard');
const RULES = join(PACKAGE, 'rules', 'control-tower', 'cfn-guard');
const METADATA = join(PACKAGE, 'rules', 'control-tower', 'metadata');

/** The binary the package ships for this machine (it has Linux and macOS builds, x86_64 and aarch64). */
function guardBinary(): string {
  const os = { linux: 'ubuntu', darwin: 'macos' }[process.platform as string];
  const arch = { x64: 'x86_64', arm64: 'aarch64' }[process.arch as string];
  if (!os || !arch) throw new Error(`@cdklabs/cdk-validator-cfnguard ships no cfn-guard for ${process.platform}/${process.arch}`);
  return join(PACKAGE, 'bin', os, arch, 'cfn-guard');
}

interface ControlMetadata {
  Id: string;
  EvaluatedResourceTypes: string[];
}

/**
 * The rule files whose control evaluates one of `resourceTypes`: the others only say "skip", and
 * leaving them out halves the run (cfn-guard reads and reports every file given to it).
 */
function rulesFor(resourceTypes: Set<string>): string[] {
  const files: string[] = [];
  for (const service of readdirSync(RULES)) {
    for (const file of readdirSync(join(RULES, service))) {
      const metadataFile = join(METADATA, service, file.replace(/\.guard$/, '.metadata.json'));
      const metadata = JSON.parse(readFileSync(metadataFile, 'utf8')) as ControlMetadata;
      if (metadata.EvaluatedResourceTypes.some((type) => resourceTypes.has(type))) files.push(join(RULES, service, file));
    }
  }
  return files;
}

/** A failed control: its id (`CT.S3.PR.1`) and the logical ids of the resources it failed on. */
export type Failures = Map<string, Set<string>>;

interface GuardNode {
  messages?: { custom_message?: string | null };
  [key: string]: unknown;
}

const CONTROL_ID = /\[(CT\.[A-Z0-9]+\.PR\.\d+)\]/;
const RESOURCE_PATH = /^\/Resources\/([^/]+)/;

/**
 * Walks cfn-guard's JSON report of one template: each rule's custom message names its control
 * (`[CT.S3.PR.1]: …`), and every clause below it that failed names the path it looked at
 * (`/Resources/<LogicalId>/Properties/…`).
 */
function collect(node: unknown, control: string | undefined, into: Failures): void {
  if (Array.isArray(node)) {
    for (const child of node) collect(child, control, into);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const here = (node as GuardNode).messages?.custom_message?.match(CONTROL_ID)?.[1] ?? control;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'path' && typeof value === 'string' && here) {
      const resource = value.match(RESOURCE_PATH)?.[1];
      if (resource) {
        if (!into.has(here)) into.set(here, new Set());
        into.get(here)!.add(resource);
      }
    }
    collect(value, here, into);
  }
}

/** Runs the Control Tower rules over each template file (one cfn-guard process for all) and returns each one's failures. */
export function controlTowerFailures(templateFiles: string[]): Failures[] {
  const types = new Set(
    templateFiles.flatMap((file) =>
      Object.values((JSON.parse(readFileSync(file, 'utf8')) as { Resources: Record<string, { Type: string }> }).Resources).map((r) => r.Type),
    ),
  );
  const args = ['validate', '--structured', '--output-format', 'json', '--show-summary', 'none'];
  for (const rules of rulesFor(types)) args.push('--rules', rules);
  for (const file of templateFiles) args.push('--data', file);
  let output: string;
  try {
    output = execFileSync(guardBinary(), args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  } catch (error) {
    // Exit status 19: some rule failed. The report is on stdout all the same.
    const failed = error as { status?: number; stdout?: string };
    if (failed.status !== 19 || !failed.stdout) throw error;
    output = failed.stdout;
  }
  const reports = JSON.parse(output) as Array<{ name: string; not_compliant: unknown[] }>;
  return templateFiles.map((file) => {
    const failures: Failures = new Map();
    for (const report of reports.filter((r) => r.name === file)) collect(report.not_compliant, undefined, failures);
    return failures;
  });
}

/** The packages of test/support/global-setup.ts, by the names template.ts gives them. */
export type Variant = 'jwt' | 'iam' | 'limits';

export interface ControlTowerException {
  reason: string;
  /** The logical ids it covers; absent = every resource the control evaluates. */
  resources?: string[];
  /** The variants it covers; absent = all. */
  variants?: Variant[];
}

const EXCEPTIONS_FILE = join(import.meta.dirname, '..', '..', 'resources', 'control-tower-exceptions.yml');

/** resources/control-tower-exceptions.yml: control id → why the template fails it. */
export function controlTowerExceptions(): Record<string, ControlTowerException> {
  return parse(readFileSync(EXCEPTIONS_FILE, 'utf8')) as Record<string, ControlTowerException>;
}
