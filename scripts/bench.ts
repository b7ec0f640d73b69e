/**
 * `npm run bench`: the figures behind docs/performance.md, printed side by side
 * with their floors. Figures, not assertions: nothing here fails a build.
 *
 *   1. bundle size per function (minified, deflated as in the zip), against a budget
 *   2. cold start: load + init of each bundle in a fresh Node process, against two floors
 *   3. warm overhead: a full handler invocation vs the same call made directly to the sandbox
 *   4. Secrets Manager calls per 1,000 warm invocations
 *   5. local API start-up time, and the local API under load next to the sandbox alone
 *   6. the cold request: a fresh process's first answer with Secrets Manager and the upstream
 *      connection each 40 ms away, against its floor (scripts/cold-request.ts)
 *
 * BENCH_BASE=<a checkout of another commit, with its node_modules> adds that commit's bundles to
 * sections 1, 2 and 6 and its handler to section 3, measured interleaved with ours in the same run,
 * so a change is judged against its base in one sitting (docs/performance.md).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { deflateRawSync } from 'node:zlib';
import { build } from 'esbuild';
import { send } from '../lib/upstream/transport.ts';
import { lambdaContext } from '../local/events.ts';
import { startFakeAws } from '../local/packaged/fake-aws.ts';
import { PROJECT_ROOT, readServerlessConfig } from '../local/routes.ts';
import { DEFAULT_SANDBOX_SERVER_ID as SANDBOX_SERVER_ID } from '../local/sandbox/nextauth.ts';
import { startSandbox } from '../local/sandbox/server.ts';
import { coldRequest, portalAccessEvent } from './cold-request.ts';

const BUNDLE_BUDGET_BYTES = 40 * 1024;
const BASE = process.env.BENCH_BASE;
/** What the base is called in the tables: BENCH_BASE_LABEL, else its commit. */
function labelOf(dir: string): string {
  try {
    return (
      process.env.BENCH_BASE_LABEL ??
      execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    );
  } catch {
    return 'base';
  }
}
const baseLabel = BASE ? labelOf(BASE) : '';
const WARM_CALLS = Number(process.env.BENCH_CALLS ?? 2000);
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 7);

const out = (line = '') => process.stdout.write(`${line}\n`);
const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
const ms = (n: number) => `${n.toFixed(2)} ms`;
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const workDir = join(PROJECT_ROOT, '.bench');
mkdirSync(workDir, { recursive: true });

async function bundle(entry: string | { contents: string }, name: string, external: string[] = []): Promise<string> {
  const outfile = join(workDir, `${name}.cjs`);
  const source =
    typeof entry === 'string' ? { entryPoints: [entry] } : { stdin: { contents: entry.contents, resolveDir: PROJECT_ROOT, loader: 'ts' as const } };
  await build({ ...source, bundle: true, minify: true, platform: 'node', target: 'node22', format: 'cjs', outfile, external, logLevel: 'error' });
  return outfile;
}

/** Same options as serverless.yml's esbuild block; `root` another checkout (BENCH_BASE) for its bundles. */
async function bundleFunctions(root = PROJECT_ROOT) {
  const config = readServerlessConfig();
  const entries = Object.entries(config.functions).map(([name, fn]) => ({
    name,
    entry: join(root, `${fn.handler.slice(0, fn.handler.lastIndexOf('.'))}.ts`),
  }));
  const result: Array<{ name: string; file: string; raw: number; zipped: number }> = [];
  for (const { name, entry } of entries) {
    const file = await bundle(entry, `${name}${root === PROJECT_ROOT ? '' : '-base'}`);
    const bytes = readFileSync(file);
    result.push({ name, file, raw: bytes.length, zipped: deflateRawSync(bytes, { level: 9 }).length });
  }
  return result;
}

/**
 * The environment of a function in Lambda, so init does what it does there: with
 * AWS_LAMBDA_FUNCTION_NAME set, loading a function also starts its secret's fetch and its upstream
 * connection (`prefetchSecretAtInit`, `preconnectAtInit` in lib/upstream/). Both go nowhere here (a closed port); only their cost to
 * init is measured.
 */
const LAMBDA_ENV = {
  PATH: process.env.PATH,
  AWS_LAMBDA_FUNCTION_NAME: 'bench',
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIDBENCHEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'bench-secret-access-key',
  AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://127.0.0.1:9',
  SVIX_API_URL: 'http://127.0.0.1:9',
  SVIX_SECRET_ID: 'bench/svix',
  NEXTAUTH_API_URL: 'http://127.0.0.1:9',
  NEXTAUTH_SECRET_ID: 'bench/nextauth',
  LOG_LEVEL: 'error',
  METRICS_NAMESPACE: 'authgate/bench',
};

/** Time for a fresh Node process to load the bundle and build its handler, one sample. */
function coldSample(file: string): number {
  const probe = `const t=performance.now();require(${JSON.stringify(file)});process.stdout.write(String(performance.now()-t));process.exit(0)`;
  return Number(execFileSync(process.execPath, ['-e', probe], { encoding: 'utf8', env: LAMBDA_ENV }));
}

/** Medians of COLD_RUNS samples of each file, taken round-robin so a busy machine weighs on all alike. */
function coldStarts(files: string[]): number[] {
  const samples = files.map(() => [] as number[]);
  for (let i = 0; i < COLD_RUNS; i++) for (const [f, file] of files.entries()) samples[f]?.push(coldSample(file));
  return samples.map((s) => percentile(s, 50));
}

async function section1and2() {
  out(`## 1. Bundle size: the zips \`serverless package\` writes (minified)   budget per function: ${kb(BUNDLE_BUDGET_BYTES)}`);
  const packageDir = join(workDir, 'package');
  execFileSync(join(PROJECT_ROOT, 'node_modules', '.bin', 'serverless'), ['package', '--stage', 'bench', '--package', packageDir], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, CI: 'true', SLS_TELEMETRY_DISABLED: '1' },
    stdio: 'ignore',
  });
  const bundled = await bundleFunctions();
  const base = BASE ? await bundleFunctions(BASE) : [];
  out(`function                          zip (deployed)  unzipped   budget${BASE ? `   ${baseLabel}: unzipped, deflated` : ''}`);
  for (const [i, b] of bundled.entries()) {
    const zip = statSync(join(packageDir, `${b.name}.zip`)).size;
    const old = base[i];
    out(
      `${b.name.padEnd(34)}${kb(zip).padEnd(16)}${kb(b.raw).padEnd(11)}${(zip <= BUNDLE_BUDGET_BYTES ? 'ok' : 'OVER').padEnd(9)}${old ? `${kb(old.raw)}, ${kb(old.zipped)}` : ''}`,
    );
  }

  out();
  out(`## 2. Cold start: require() + init in a fresh Node ${process.version} process, median of ${COLD_RUNS}, interleaved`);
  const emptyEntry = { contents: 'export const handler = async () => ({ statusCode: 200 });' };
  const files = [await bundle(emptyEntry, 'floor-empty'), ...bundled.map((b) => b.file), ...base.map((b) => b.file)];
  const times = coldStarts(files);
  const emptyFloor = times[0] ?? Number.NaN;
  const logoutAt = bundled.findIndex((b) => b.name === 'svixLogout');
  // Svix logout holds no key and calls no AWS API: our own stack's floor (docs/performance.md).
  const logoutFloor = times[1 + logoutAt] ?? Number.NaN;
  out(`floors: empty handler ${ms(emptyFloor)}; svixLogout (our stack, no AWS call) ${ms(logoutFloor)}`);
  out(`function                          cold init   ×empty   ×logout (≤ 1.5)${BASE ? `   ${baseLabel}      new/${baseLabel}` : ''}`);
  for (const [i, b] of bundled.entries()) {
    const t = times[1 + i] ?? Number.NaN;
    const old = BASE ? times[1 + bundled.length + i] : undefined;
    out(
      `${b.name.padEnd(34)}${ms(t).padEnd(12)}${(t / emptyFloor).toFixed(1).padEnd(9)}${(t / logoutFloor).toFixed(2).padEnd(18)}${old === undefined ? '' : `${ms(old).padEnd(13)}${(t / old).toFixed(2)}`}`,
    );
  }
}

async function section3and4() {
  out();
  out(`## 3. Warm overhead: app-portal-access, ${WARM_CALLS} calls each, loopback sandbox`);
  const key = 'sk_bench_key';
  const sandbox = await startSandbox({ svixKey: key, nextauth: { apiKey: 'bench', serverId: 'YmVuY2g=' } });
  // Secrets Manager over HTTP, signatures checked, as in the packaged run (local/packaged/fake-aws.ts).
  const credentials = { accessKeyId: 'AKIDBENCHEXAMPLE', secretAccessKey: 'bench-secret-access-key' };
  const aws = await startFakeAws({
    secrets: { 'bench/svix': key },
    principals: new Map([[credentials.accessKeyId, { arn: 'arn:aws:sts::123456789012:assumed-role/bench/bench', allows: () => true, key: credentials }]]),
  });
  Object.assign(process.env, {
    SVIX_API_URL: sandbox.url,
    SVIX_SECRET_ID: 'bench/svix',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url,
    LOG_LEVEL: 'error',
    // Metrics on, as in Lambda, so their cost is in the figure; their records go nowhere.
    METRICS_NAMESPACE: 'authgate/bench',
  });
  (await import('../lib/log.ts')).setLogSink(() => undefined);
  const { handler } = await import('../functions/svix-app-portal-access.ts');
  // The base's own handler, its own lib and SDK, in the same process and loop (BENCH_BASE).
  let baseHandler: typeof handler | undefined;
  if (BASE) {
    (await import(join(BASE, 'lib', 'log.ts'))).setLogSink(() => undefined);
    baseHandler = (await import(join(BASE, 'functions', 'svix-app-portal-access.ts'))).handler;
  }

  // Interleaved, one direct call then one through each handler, so JIT warm-up, GC and the
  // sandbox's growing token table weigh on every series alike.
  const direct: number[] = [];
  const viaHandler: number[] = [];
  const viaBase: number[] = [];
  const url = new URL('/api/v1/auth/app-portal-access/app_demo', sandbox.url);
  const through = async (h: typeof handler, into: number[], i: number) => {
    const event = portalAccessEvent();
    // The context is the Lambda runtime's, made before the handler runs: not part of what it adds.
    const context = lambdaContext();
    const t = performance.now();
    const res = (await h(event, context)) as { statusCode: number };
    if (res.statusCode !== 200) throw new Error(`handler call failed: ${res.statusCode}`);
    if (i >= 100) into.push(performance.now() - t);
  };
  for (let i = 0; i < WARM_CALLS + 100; i++) {
    const t = performance.now();
    const reply = await send({
      method: 'POST',
      url,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': `d${i}` },
      body: Buffer.from('{}'),
      timeoutMs: 5000,
    });
    if (reply.status !== 200) throw new Error(`direct call failed: ${reply.status}`);
    if (i >= 100) direct.push(performance.now() - t);
    // The handler called first after the direct call measured ~20% cheaper whichever it was (the
    // same code against itself gave 0.8): the two take turns going first.
    if (baseHandler && i % 2 === 1) await through(baseHandler, viaBase, i);
    await through(handler, viaHandler, i);
    if (baseHandler && i % 2 === 0) await through(baseHandler, viaBase, i);
  }
  const [d50, d99, h50, h99] = [percentile(direct, 50), percentile(direct, 99), percentile(viaHandler, 50), percentile(viaHandler, 99)];
  out(`direct to sandbox (floor)   median ${ms(d50)}   p99 ${ms(d99)}`);
  out(`through the handler         median ${ms(h50)}   p99 ${ms(h99)}`);
  out(`handler adds                median ${ms(h50 - d50)}   ratio ${(h50 / d50).toFixed(2)}`);
  if (baseHandler) {
    const [b50, b99] = [percentile(viaBase, 50), percentile(viaBase, 99)];
    out(
      `${baseLabel} handler           median ${ms(b50)}   p99 ${ms(b99)}   adds ${ms(b50 - d50)}; overhead new/${baseLabel} ${((h50 - d50) / (b50 - d50)).toFixed(2)}`,
    );
  }
  out();
  out('## 4. Secrets Manager calls');
  const calls = aws.secretReads.length;
  out(
    `${calls} GetSecretValue call(s) for ${(WARM_CALLS + 100) * (baseHandler ? 2 : 1)} warm invocations${baseHandler ? ' of both handlers' : ''} (floor: 1 per handler; refetch every SECRETS_MAX_AGE_SECONDS)`,
  );
  await aws.close();
  await sandbox.close();
}

async function startStack(port: number, sandboxPort: number) {
  const t = performance.now();
  const child = spawn(join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'), ['local/start.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, PORT: String(port), SANDBOX_PORT: String(sandboxPort), LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let printed = '';
  child.stdout.on('data', (chunk: Buffer) => {
    printed += chunk.toString();
  });
  for (;;) {
    const token = /export TOKEN=(\S+)/.exec(printed)?.[1];
    if (token) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/auth/app-portal-access/app_demo`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: '{}',
        });
        if (res.status === 200) return { child, token, printed, ms: performance.now() - t };
      } catch {}
    }
    await new Promise((r) => setTimeout(r, 20));
    if (performance.now() - t > 30_000) throw new Error('local API did not start in 30 s');
  }
}

/** A closed-loop load generator: `connections` callers, each sending its next request on an answer. */
async function load(send: () => Promise<Response>, connections: number, total: number, maxMs: number) {
  const latencies: number[] = [];
  let issued = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (issued < total && performance.now() - started < maxMs) {
        issued++;
        const t = performance.now();
        const res = await send();
        await res.arrayBuffer();
        if (res.status >= 400) failed++;
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { rps: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), n: latencies.length, failed };
}

async function section5() {
  out();
  out('## 5. Local API: start-up (npm start until the first 200 from a handler), and under load');
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const { child, ms: t } = await startStack(3900 + i, 4900 + i);
    times.push(t);
    child.kill('SIGTERM');
  }
  out(`start-up: first 200 after ${times.map((t) => ms(t)).join(', ')} (median ${ms(percentile(times, 50))})`);

  const { child, token, printed } = await startStack(3950, 4950);
  const nonce = 'bench-nonce-0123456789abcdef';
  const serverPath = `/servers/${encodeURIComponent(SANDBOX_SERVER_ID)}/sessions/`;
  const total = Number(process.env.BENCH_LOAD_REQUESTS ?? 4000);
  const connections = 16;
  const viaApi = await load(
    () => fetch(`http://127.0.0.1:3950${serverPath}`, { headers: { authorization: `Bearer ${token}`, 'x-nonce': nonce } }),
    connections,
    total,
    20_000,
  );
  // The sandbox alone, same operation, with the key the gateway would use.
  // The nextAuth secret holds a key per server (docs/configuration.md), or one key for all.
  type NextauthSecret = { apiKey?: string; servers?: Record<string, { apiKey: string }> };
  const secrets = JSON.parse(readFileSync(/SECRETS_FILE=(\S+)/.exec(printed)?.[1] ?? '', 'utf8')) as Record<string, NextauthSecret>;
  const secret = secrets['local/nextauth'];
  const key = secret?.servers?.[SANDBOX_SERVER_ID]?.apiKey ?? secret?.apiKey ?? '';
  const direct = await load(() => fetch(`http://127.0.0.1:4950${serverPath}`, { headers: { 'x-apikey': key, 'x-nonce': nonce } }), connections, total, 20_000);
  child.kill('SIGTERM');
  // A floor that failed measured nothing: say so rather than print it as one.
  if (direct.failed > 0) throw new Error(`section 5: the sandbox refused ${direct.failed} of its own floor's requests (wrong key?)`);
  out(`load: nextAuth getSession, ${connections} connections, ${total} requests (loopback, 2 cores shared with the load generator)`);
  out(`sandbox alone (floor)     ${direct.rps.toFixed(0)} req/s   p50 ${ms(direct.p50)}   p99 ${ms(direct.p99)}   errors ${direct.failed}`);
  out(`through the local API     ${viaApi.rps.toFixed(0)} req/s   p50 ${ms(viaApi.p50)}   p99 ${ms(viaApi.p99)}   errors ${viaApi.failed}`);
}

out(`authgate bench — Node ${process.version}, ${new Date().toISOString()}`);
out();
// BENCH_SECTIONS=5 (or 1,3 ...) runs only those sections.
const only = process.env.BENCH_SECTIONS?.split(',').map(Number);
const wanted = (...n: number[]) => !only || n.some((x) => only.includes(x));
if (wanted(1, 2)) await section1and2();
if (wanted(3, 4)) await section3and4();
if (wanted(5)) await section5();
if (wanted(7)) await (await import('./bench-jobs.ts')).runJobsBench();
if (wanted(6)) {
  out();
  out(`## 6. Cold request: app-portal-access on a fresh container, median of ${COLD_RUNS} fresh processes`);
  const file = await bundle(join(PROJECT_ROOT, 'functions', 'svix-app-portal-access.ts'), 'cold-request');
  const bundles = [{ label: 'svixAppPortalAccess', file }];
  if (BASE)
    bundles.push({
      label: `svixAppPortalAccess at ${baseLabel}`,
      file: await bundle(join(BASE, 'functions', 'svix-app-portal-access.ts'), 'cold-request-base'),
    });
  await coldRequest({ bundles, runs: COLD_RUNS, secretLatencyMs: 40, connectionLatencyMs: 40, out });
}
