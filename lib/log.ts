/**
 * Structured JSON logs, one line per event, with the request id of the invocation.
 *
 * Why not Powertools Logger: it would be the first thing in every bundle and we need only
 * levels, a request id and redaction. Redaction is by field name and runs on every line, so a
 * careless `log.info('x', { headers })` still cannot print a key, token or nonce.
 */

import { type LogLevel as Level, LOG_LEVEL, setting } from './config.ts';
import { REDACTED, scrubSecrets } from './redaction.ts';

const LEVELS: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

/** Field names whose values are credentials or session identifiers. Matched case-insensitively. */
const SECRET_FIELD = /^(authorization|x-apikey|x-su|cookie|set-cookie|key|url|body|headers)$|(token|secret|secretstring|password|apikey|api_key|nonce)$/i;

/**
 * `value` with secret fields replaced, errors reduced to their name and message, and anything
 * deeper than 5 levels cut. Plain objects and arrays with nothing to change are returned as they
 * are (a line's fields are serialised at once, never kept), so a typical line copies nothing; any
 * other object is copied to its own fields, as JSON would not otherwise show it (no `toJSON`).
 */
export function redact(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth > 5) return '[truncated]';
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      const redacted = redact(item, depth + 1);
      if (redacted !== item && !out) out = value.slice(0, i);
      out?.push(redacted);
    }
    return out ?? value;
  }
  const plain = Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null;
  let out: Record<string, unknown> | undefined = plain ? undefined : {};
  const source = value as Record<string, unknown>;
  const keys = Object.keys(source);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const item = source[k];
    const redacted = isSecretField(k) ? REDACTED : redact(item, depth + 1);
    if (redacted !== item && !out) {
      out = {};
      for (let j = 0; j < i; j++) out[keys[j] as string] = source[keys[j] as string];
    }
    if (out) out[k] = redacted;
  }
  return out ?? value;
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
  /**
   * A record of a fixed schema (the audit trail, lib/audit.ts), written whatever LOG_LEVEL says:
   * an operator turning the level down must not switch the trail off. It carries its own operation
   * and request ids, so no context is added; its field names are the schema's, none of them a
   * credential's (test/lib/audit.test.ts holds them to SECRET_FIELD), so they are not redacted by
   * name; like every line it is scrubbed by value. `serialised`: JSON members appended as they are
   * (see `writeRecord`).
   */
  record(level: Level, msg: string, fields: LogFields, serialised?: string): void;
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

/**
 * `new Date().toISOString()` with the part up to the second made once per second: the full
 * conversion measured 1.2–2.5 µs per line on this project's machine, most of a short line's cost.
 */
let isoSecond = Number.NaN;
let isoHead = '';
function isoNow(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoHead = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const ms = now - second * 1000;
  return `${isoHead}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
}

/**
 * What JSON.stringify leaves raw although it breaks or rewrites a line where people read it: DEL,
 * the C1 controls (U+0085 is a line break to some viewers) and the Unicode line and paragraph
 * separators. In a JSON line they can only stand inside strings, where `\uXXXX` means the same.
 */
const RAW_IN_JSON = /[\u007f-\u009f\u2028\u2029]/;
const RAW_IN_JSON_ALL = new RegExp(RAW_IN_JSON.source, 'g');
const escapeRaw = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** A line as the sink gets it: scrubbed of secrets, and with no raw control character. */
function finish(json: string): string {
  const scrubbed = scrubSecrets(json);
  return RAW_IN_JSON.test(scrubbed) ? scrubbed.replace(RAW_IN_JSON_ALL, escapeRaw) : scrubbed;
}

function createLogger(): Logger {
  const threshold = LEVELS[setting(LOG_LEVEL)];
  let context: LogFields = {};
  const write = (level: Level, msg: string, fields?: LogFields) => {
    if (LEVELS[level] < threshold) return;
    const line = { level, time: isoNow(), msg, ...context, ...(redact(fields ?? {}) as LogFields) };
    sink(finish(JSON.stringify(line)));
  };
  return {
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
    record: (level, msg, fields, serialised) => {
      sink(withMembers(finish(JSON.stringify({ level, time: isoNow(), msg, ...fields })), serialised));
    },
    setContext: (fields) => {
      context = redact(fields) as LogFields;
    },
  };
}

/** The container's logger. Lambda runs one invocation at a time per container, so one context suffices. */
export const log: Logger = createLogger();

/** `{...}` from JSON.stringify with `members` (`"a":1,"b":[2]`) added before its closing brace. */
function withMembers(json: string, members: string | undefined): string {
  if (!members) return json;
  return json === '{}' ? `{${members}}` : `${json.slice(0, -1)},${members}}`;
}

/**
 * Writes one record whatever LOG_LEVEL says, scrubbed like every line: CloudWatch embedded
 * metrics (lib/metrics.ts) must not vanish when an operator turns the log level down.
 * `serialised`: JSON members metrics.ts serialised itself from its own names and numbers (nothing a
 * caller sent, nothing to redact or scrub), appended after the rest is scrubbed.
 */
export function writeRecord(record: LogFields, serialised?: string): void {
  sink(withMembers(finish(JSON.stringify(record)), serialised));
}
