import { setTimeout as sleep } from 'node:timers/promises';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { job as expireAllJob } from '#functions/job-expire-all';
import { job as logoutJob } from '#functions/job-logout';
import { handler as getSessionHandler } from '#functions/nextauth-get-session';
import { handler as portalHandler } from '#functions/svix-app-portal-access';
import { queueContinuation } from '#lib/jobs/continuation';
import type { DeadLetterNote } from '#lib/jobs/dead-letter';
import { JOB_DEFAULTS, jobHandler } from '#lib/jobs/handler';
import { invocationShare, Pacer } from '#lib/jobs/pacing';
import type { JobKind } from '#lib/jobs/schema';
import { httpEvent, LOCAL_DIRECT_SENDER, lambdaContext, localProvenance } from './events.ts';
import { type GatewaySandbox, startGatewaySandbox } from './sandbox/for-gateway.ts';
import { base64urlServerId } from './sandbox/nextauth.ts';
import type { RateLimitSettings } from './sandbox/rate-limit.ts';
import type { SandboxRequest } from './sandbox/types.ts';
import { SimulatedQueue } from './simulated-queue.ts';

/**
 * A bulk job of N targets, end to end, the way AWS would run it: the real job handler on real SQS
 * event shapes, fed by a simulated queue and event source mapping (simulated-queue.ts), against the
 * sandbox upstream with its rate limit per credential, while interactive callers go through the
 * real HTTP handlers at a steady rate on the same credential. Used by `npm run bench`
 * (scripts/bench-jobs.ts) and, scaled down, by test/e2e/jobs-rate-limit.test.ts.
 *
 * Each target is identifiable at the upstream (a Svix session id `t-<n>`, a nextAuth nonce
 * `n-<n>`), so calls per target are counted where they land, not where they are sent.
 */

export interface BulkJobScenario {
  /** expire-all: Svix targets on the org key; logout: nextAuth logouts on one server's key. */
  kind: JobKind;
  targets: number;
  targetsPerMessage?: number;
  /** The upstream's limit per credential; absent: none. */
  rateLimit?: RateLimitSettings;
  /** The stage's jobRequestsPerSecond (0: unpaced). */
  jobRequestsPerSecond: number;
  jobMaxConcurrency?: number;
  jobConcurrency?: number;
  /** Interactive calls per second on the same credential while the job runs (0: none). */
  interactivePerSecond?: number;
  lambdaTimeoutMs?: number;
  /**
   * The job's first N upstream calls answered 429 (Retry-After 1 s) whatever the limit: refusals
   * on a machine too loaded to send faster than the limit (the overloaded test's, under CI's load).
   */
  forcedRefusals?: number;
}

export interface BulkJobFigures {
  scenario: BulkJobScenario;
  elapsedMs: number;
  /** targets ÷ (limit − interactive rate): the fastest a job can go while leaving interactive callers theirs. */
  idealMs?: number;
  targetsDone: number;
  /** Targets never carried out and not dead-lettered either. */
  lost: number;
  /** Targets the upstream carried out more than once / more than twice (any 2xx counts). */
  calledMoreThanOnce: number;
  calledMoreThanTwice: number;
  /** Job calls the upstream refused with 429. */
  jobRefused: number;
  deadLettered: { rateLimited: number; other: number; redriven: number };
  interactive: { calls: number; refused429: number; upstream429: number };
  queue: SimulatedQueue['stats'];
}

interface Harness {
  gateway: GatewaySandbox;
  run(scenario: BulkJobScenario): Promise<BulkJobFigures>;
  close(): Promise<void>;
}

type HttpLambda = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;
type SqsLambda = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** Which target a job's upstream call was for, or 'interactive'. */
function whoCalled(req: SandboxRequest): { target?: number; interactive?: true } {
  if (req.url.pathname.includes('/app-portal-access/') || (req.method === 'GET' && req.url.pathname.endsWith('/sessions/'))) return { interactive: true };
  if (req.url.pathname.endsWith('/expire-all')) {
    const sessionIds = (JSON.parse(req.body.toString('utf8') || '{}') as { sessionIds?: string[] }).sessionIds ?? [];
    const match = /^t-(\d+)$/.exec(sessionIds[0] ?? '');
    return match ? { target: Number(match[1]) } : {};
  }
  const nonce = req.headers['x-nonce'];
  const match = typeof nonce === 'string' ? /^n-(\d+)$/.exec(nonce) : null;
  return match ? { target: Number(match[1]) } : {};
}

/**
 * One sandbox for every scenario of the process (the upstream URLs and secrets are read once per
 * process, as per container in Lambda); each run sets its rate limit.
 *
 * @example
 * const bench = await startBulkJobHarness();
 * const figures = await bench.run({ kind: 'expire-all', targets: 10_000, rateLimit: { rate: 500 }, jobRequestsPerSecond: 325, interactivePerSecond: 150 });
 */
export async function startBulkJobHarness(): Promise<Harness> {
  let observer: ((req: SandboxRequest, status: number) => void) | undefined;
  const gateway = await startGatewaySandbox({ observe: (req, status) => observer?.(req, status) });
  const serverId = gateway.serverId;

  const interactiveCall = async (kind: JobKind, n: number): Promise<number> => {
    const event =
      kind === 'expire-all'
        ? httpEvent({
            method: 'POST',
            rawPath: '/api/v1/auth/app-portal-access/app_demo/',
            routeKey: 'POST /api/v1/auth/app-portal-access/{app_id}',
            pathParameters: { app_id: 'app_demo' },
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ sessionId: `interactive-${n}` }),
            authorizer: { jwt: { claims: { sub: 'bench-interactive' }, scopes: [] } },
          })
        : httpEvent({
            method: 'GET',
            rawPath: `/servers/${base64urlServerId(serverId)}/sessions/`,
            routeKey: 'GET /servers/{serverid}/sessions',
            pathParameters: { serverid: serverId },
            headers: { 'x-nonce': `interactive-${n}` },
            authorizer: { jwt: { claims: { sub: 'bench-interactive' }, scopes: [] } },
          });
    const handler = (kind === 'expire-all' ? portalHandler : getSessionHandler) as unknown as HttpLambda;
    return (await handler(event, lambdaContext({ timeoutMs: 10_000 }))).statusCode ?? 0;
  };

  const run = async (scenario: BulkJobScenario): Promise<BulkJobFigures> => {
    const { kind, targets } = scenario;
    const perMessage = scenario.targetsPerMessage ?? 100;
    const maxConcurrency = scenario.jobMaxConcurrency ?? 5;
    gateway.sandbox.rateLimit.set(scenario.rateLimit);
    gateway.sandbox.faults.clear();
    if (scenario.forcedRefusals) {
      gateway.sandbox.faults.set(kind === 'expire-all' ? 'svix.expire-all' : 'nextauth.logout', { status: 429, retryAfter: 1, times: scenario.forcedRefusals });
    }

    const executed = new Array<number>(targets).fill(0);
    let jobRefused = 0;
    const interactive = { calls: 0, refused429: 0, upstream429: 0 };
    observer = (req, status) => {
      const who = whoCalled(req);
      if (who.interactive && status === 429) interactive.upstream429++;
      if (who.target === undefined) return;
      if (status === 429) jobRefused++;
      else if (status >= 200 && status < 300) executed[who.target] = (executed[who.target] ?? 0) + 1;
    };

    const queue = new SimulatedQueue({
      name: `authgate-bench-${kind}`,
      maxConcurrency,
      ...(scenario.lambdaTimeoutMs === undefined ? {} : { lambdaTimeoutMs: scenario.lambdaTimeoutMs }),
      // As AWS asks for Lambda consumers (and resources/jobs.cjs sets): at least 6 × the function timeout.
      visibilityTimeoutMs: 6 * (scenario.lambdaTimeoutMs ?? 30_000) + 1_000,
    });
    const job = kind === 'expire-all' ? expireAllJob : logoutJob;
    const secret = async () => gateway.keys.svix;
    const deadLettered: DeadLetterNote[] = [];
    const share = invocationShare(scenario.jobRequestsPerSecond, maxConcurrency);
    const handlerFor = (): SqsLambda =>
      jobHandler(job, {
        concurrency: scenario.jobConcurrency ?? JOB_DEFAULTS.concurrency,
        provenance: localProvenance(kind),
        // One pacer per container: its share of jobRequestsPerSecond (lib/jobs/pacing.ts).
        pacer: new Pacer({ ratePerSecond: share }),
        carryOn: queueContinuation(kind, `local:${kind}`, queue.sendMessage, secret),
        continuationSecret: secret,
        deadLetter: async (_record, note) => {
          deadLettered.push(note);
        },
      }) as unknown as SqsLambda;

    for (let first = 0; first < targets; first += perMessage) {
      const list = Array.from({ length: Math.min(perMessage, targets - first) }, (_, i) =>
        kind === 'expire-all' ? { appId: 'app_demo', sessionIds: [`t-${first + i}`], expiry: 0 } : { serverid: serverId, nonce: `n-${first + i}` },
      );
      queue.enqueue(JSON.stringify({ targets: list }), LOCAL_DIRECT_SENDER);
    }

    // Interactive callers at a steady rate (exponential gaps: a Poisson stream), until the job ends.
    let jobRunning = true;
    const inFlight: Promise<void>[] = [];
    const interactiveLoop = async () => {
      const rate = scenario.interactivePerSecond ?? 0;
      if (rate <= 0) return;
      for (let n = 0; jobRunning; n++) {
        await sleep((-Math.log(1 - Math.random()) / rate) * 1000);
        if (!jobRunning) break;
        interactive.calls++;
        inFlight.push(
          interactiveCall(kind, n).then((status) => {
            if (status === 429) interactive.refused429++;
          }),
        );
      }
    };

    const started = Date.now();
    const load = interactiveLoop();
    await queue.drain(handlerFor);
    const elapsedMs = Date.now() - started;
    jobRunning = false;
    await load;
    await Promise.all(inFlight);
    observer = undefined;

    const rateLimitedDl = deadLettered.filter((n) => n.reason.startsWith('upstream rate-limited')).length;
    const deadTargets = deadLettered.reduce((sum, n) => sum + n.failedTargets.length, 0);
    const left = (scenario.rateLimit?.rate ?? 0) - (scenario.interactivePerSecond ?? 0);
    return {
      scenario,
      elapsedMs,
      ...(scenario.rateLimit && left > 0 ? { idealMs: (targets / left) * 1000 } : {}),
      targetsDone: executed.filter((c) => c > 0).length,
      lost: Math.max(0, executed.filter((c) => c === 0).length - deadTargets),
      calledMoreThanOnce: executed.filter((c) => c > 1).length,
      calledMoreThanTwice: executed.filter((c) => c > 2).length,
      jobRefused,
      deadLettered: { rateLimited: rateLimitedDl, other: deadLettered.length - rateLimitedDl, redriven: queue.stats.redriven },
      interactive,
      queue: queue.stats,
    };
  };

  return { gateway, run, close: () => gateway.sandbox.close() };
}
