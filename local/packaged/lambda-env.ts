import { createHash } from 'node:crypto';
import type { PackagedFunction } from './package.ts';

/**
 * A packaged function's environment, as Lambda builds it: exactly the variables the template gives
 * the function (nothing inherited from this process), plus what the nodejs22.x runtime sets itself.
 * Locally some values change, never the names: upstream URLs point at the sandbox, queue URLs at
 * the fake SQS, and the SDK's endpoint variables at the fake AWS APIs.
 */

export const LOCAL_ACCOUNT_ID = '123456789012';
export const LOCAL_REGION = 'eu-west-1';
/** Dummy credentials of a function's execution role, one access key per function, as Lambda hands them to the runtime. */
export function localCredentials(fn: PackagedFunction) {
  return {
    accessKeyId: `ASIA${createHash('sha256').update(fn.logicalId).digest('hex').slice(0, 16).toUpperCase()}`,
    secretAccessKey: 'local-packaged-secret-access-key',
    sessionToken: 'local-packaged-session-token',
  };
}

export interface EnvironmentOptions {
  taskRoot: string;
  /** Resolves an intrinsic value of the template (a `Ref` to a queue, say) to a string. */
  resolve: (value: unknown, variable: string) => string;
  /** Local values for variables the template sets (never adds a name). */
  pointAt?: Record<string, string>;
  /** The fake AWS endpoint, handed to the SDK as AWS_ENDPOINT_URL_<SERVICE>. */
  awsEndpoint: string;
}

function templateVariables(fn: PackagedFunction, options: Pick<EnvironmentOptions, 'resolve' | 'pointAt'>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(fn.environment)) {
    const local = options.pointAt?.[name];
    out[name] = local ?? (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : options.resolve(value, name));
  }
  return out;
}

/** The variables the Lambda runtime sets for every function (AWS docs, "Defined runtime environment variables"). */
export function runtimeVariables(fn: PackagedFunction, taskRoot: string): Record<string, string> {
  return {
    _HANDLER: fn.handler,
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
    AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: `local/[$LATEST]${fn.name}`,
    AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001',
    AWS_ACCESS_KEY_ID: localCredentials(fn).accessKeyId,
    AWS_SECRET_ACCESS_KEY: localCredentials(fn).secretAccessKey,
    AWS_SESSION_TOKEN: localCredentials(fn).sessionToken,
    LAMBDA_TASK_ROOT: taskRoot,
    LAMBDA_RUNTIME_DIR: '/var/runtime',
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    PATH: '/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin',
    // Lambda's own search path: none of it exists here, so a module the zip lacks stays missing.
    NODE_PATH: '/opt/nodejs/node22/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task',
  };
}

/**
 * @example
 * lambdaEnvironment(fn, { taskRoot, resolve, pointAt: { SVIX_API_URL: sandbox.url }, awsEndpoint: fakeAws.url })
 */
export function lambdaEnvironment(fn: PackagedFunction, options: EnvironmentOptions): Record<string, string> {
  return {
    ...templateVariables(fn, options),
    ...runtimeVariables(fn, options.taskRoot),
    AWS_ENDPOINT_URL_SECRETS_MANAGER: options.awsEndpoint,
    AWS_ENDPOINT_URL_SQS: options.awsEndpoint,
  };
}
