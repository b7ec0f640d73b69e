/**
 * Structured JSON logs, one line per event, with the request id of the invocation.
 *
 * Why not Powertools Logger: it would be the first thing in every bundle and we need only
 * levels, a request id and redaction. Redaction is by field name and runs on every line, so a
 * careless `log.info('x', { headers })` still cannot print a key, token or nonce.
 */

import { type LogLevel as Level, LOG_LEVEL, setting } from './config.ts';
import { scrubSecrets } from './redaction.ts';

const LEVELS: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

/** Field names whose values are credentials or session identifiers. Matched case-insensitively. */
const SECRET_FIELD = /^(authorization|x-apikey|x-su|cookie|set-cookie|key|url|body|headers)$|(token|secret|secretstring|password|apikey|api_key|nonce)$/i;
const REDACTED = '[redacted]';

function redact(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth > 5) return '[truncated]';
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) {
    out[k] = isSecretField(k) ? REDACTED : redact((value as Record<string, unknown>)[k], depth + 1);
  }
  return out;
}

/** SECRET_FIELD's verdict per field name, kept (bounded): the same few names recur on every line. */
const fieldVerdicts = new Map<string, boolean>();
function isSecretField(name: string): boolean {
  let verdict = fieldVerdicts.get(name);
  if (verdict === undefined) {
    verdict = SECRET_FIELD.test(name);
    if (fieldVerdicts.size < 1024) fieldVerdicts.set(name, verdict);
  }
  return verdict;
}

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A line written whatever LOG_LEVEL says (the audit trail must not vanish when the level is turned down). */
  always(level: Level, msg: string, fields?: LogFields): void;
  /** Fields added to every later line of this logger (the invocation's request id, the function). */
  setContext(fields: LogFields): void;
}

/** Where lines go; tests replace it to capture output. */
export type LogSink = (line: string) => void;

let sink: LogSink = (line) => process.stdout.write(`${line}\n`);

export function setLogSink(next: LogSink): LogSink {
  const previous = sink;
  sink = next;
  return previous;
}

function createLogger(): Logger {
  const threshold = LEVELS[setting(LOG_LEVEL)];
  let context: LogFields = {};
  const write = (level: Level, msg: string, fields?: LogFields, always = false) => {
    if (!always && LEVELS[level] < threshold) return;
    const line = { level, time: new Date().toISOString(), msg, ...context, ...(redact(fields ?? {}) as LogFields) };
    sink(scrubSecrets(JSON.stringify(line)));
  };
  return {
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
    always: (level, msg, fields) => write(level, msg, fields, true),
    setContext: (fields) => {
      context = redact(fields) as LogFields;
    },
  };
}

/** The container's logger. Lambda runs one invocation at a time per container, so one context suffices. */
export const log: Logger = createLogger();

/**
 * Writes one record whatever LOG_LEVEL says, scrubbed like every line: CloudWatch embedded
 * metrics (lib/metrics.ts) must not vanish when an operator turns the log level down.
 */
export function writeRecord(record: LogFields): void {
  sink(scrubSecrets(JSON.stringify(record)));
}
