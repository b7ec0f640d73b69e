import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { unzipSync } from 'fflate';
import { PROJECT_ROOT } from '../routes.ts';

/**
 * What `serverless package` wrote: the CloudFormation template and one zip per function, read as
 * Lambda would read them (the template's Handler, Runtime, Timeout, MemorySize, Environment).
 */

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  [section: string]: unknown;
}

export interface PackagedFunction {
  /** The serverless.yml key and zip name, e.g. `svixLogout`. */
  name: string;
  logicalId: string;
  /** The deployed function name, e.g. `authgate-dev-svixLogout`. */
  functionName: string;
  handler: string;
  runtime: string;
  timeoutSeconds: number;
  memoryMb: number;
  zip: string;
  /** The template's `Environment.Variables`, intrinsics unresolved. */
  environment: Record<string, unknown>;
}

export const TEMPLATE_FILE = 'cloudformation-template-update-stack.json';

export function readTemplate(packageDir: string): CfnTemplate {
  return JSON.parse(readFileSync(join(packageDir, TEMPLATE_FILE), 'utf8')) as CfnTemplate;
}

/** Every `AWS::Lambda::Function` of the template, with the zip its `Code.S3Key` names in `packageDir`. */
export function packagedFunctions(packageDir: string, template: CfnTemplate = readTemplate(packageDir)): PackagedFunction[] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
    .map(([logicalId, r]) => {
      const p = (r.Properties ?? {}) as Record<string, unknown>;
      const key = (p.Code as { S3Key?: unknown } | undefined)?.S3Key;
      if (typeof key !== 'string') throw new Error(`${logicalId}: Code.S3Key is not a zip name`);
      const zip = join(packageDir, basename(key));
      return {
        name: basename(key, '.zip'),
        logicalId,
        functionName: String(p.FunctionName ?? logicalId),
        handler: String(p.Handler),
        runtime: String(p.Runtime),
        timeoutSeconds: Number(p.Timeout ?? 3),
        memoryMb: Number(p.MemorySize ?? 128),
        zip,
        environment: ((p.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}) as Record<string, unknown>,
      };
    });
}

/** What a package is built from: a change to any of these makes an older package stale. */
const SOURCES = ['serverless.yml', 'package.json', 'package-lock.json', 'functions', 'lib', 'scripts/serverless-drop-unused-default-role.cjs'];

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((entry) => newestMtime(join(path, entry))));
}

export function isFresh(packageDir: string): boolean {
  const template = join(packageDir, TEMPLATE_FILE);
  if (!existsSync(template)) return false;
  const built = statSync(template).mtimeMs;
  return SOURCES.every((source) => newestMtime(join(PROJECT_ROOT, source)) <= built);
}

/**
 * Runs `serverless package` into `packageDir` unless what is there is newer than every source.
 * Offline: osls needs no AWS account to package.
 */
export function ensurePackage(packageDir: string, options: { stage?: string; force?: boolean } = {}): { packaged: boolean } {
  if (!options.force && isFresh(packageDir)) return { packaged: false };
  execFileSync(join(PROJECT_ROOT, 'node_modules', '.bin', 'serverless'), ['package', '--stage', options.stage ?? 'dev', '--package', packageDir], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, CI: 'true', SLS_TELEMETRY_DISABLED: '1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return { packaged: true };
}

/**
 * Extracts a function's zip into `taskRoot` (Lambda's /var/task). Give a directory outside the
 * project: under it, Node would find the project's node_modules and hide a module the zip lacks.
 */
export function unzipTo(zip: string, taskRoot: string): void {
  const root = resolve(taskRoot);
  for (const [name, bytes] of Object.entries(unzipSync(readFileSync(zip)))) {
    if (name.endsWith('/')) continue;
    const target = resolve(root, name);
    if (!target.startsWith(root + sep)) throw new Error(`${basename(zip)}: entry ${name} escapes the task root`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, bytes);
  }
}
