import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { JOB_MAX_CONCURRENCY, JOB_REQUESTS_PER_SECOND, setting } from '#lib/config';
import { invocationShare } from '#lib/jobs/pacing';
import { DETAIL_TYPES, JOB_KINDS, type JobKind } from '#lib/jobs/schema';
import { setLogSink } from '#lib/log';
import { printable } from './audit.ts';
import { removeOnExit } from './cleanup.ts';
import { localProvenance } from './events.ts';
import { whenOrphaned } from './orphan-watch.ts';
import { queueFunctions } from './routes.ts';
import { type Delivery, describeDelivery, LOCAL_JOB_BOUNDS, runJobInProcess } from './run-job.ts';
import { startGatewaySandbox } from './sandbox/for-gateway.ts';
import { DEFAULT_SANDBOX_SERVER_ID } from './sandbox/nextauth.ts';
import type { Sandbox } from './sandbox/server.ts';
import { useSecretsFile } from './secrets-file.ts';

/**
 * `npm run --silent job -- <logout|expire-all> <json | @file | @-> [--eventbridge] [--rate=R] [--logs]`
 *
 * Runs a job consumer locally, as SQS and Lambda would (run-job.ts): the given message(s) go into
 * a simulated queue, optionally each wrapped as our EventBridge rule delivers an event
 * (`{"rule", "event"}`, sent by EventBridge), and the consumer declared in serverless.yml handles
 * real SQS events of them with a Lambda context of its configured timeout. A record the upstream
 * was too busy for is continued and delivered again after its delay, as in AWS, within the bounds
 * of LOCAL_JOB_BOUNDS. Upstream: a fresh sandbox (Svix + nextAuth) on an ephemeral port, or a
 * running one when SVIX_API_URL, NEXTAUTH_API_URL and SECRETS_FILE are all set (`npm start --
 * --rate-limit=R` runs a rate-limited one). Dead-lettering prints instead of sending to SQS.
 * Exit code 0 when every message is done, 1 otherwise.
 */

const USAGE = `usage: npm run --silent job -- <${JOB_KINDS.join('|')}> <json | @file | @-> [--eventbridge] [--rate=R] [--logs]

  <json | @file>   a message or a JSON array of messages; a string in the array is sent as the raw body
                   (@file reads it from a file, @- from standard input: use them for messages holding
                   nonces, and --silent, or npm prints the command line before running it)
  --eventbridge    wrap each message as our rule delivers an event (detail-type ${Object.values(DETAIL_TYPES).join(' / ')},
                   source ${localProvenance('logout').eventSources[0] ?? '-'}); a string in the array is sent as it is,
                   so a bare or forged event can be tried too
  --rate=R         pace the job as the stage param jobRequestsPerSecond does (JOB_REQUESTS_PER_SECOND):
                   R requests per second per upstream credential for all invocations, each its share
                   R ÷ JOB_MAX_CONCURRENCY (default 5); default 0, unpaced, as deployed by default
  --logs           also print the consumer's JSON log lines (stderr)

A record the upstream refuses with 429 is continued and delivered again after its delay, as in AWS,
until every message is done or dead-lettered, for at most ${LOCAL_JOB_BOUNDS.maxWaitMs / 1000} s and ${LOCAL_JOB_BOUNDS.maxDeliveries} deliveries of a message.

examples:
  npm run --silent job -- logout @offboarding.json      # {"serverid":"${DEFAULT_SANDBOX_SERVER_ID}","nonce":"…"}
  npm run job -- expire-all '[{"appId":"app_demo"},{"appId":"app_2","sessionIds":["s1"]}]' --eventbridge`;

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

const { positionals, values } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: { eventbridge: { type: 'boolean' }, rate: { type: 'string' }, logs: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    return fail((err as Error).message);
  }
})();
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const [kindArg, input] = positionals;
if (!JOB_KINDS.includes(kindArg as JobKind)) fail(`unknown job "${kindArg ?? ''}"`);
const kind = kindArg as JobKind;
if (input === undefined) fail('no message given');

/**
 * `@file` (or `@-`, standard input) keeps a message that holds nonces off the command line, which
 * npm echoes before running the script and `ps` shows to every user. A relative path is the
 * caller's: npm runs scripts from the project root but keeps the caller's directory in INIT_CWD.
 */
function readMessages(raw: string): unknown[] {
  let text = raw;
  if (raw.startsWith('@')) {
    const source = raw.slice(1);
    try {
      text = source === '-' ? readFileSync(0, 'utf8') : readFileSync(resolve(process.env.INIT_CWD ?? process.cwd(), source), 'utf8');
    } catch (err) {
      fail(`cannot read ${source}: ${(err as Error).message}`);
    }
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    return Array.isArray(parsed) ? parsed : [parsed];
  } catch {
    return fail('the message is not JSON (quote it for the shell, or use @file)');
  }
}
// The deployed handler reads its pace from the environment (lib/config.ts): so does this run.
if (values.rate !== undefined) {
  if (!/^\d+$/.test(values.rate)) fail(`--rate: a whole number of requests per second per upstream credential (JOB_REQUESTS_PER_SECOND), 0 for unpaced`);
  process.env.JOB_REQUESTS_PER_SECOND = values.rate;
}
const messages = readMessages(input);

// ---- upstream: a running sandbox, or our own ------------------------------------------------
let sandbox: Sandbox | undefined;
if (!(process.env.SVIX_API_URL && process.env.NEXTAUTH_API_URL && process.env.SECRETS_FILE)) {
  let secretsFile: string;
  ({ sandbox, secretsFile } = await startGatewaySandbox({ faults: process.env.SANDBOX_FAULTS }));
  // Our own sandbox's keys die with us, Ctrl-C and errors included (never a running one's file).
  removeOnExit(dirname(secretsFile), { signals: true });
  // `kill -HUP` of npm ends npm alone: stop (and remove the file) as a hangup would.
  whenOrphaned(() => process.kill(process.pid, 'SIGHUP'));
} else {
  useSecretsFile(process.env.SECRETS_FILE);
  process.env.SVIX_SECRET_ID ??= 'local/svix';
  process.env.NEXTAUTH_SECRET_ID ??= 'local/nextauth';
}

// ---- the consumer, on a simulated queue (run-job.ts) -----------------------------------------
const lines: Array<Record<string, unknown>> = [];
setLogSink((line) => {
  lines.push(JSON.parse(line) as Record<string, unknown>);
  if (values.logs) process.stderr.write(`${line}\n`);
});

/** `sqs:AIDA… (rule …, claims source …)`: the sender SQS recorded, then what the body says. */
function describeCaller(caller: unknown): string {
  const c = (caller ?? {}) as { id?: string; rule?: string; claimedSource?: string };
  const via = [c.rule ? `through rule ${c.rule}` : '', c.claimedSource ? `claims source ${JSON.stringify(c.claimedSource)}` : ''].filter(Boolean);
  return `${c.id ?? '-'}${via.length ? ` (${via.join(', ')})` : ''}`;
}

/** A delivery's outcome line, who sent it, then each target as its audit record tells it. */
function printDelivery(d: Delivery): void {
  out();
  out(describeDelivery(d));
  const records = lines.filter((l) => l.msg === 'audit' && l.messageId === d.messageId);
  out(`  from ${describeCaller(records[0]?.caller)}`);
  for (const target of d.targets) {
    if (target.before) {
      out(`  target ${target.index}  done on an earlier delivery, not called again`);
      continue;
    }
    const t = records.find((l) => l.targetIndex === target.index) ?? {};
    const what = describeTarget((t.target ?? {}) as Record<string, unknown>);
    const outcome = target.outcome === 'done' ? 'done' : `${target.outcome}: ${target.reason ?? ''}`;
    out(`  target ${target.index}  ${what}  →  ${outcome}${t.durationMs !== undefined ? `  (${String(t.durationMs)} ms)` : ''}`);
  }
}

function describeTarget(target: Record<string, unknown>): string {
  if (target.op === 'nextauth.logout') return `nextAuth logout, server ${String(target.serverId)}`;
  const sessions = Array.isArray(target.sessionIds) ? target.sessionIds.length : 'all';
  return `Svix expire-all, app ${String(target.appId)}, sessions: ${String(sessions)}${target.expiry !== undefined ? `, expiry ${String(target.expiry)}` : ''}`;
}

// ---- run: each delivery printed as it ends ---------------------------------------------------
// Everything printed is escaped (audit.ts): a message's values must not write lines of their own.
const out = (s = '') => process.stdout.write(`${printable(s)}\n`);
const spec = queueFunctions().find((f) => f.modulePath === `functions/job-${kind}`);
if (!spec) fail(`serverless.yml declares no SQS function with handler functions/job-${kind}`);
out(`${spec.functionName} (${kind}): ${messages.length} message(s) ${values.eventbridge ? 'as EventBridge events' : 'as plain SQS messages'}`);
out(`upstream ${process.env.SVIX_API_URL}${sandbox ? ' (a fresh sandbox)' : ''}`);
const rate = setting(JOB_REQUESTS_PER_SECOND);
const share = invocationShare(rate, setting(JOB_MAX_CONCURRENCY));
out(
  rate > 0
    ? `paced at ${rate} request(s)/s per upstream credential (${Number(share.toFixed(3))}/s per invocation)`
    : 'unpaced (--rate=R paces the job as jobRequestsPerSecond does)',
);

const run = await runJobInProcess(kind, messages, { eventBridge: Boolean(values.eventbridge), onDelivery: printDelivery });
out();
for (const line of run.lines.slice(run.deliveries.length)) out(line);

await sandbox?.close();
process.exit(run.counts.done === messages.length ? 0 : 1);
