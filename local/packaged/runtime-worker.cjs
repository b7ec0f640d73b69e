'use strict';
/**
 * One Lambda function's runtime, in a worker thread of its own: loads the function's code from its
 * unzipped package the way the nodejs22.x runtime does, then runs invocations the parent posts.
 *
 * Plain CommonJS, not TypeScript: it must run as is under tsx and vitest alike, and nothing may
 * register a TypeScript loader in the thread that loads the shipped bundle.
 *
 * The loading follows the runtime's handler resolution (aws-lambda-nodejs-runtime-interface-client,
 * UserFunction.js): the Handler `dir/module.export.path` names a module under the task root, tried
 * extensionless, `.js` (CommonJS unless a package.json says "type": "module"), `.mjs` (import),
 * `.cjs` (require), and an export path that may be nested; errors carry the runtime's names
 * (Runtime.ImportModuleError, Runtime.HandlerNotFound, ...), as CloudWatch would show them.
 */
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { parentPort, workerData } = require('node:worker_threads');

const { taskRoot, handler: fullHandler } = workerData;

class RuntimeError extends Error {
  constructor(name, message, cause) {
    super(message, cause ? { cause } : undefined);
    this.name = name;
  }
}

function parseHandler(full) {
  if (full.includes('..')) throw new RuntimeError('Runtime.MalformedHandlerName', `'${full}' is not a valid handler name.`);
  const handlerString = path.basename(full);
  const moduleRoot = full.slice(0, full.indexOf(handlerString));
  const match = /^([^.]*)\.(.*)$/.exec(handlerString);
  if (!match) throw new RuntimeError('Runtime.MalformedHandlerName', 'Bad handler');
  return { moduleRoot, moduleName: match[1], handlerPath: match[2] };
}

/** Like the runtime's package.json walk, but it stops at the task root (Lambda's /var/task has no parent package.json). */
function typeModule(folder) {
  for (let dir = folder; dir.startsWith(taskRoot); dir = path.dirname(dir)) {
    const pj = path.join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        return JSON.parse(readFileSync(pj, 'utf8')).type === 'module';
      } catch {
        return false;
      }
    }
    if (dir === taskRoot) break;
  }
  return false;
}

const tryRequire = (file) => (existsSync(file) ? require(file) : undefined);
const tryImport = async (file) => (existsSync(file) ? import(pathToFileURL(file).href) : undefined);

async function loadModule(moduleRoot, moduleName) {
  const base = path.resolve(taskRoot, moduleRoot, moduleName);
  const esm = typeModule(path.dirname(base));
  const loaded =
    tryRequire(base) ||
    (!esm && tryRequire(`${base}.js`)) ||
    (esm && (await tryImport(`${base}.js`))) ||
    (await tryImport(`${base}.mjs`)) ||
    tryRequire(`${base}.cjs`);
  if (loaded) return loaded;
  // The runtime's last resort: a Node-style resolution from the task root.
  return require(require.resolve(moduleName, { paths: [taskRoot, moduleRoot] }));
}

async function loadHandler() {
  const { moduleRoot, moduleName, handlerPath } = parseHandler(fullHandler);
  let mod;
  try {
    mod = await loadModule(moduleRoot, moduleName);
  } catch (err) {
    if (err instanceof SyntaxError) throw new RuntimeError('Runtime.UserCodeSyntaxError', String(err), err);
    if (err && err.code === 'MODULE_NOT_FOUND') throw new RuntimeError('Runtime.ImportModuleError', String(err), err);
    throw err;
  }
  const fn = handlerPath.split('.').reduce((nested, key) => nested?.[key], mod);
  if (!fn) throw new RuntimeError('Runtime.HandlerNotFound', `${fullHandler} is undefined or not exported`);
  if (typeof fn !== 'function') throw new RuntimeError('Runtime.HandlerNotFound', `${fullHandler} is not a function`);
  return fn;
}

/** The error as the runtime reports it to Lambda (and Lambda to the caller): type, message, trace. */
const asRuntimeError = (err) =>
  err instanceof Error
    ? { errorType: err.name, errorMessage: err.message, trace: String(err.stack ?? '').split('\n') }
    : { errorType: typeof err, errorMessage: String(err), trace: [] };

function contextFor({ awsRequestId, deadline }) {
  const env = process.env;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: `arn:aws:lambda:${env.AWS_REGION}:123456789012:function:${env.AWS_LAMBDA_FUNCTION_NAME}`,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

// `awslambda.streamifyResponse` and friends, as the runtime provides them before loading user code.
globalThis.awslambda = { streamifyResponse: (handler) => handler };

const ready = loadHandler();
ready.then(
  () => parentPort.postMessage({ type: 'ready' }),
  (err) => parentPort.postMessage({ type: 'init-error', error: asRuntimeError(err) }),
);

parentPort.on('message', async ({ id, event, context }) => {
  try {
    const fn = await ready;
    const result = await fn(JSON.parse(event), contextFor(context));
    // The runtime hands Lambda the result as JSON: whatever does not survive that does not reach API Gateway.
    parentPort.postMessage({ type: 'result', id, result: result === undefined ? 'null' : JSON.stringify(result) });
  } catch (err) {
    parentPort.postMessage({ type: 'error', id, error: asRuntimeError(err) });
  }
});
