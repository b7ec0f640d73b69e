/**
 * One cold request, in the fresh Node process `scripts/cold-request.ts` starts for each run:
 * load a function bundle (init), answer the first request at once (as Lambda does after init),
 * then a few warm requests on the same container. Prints the timings as one JSON line.
 *
 * Plain CommonJS, so nothing but the bundle itself is loaded before the clock starts.
 * Usage: node cold-request-probe.cjs <bundle.cjs> <event JSON>
 */
const { performance } = require('node:perf_hooks');
const { randomUUID } = require('node:crypto');

const [bundle, eventJson] = process.argv.slice(2);
const context = () => {
  const deadline = Date.now() + 10_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'bench',
    awsRequestId: randomUUID(),
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
};

const started = performance.now();
const { handler } = require(bundle);
const loaded = performance.now();

(async () => {
  const first = await handler(JSON.parse(eventJson), context());
  const answered = performance.now();
  const warm = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await handler(JSON.parse(eventJson), context());
    warm.push(performance.now() - t);
  }
  warm.sort((a, b) => a - b);
  const result = { loadMs: loaded - started, firstMs: answered - started, status: first.statusCode, warmMs: warm[2] };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  // Keep-alive sockets and SDK timers must not hold the process (and the next run) open.
  process.exit(0);
})();
