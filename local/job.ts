import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { DeadLetter, DeadLetterNote } from '#lib/jobs/dead-letter';
import { jobHandler } from '#lib/jobs/handler';
import { DETAIL_TYPES, JOB_KINDS, type JobKind } from '#lib/jobs/schema';
import type { JobDefinition } from '#lib/jobs/targets';
import { setLogSink } from '#lib/log';
import { printable } from './audit.ts';
import { removeOnExit } from './cleanup.ts';
import { eventBridgeBody, LOCAL_DIRECT_SENDER, LOCAL_EVENTBRIDGE_SENDER, lambdaContext, localProvenance, sqsEvent } from './events.ts';
import { whenOrphaned } from './orphan-watch.ts';
import { PROJECT_ROOT, queueFunctions } from './routes.ts';
import { startGatewaySandbox } from './sandbox/for-gateway.ts';
import { DEFAULT_SANDBOX_SERVER_ID } from './sandbox/nextauth.ts';
import type { Sandbox } from './sandbox/server.ts';
import { useSecretsFile } from './secrets-file.ts';

/**
 * `npm run --silent job -- <logout|expire-all> <json | @file | @-> [--eventbridge] [--logs]`
 *
 * Runs a job consumer locally, as SQS would: the given message(s) become a real SQS event (in
 * batches of 10, like the event source mapping), optionally each wrapped as our EventBridge rule
 * delivers an event (`{"rule", "event"}`, sent by EventBridge), and the consumer declared in serverless.yml handles it with a Lambda context of
 * its configured timeout. Upstream: a fresh sandbox (Svix + nextAuth) on an ephemeral port, or a
 * running one when SVIX_API_URL, NEXTAUTH_API_URL and SECRETS_FILE are all set. Dead-lettering
 * prints instead of sending to SQS. Exit code 0 when every message is done, 1 otherwise.
 */

const USAGE = `usage: npm run --silent job -- <${JOB_KINDS.join('|')}> <json | @file | @-> [--eventbridge] [--logs]

  <json | @file>   a message or a JSON array of messages; a string in the array is sent as the raw body
                   (@file reads it from a file, @- from standard input: use them for messages holding
                   nonces, and --silent, or npm prints the command line before running it)
  --eventbridge    wrap each message as our rule delivers an event (detail-type ${Object.values(DETAIL_TYPES).join(' / ')},
                   source ${localProvenance('logout').eventSources[0] ?? '-'}); a string in the array is sent as it is,
                   so a bare or forged event can be tried too
  --logs           also print the consumer's JSON log lines (stderr)

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
      options: { eventbridge: { type: 'boolean' }, logs: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
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
const messages = readMessages(input);
const bodies = messages.map((m) => {
  if (typeof m === 'string') return m;
  return values.eventbridge ? eventBridgeBody(DETAIL_TYPES[kind], m) : JSON.stringify(m);
});
// Who SQS says sent each one: EventBridge for our rule's deliveries, a local IAM user otherwise.
const senderIds = bodies.map((_, i) => (values.eventbridge && typeof messages[i] !== 'string' ? LOCAL_EVENTBRIDGE_SENDER : undefined));

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

// ---- the consumer, as declared in serverless.yml ---------------------------------------------
const spec = queueFunctions().find((f) => f.modulePath === `functions/job-${kind}`);
if (!spec) fail(`serverless.yml declares no SQS function with handler functions/job-${kind}`);
const module = (await import(pathToFileURL(join(PROJECT_ROOT, `${spec.modulePath}.ts`)).href)) as { job: JobDefinition };

const deadLettered = new Map<string, DeadLetterNote>();
const deadLetter: DeadLetter = async (record: SQSRecord, note) => {
  deadLettered.set(record.messageId, note);
};
const handler = jobHandler(module.job, { deadLetter, provenance: localProvenance(kind) }) as unknown as (
  event: SQSEvent,
  context: ReturnType<typeof lambdaContext>,
) => Promise<SQSBatchResponse>;

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

// ---- run, in batches of 10 as the event source mapping delivers ------------------------------
// Everything printed is escaped (audit.ts): a message's values must not write lines of their own.
const out = (s = '') => process.stdout.write(`${printable(s)}\n`);
out(`${spec.functionName} (${kind}): ${bodies.length} message(s) ${values.eventbridge ? 'as EventBridge events' : 'as plain SQS messages'}`);
out(`upstream ${process.env.SVIX_API_URL}${sandbox ? ' (a fresh sandbox)' : ''}`);

let allDone = true;
const totals = { done: 0, retry: 0, 'dead-lettered': 0 };
for (let start = 0; start < bodies.length; start += 10) {
  const senders = senderIds.slice(start, start + 10);
  const event = sqsEvent(bodies.slice(start, start + 10), { queueName: `authgate-local-${kind}`, senderIds: senders.map((id) => id ?? LOCAL_DIRECT_SENDER) });
  const response = await handler(event, lambdaContext({ functionName: spec.functionName, timeoutMs: spec.timeoutSeconds * 1000 }));
  const retried = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
  event.Records.forEach((record, i) => {
    const note = deadLettered.get(record.messageId);
    const result = retried.has(record.messageId) ? 'retry' : note ? 'dead-lettered' : 'done';
    totals[result]++;
    if (result !== 'done') allDone = false;
    const why =
      result === 'retry'
        ? ` (SQS would deliver it again): ${lines.find((l) => l.msg === 'job message' && l.messageId === record.messageId)?.reason ?? ''}`
        : note
          ? `: ${note.reason}`
          : '';
    out();
    out(`message ${start + i + 1}  ${record.messageId}  ${result}${why}`);
    const records = lines.filter((l) => l.msg === 'audit' && l.messageId === record.messageId);
    out(`  from ${describeCaller(records[0]?.caller)}`);
    const targets = records.filter((l) => l.targetIndex !== undefined).sort((a, b) => Number(a.targetIndex) - Number(b.targetIndex));
    for (const t of targets) {
      const target = (t.target ?? {}) as Record<string, unknown>;
      const sessions = Array.isArray(target.sessionIds) ? target.sessionIds.length : 'all';
      const what =
        target.op === 'nextauth.logout'
          ? `nextAuth logout, server ${String(target.serverId)}`
          : `Svix expire-all, app ${String(target.appId)}, sessions: ${String(sessions)}${target.expiry !== undefined ? `, expiry ${String(target.expiry)}` : ''}`;
      const outcome = t.outcome === 'done' ? 'done' : `${String(t.outcome)}: ${String(t.reason ?? '')}`;
      out(`  target ${String(t.targetIndex)}  ${what}  →  ${outcome}${t.durationMs !== undefined ? `  (${String(t.durationMs)} ms)` : ''}`);
    }
  });
}
out();
out(`done ${totals.done}, retried ${totals.retry}, dead-lettered ${totals['dead-lettered']}`);

await sandbox?.close();
process.exit(allDone ? 0 : 1);
