import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { PROJECT_ROOT, type RouteSpec } from '../routes.ts';
import { type FakeAws, startFakeAws } from './fake-aws.ts';
import { roleAllows } from './iam.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION, lambdaEnvironment, localCredentials } from './lambda-env.ts';
import { type CfnTemplate, ensurePackage, isFresh, type PackagedFunction, packagedFunctions, readTemplate, unzipTo } from './package.ts';
import { type FunctionRuntime, startFunctionRuntime } from './runtime.ts';

/**
 * Every function of a `serverless package` output, each unzipped into a task root of its own and
 * started in its own runtime, wired to the sandbox as AWS wires the real upstreams: the upstream
 * keys are secrets in (fake) Secrets Manager under the names the template gives, dead letters go
 * to (fake) SQS at the queue URLs the template's `Ref`s resolve to, and both answer each function
 * as its execution role allows.
 *
 * @example
 * const packaged = await startPackagedFunctions({ packageDir: '.serverless', sandboxUrl, secretValues });
 * const api = await startLocalApi({ authKey, handlerFor: packaged.handlerFor });
 */

/** The ARN a packaged job function gets as JOB_RULE_ARN for its rule (`LogoutRequestedRule`). */
export const packagedRuleArn = (logicalId: string) => `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:rule/${logicalId}`;

export interface PackagedFunctionsOptions {
  packageDir: string;
  /** The template to run, default the package's own (tests pass a deliberately broken copy). */
  template?: CfnTemplate;
  sandboxUrl: string;
  /** What each upstream's secret holds, as the gateway reads it (nextAuth's: either form, lib/upstream/nextauth-credentials.ts). */
  secretValues: { svix: string; nextauth: string };
  /** Each log line of each function; default: this process's stdout, prefixed by the function's name. */
  onLog?: (fn: PackagedFunction, line: string) => void;
}

export interface PackagedFunctions {
  functions: Map<string, FunctionRuntime>;
  fakeAws: FakeAws;
  /** Invokes a function by its serverless.yml name (`jobLogout`) with any event. */
  invoke(name: string, event: unknown): Promise<unknown>;
  /** For `startLocalApi`: the route's function, served from its zip. */
  handlerFor(route: RouteSpec): (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2>;
  close(): Promise<void>;
}

/** The variables holding an upstream's base URL or key's secret name, and what they get locally. */
const UPSTREAM_URLS = ['SVIX_API_URL', 'NEXTAUTH_API_URL'];
const SECRET_NAMES = { SVIX_SECRET_ID: 'svix', NEXTAUTH_SECRET_ID: 'nextauth' } as const;

export async function startPackagedFunctions(options: PackagedFunctionsOptions): Promise<PackagedFunctions> {
  const template = options.template ?? readTemplate(options.packageDir);
  const fns = packagedFunctions(options.packageDir, template);

  // The secrets the template names, holding the sandbox's keys.
  const secrets: Record<string, string> = {};
  for (const fn of fns) {
    for (const [variable, upstream] of Object.entries(SECRET_NAMES)) {
      const name = fn.environment[variable];
      if (typeof name === 'string') secrets[name] = options.secretValues[upstream];
    }
  }
  const arnContext = { partition: 'aws', region: LOCAL_REGION, accountId: LOCAL_ACCOUNT_ID };
  const principals = new Map(
    fns.map((fn) => [
      localCredentials(fn).accessKeyId,
      {
        arn: `arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/${fn.logicalId}-role/${fn.functionName}`,
        allows: roleAllows(template, fn.logicalId, arnContext),
        key: localCredentials(fn),
      },
    ]),
  );
  const fakeAws = await startFakeAws({ secrets, principals, region: LOCAL_REGION, accountId: LOCAL_ACCOUNT_ID });

  const resolve =
    (fn: PackagedFunction) =>
    (value: unknown, variable: string): string => {
      const ref = (value as { Ref?: unknown } | null)?.Ref;
      const target = typeof ref === 'string' ? template.Resources[ref] : undefined;
      if (target?.Type === 'AWS::SQS::Queue' && typeof target.Properties?.QueueName === 'string') return fakeAws.queueUrl(target.Properties.QueueName);
      // A job's own EventBridge rule (JOB_RULE_ARN): named after its logical id here, as CloudFormation would.
      const [rule, attribute] = ((value as { 'Fn::GetAtt'?: unknown } | null)?.['Fn::GetAtt'] ?? []) as unknown[];
      if (attribute === 'Arn' && typeof rule === 'string' && template.Resources[rule]?.Type === 'AWS::Events::Rule') {
        return packagedRuleArn(rule);
      }
      throw new Error(`${fn.name}: cannot resolve ${variable} = ${JSON.stringify(value)} locally`);
    };
  const pointAt = Object.fromEntries(UPSTREAM_URLS.map((name) => [name, options.sandboxUrl]));
  const onLog = options.onLog ?? ((fn, line) => process.stdout.write(`[${fn.name}] ${line}\n`));

  const root = mkdtempSync(join(tmpdir(), 'authgate-packaged-'));
  const functions = new Map<string, FunctionRuntime>();
  try {
    for (const fn of fns) {
      const taskRoot = join(root, fn.name);
      unzipTo(fn.zip, taskRoot);
      const env = lambdaEnvironment(fn, { taskRoot, resolve: resolve(fn), pointAt, awsEndpoint: fakeAws.url });
      functions.set(fn.name, startFunctionRuntime(fn, { taskRoot, env, onLog }));
    }
  } catch (err) {
    await Promise.all([...functions.values()].map((f) => f.close()));
    await fakeAws.close();
    rmSync(root, { recursive: true, force: true });
    throw err;
  }

  const runtimeOf = (name: string) => {
    const runtime = functions.get(name);
    if (!runtime) throw new Error(`no packaged function ${name} in ${options.packageDir}`);
    return runtime;
  };

  return {
    functions,
    fakeAws,
    invoke: (name, event) => runtimeOf(name).invoke(event),
    handlerFor: (route) => {
      const runtime = runtimeOf(route.functionName);
      return (event, context) => runtime.invoke(event, { awsRequestId: context.awsRequestId }) as Promise<APIGatewayProxyResultV2>;
    },
    close: async () => {
      await Promise.all([...functions.values()].map((f) => f.close()));
      await fakeAws.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Where `npm start -- --packaged` packages (the same place as `npm run package`). */
const DEV_PACKAGE_DIR = join(PROJECT_ROOT, '.serverless');

/**
 * For `npm start -- --packaged`: packages the service unless `.serverless/` is newer than every
 * source, then starts its functions. Functions that fail to load are reported here, once, and
 * answer 500 as they would behind API Gateway.
 */
export async function startPackagedForDevelopment(options: Omit<PackagedFunctionsOptions, 'packageDir'>): Promise<PackagedFunctions & { packageDir: string }> {
  process.stdout.write(
    isFresh(DEV_PACKAGE_DIR) ? 'packaged: reusing .serverless/ (newer than every source)\n' : 'packaged: serverless package --stage dev …\n',
  );
  ensurePackage(DEV_PACKAGE_DIR, { stage: 'dev' });
  const packaged = await startPackagedFunctions({ ...options, packageDir: DEV_PACKAGE_DIR });
  const outcomes = await Promise.allSettled([...packaged.functions.values()].map((f) => f.ready));
  for (const outcome of outcomes) if (outcome.status === 'rejected') process.stderr.write(`packaged: ${String((outcome.reason as Error).message)}\n`);
  return { ...packaged, packageDir: DEV_PACKAGE_DIR };
}
