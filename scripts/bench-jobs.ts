import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type BulkJobFigures, startBulkJobHarness } from '#local/bulk-job-run';

/**
 * `npm run bench`, section 7: bulk jobs under an upstream rate limit (docs/jobs.md#figures). Runs in
 * a process of its own (`runJobsBench`), since the other sections point the same in-process
 * handlers at other upstreams and configuration is read once per process, as per container.
 *
 * Parameters (environment):
 *   BENCH_JOB_LIMIT        the upstream's limit per credential, calls/s (R)        500
 *   BENCH_JOB_BURST        its burst                                              R
 *   BENCH_JOB_INTERACTIVE  interactive calls/s on the same credential             0.3 R
 *   BENCH_JOB_SHARE        jobRequestsPerSecond (what the jobs may use)            0.65 R
 *   BENCH_JOB_TARGETS      targets per job                                         10000
 *   BENCH_JOB_SCALING_TARGETS  targets per run of the no-limit scaling table        2000
 */

const R = Number(process.env.BENCH_JOB_LIMIT ?? 500);
const BURST = Number(process.env.BENCH_JOB_BURST ?? R);
const INTERACTIVE = Number(process.env.BENCH_JOB_INTERACTIVE ?? 0.3 * R);
const SHARE = Number(process.env.BENCH_JOB_SHARE ?? Math.floor(0.65 * R));
const TARGETS = Number(process.env.BENCH_JOB_TARGETS ?? 10_000);
const SCALING_TARGETS = Number(process.env.BENCH_JOB_SCALING_TARGETS ?? 2_000);

/**
 * Prices, us-east-1 (estimates: AWS's pricing pages as quoted by third parties on 2026-03/06; check
 * https://aws.amazon.com/lambda/pricing/ and https://aws.amazon.com/sqs/pricing/ before relying on them).
 */
const PRICE = { lambdaArmGbSecond: 0.0000133334, lambdaPerMillionRequests: 0.2, sqsPerMillionRequests: 0.4 } as const;
const MEMORY_GB = 0.5;

const out = (line = '') => process.stdout.write(`${line}\n`);
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Lambda and SQS cost of a run, from its measured invocation durations and its queue traffic. */
function costOf(f: BulkJobFigures) {
  const gbSeconds = (f.queue.invocationMs.reduce((a, b) => a + b, 0) / 1000) * MEMORY_GB;
  const invocations = f.queue.invocations;
  // Sends (producer's + continuations + dead-letter copies), and per invocation one receive and one
  // DeleteMessageBatch (empty long polls between messages are left out: they depend on the traffic).
  const sqsRequests = f.queue.produced + f.queue.continuations + f.deadLettered.rateLimited + f.deadLettered.other + 2 * invocations;
  const dollars =
    gbSeconds * PRICE.lambdaArmGbSecond + (invocations / 1e6) * PRICE.lambdaPerMillionRequests + (sqsRequests / 1e6) * PRICE.sqsPerMillionRequests;
  return { gbSeconds, invocations, sqsRequests, dollars };
}

function report(label: string, f: BulkJobFigures) {
  const ratio = f.idealMs ? f.elapsedMs / f.idealMs : undefined;
  const interactive429 = f.interactive.calls ? (100 * f.interactive.refused429) / f.interactive.calls : 0;
  const cost = costOf(f);
  out(`${label}`);
  out(`  time ${s(f.elapsedMs)}   ideal ${f.idealMs ? s(f.idealMs) : '-'}   ratio ${ratio?.toFixed(2) ?? '-'} (goal ≤ 1.25)`);
  out(
    `  interactive ${f.interactive.calls} calls, ${f.interactive.refused429} answered 429 (${interactive429.toFixed(2)} %, goal ≤ 0.1 %), ${f.interactive.upstream429} upstream 429s behind them`,
  );
  out(
    `  targets ${f.targetsDone}/${f.scenario.targets} done, lost ${f.lost}, called twice ${f.calledMoreThanOnce}, more than twice ${f.calledMoreThanTwice}; job calls refused 429: ${f.jobRefused}`,
  );
  out(
    `  dead-lettered: ${f.deadLettered.rateLimited} for rate limits, ${f.deadLettered.other} other, ${f.deadLettered.redriven} redriven; continuations ${f.queue.continuations}; invocations ${f.queue.invocations}, retried records ${f.queue.batchItemFailures}`,
  );
  out(
    `  cost: ${cost.gbSeconds.toFixed(1)} GB-s at 512 MB, ${cost.invocations} Lambda requests, ~${cost.sqsRequests} SQS requests = $${cost.dollars.toFixed(5)} (${((cost.dollars / f.scenario.targets) * 10_000).toFixed(5)} per 10,000 targets)`,
  );
  const goals = [ratio === undefined || ratio <= 1.25, interactive429 <= 0.1, f.lost === 0, f.deadLettered.rateLimited === 0, f.calledMoreThanTwice === 0];
  out(
    `  goals: ${goals.every(Boolean) ? 'all met' : `MISSED (${['time', 'interactive 429s', 'lost', 'dead-lettered', 'called > 2'].filter((_, i) => !goals[i]).join(', ')})`}`,
  );
}

async function main() {
  const harness = await startBulkJobHarness();
  try {
    out(`## 7. Bulk jobs under an upstream rate limit (docs/jobs.md#figures)`);
    out(
      `limit ${R}/s per credential, burst ${BURST}; interactive ${INTERACTIVE}/s; jobRequestsPerSecond ${SHARE} (÷ jobMaxConcurrency 5 = ${(SHARE / 5).toFixed(1)}/s per invocation), jobConcurrency 8; ${TARGETS} targets in messages of 100`,
    );
    for (const kind of ['expire-all', 'logout'] as const) {
      const f = await harness.run({
        kind,
        targets: TARGETS,
        rateLimit: { rate: R, burst: BURST },
        jobRequestsPerSecond: SHARE,
        interactivePerSecond: INTERACTIVE,
      });
      report(kind === 'expire-all' ? `Svix expire-all, ${TARGETS} targets` : `nextAuth logout, ${TARGETS} targets`, f);
    }
    out();
    out(`No limit, unpaced: targets/s of ${SCALING_TARGETS} expire-all targets (messages of 10) by jobMaxConcurrency × jobConcurrency`);
    const concurrencies = [1, 4, 8];
    out(`  invocations \\ calls  ${concurrencies.map((c) => String(c).padStart(8)).join('')}`);
    for (const invocations of [1, 2, 5]) {
      const cells: string[] = [];
      for (const jobConcurrency of concurrencies) {
        const f = await harness.run({
          kind: 'expire-all',
          targets: SCALING_TARGETS,
          targetsPerMessage: 10,
          jobRequestsPerSecond: 0,
          jobMaxConcurrency: invocations,
          jobConcurrency,
        });
        cells.push(((f.targetsDone / f.elapsedMs) * 1000).toFixed(0).padStart(8));
      }
      out(`  ${String(invocations).padStart(11)}          ${cells.join('')}`);
    }
  } finally {
    await harness.close();
  }
}

/**
 * Section 7 in a process of its own, its figures on our output: the one call scripts/bench.ts makes.
 * The job's log lines (audit records are written whatever LOG_LEVEL says) are left out.
 */
export function runJobsBench(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'bench-jobs.ts')], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, LOG_LEVEL: 'error' },
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) out(line);
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`bench-jobs exited with ${code}`))));
  });
}

if (process.argv[1] === import.meta.filename) await main();
