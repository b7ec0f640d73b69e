import { jwtCallerId } from '#lib/caller';
import { type LogSink, setLogSink } from '#lib/log';

/**
 * The audit records the gateway writes (one JSON log line with `"msg":"audit"` per HTTP
 * operation and per job target), seen from the local tools: `npm start` prints them as one
 * compact line each, and the console's Audit view lists the latest ones. Local only: the
 * records themselves are written by lib/ through the logger, as in Lambda.
 */

/** The fields the local tools show; the record carries more (request ids, user agent). */
export interface AuditRecord {
  time?: string;
  operation?: string;
  family?: string;
  caller?: { id?: string; sub?: string; clientId?: string; arn?: string };
  sourceIp?: string;
  userAgent?: string;
  target?: Record<string, unknown>;
  status?: number;
  upstreamStatus?: number;
  attempts?: number;
  durationMs?: number;
  outcome?: string;
  reason?: string;
  [field: string]: unknown;
}

/** The record in a log line, or undefined when the line is not an audit record. */
export function parseAudit(line: string): AuditRecord | undefined {
  // Cheap test first: most lines are not audit records.
  if (!line.includes('"msg":"audit"')) return undefined;
  try {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    return parsed.msg === 'audit' ? (parsed as AuditRecord) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What must not reach a terminal as it is: C0 and C1 controls (CR and LF would start a forged line,
 * ESC drives the terminal, NUL hides what follows), DEL, the Unicode line and paragraph separators,
 * and the bidirectional controls that reorder what is shown (U+200E/F, U+202A–E, U+2066–9).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * `text` safe to print for people, one line: every character above escaped as JSON writes it
 * (`\r`, `\n`, `\u001b`), so a value can neither start a line of its own nor change the terminal.
 *
 * @example
 * printable('a\r\nb') // 'a\\r\\nb'
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const shortTime = (time: unknown) => (typeof time === 'string' && time.length >= 23 ? time.slice(11, 23) : String(time ?? '-'));

/**
 * The caller's `id` (`jwt:<sub>|<client>`, `iam:<arn>`, `token:<digest>` for a Svix app token), or
 * what there is of it; `-` when the record names nobody (a job).
 */
export function callerOf(record: AuditRecord): string {
  const caller = record.caller;
  if (!caller) return '-';
  if (caller.id) return caller.id;
  if (caller.arn) return `iam:${caller.arn}`;
  return caller.sub || caller.clientId ? jwtCallerId(caller.sub || undefined, caller.clientId || undefined) : '-';
}

/** `app=app_demo sessions=2`, the target's fields in their order; nested values as JSON. */
export function targetOf(record: AuditRecord): string {
  const target = record.target;
  if (!target || typeof target !== 'object') return '-';
  const parts = Object.entries(target)
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
  return parts.length ? parts.join(' ') : '-';
}

/** `200`, `502 (upstream 503, 3 attempts)`, or a job's outcome. */
export function resultOf(record: AuditRecord): string {
  const head = record.status !== undefined ? String(record.status) : (record.outcome ?? '-');
  const extra: string[] = [];
  if (record.status !== undefined && record.outcome) extra.push(record.outcome);
  if (record.upstreamStatus !== undefined && record.upstreamStatus !== record.status) extra.push(`upstream ${record.upstreamStatus}`);
  if (record.attempts !== undefined && record.attempts > 1) extra.push(`${record.attempts} attempts`);
  // A refusal's why (tenant binding names its claim), which the wire does not say.
  if (record.status !== undefined && record.status >= 400 && record.status < 500 && typeof record.reason === 'string') extra.push(record.reason);
  return extra.length ? `${head} (${extra.join(', ')})` : head;
}

/**
 * One terminal line per record: time, caller, operation, target, result, duration; `printable`,
 * whatever the record holds.
 *
 * @example
 * formatAudit(record) // 'audit 19:53:04.123  jwt:local-developer|web  svix.app-portal-access  appId=app_demo  → 200  12 ms'
 */
export function formatAudit(record: AuditRecord): string {
  const ms = record.durationMs !== undefined ? `  ${record.durationMs} ms` : '';
  return printable(`audit ${shortTime(record.time)}  ${callerOf(record)}  ${record.operation ?? '-'}  ${targetOf(record)}  → ${resultOf(record)}${ms}`);
}

/** The latest `limit` audit records seen, newest first. */
export class AuditFeed {
  private readonly buffer: AuditRecord[] = [];

  constructor(readonly limit = 200) {}

  /** Keeps the line when it is an audit record; returns the record (or undefined). */
  observe(line: string): AuditRecord | undefined {
    const record = parseAudit(line);
    if (!record) return undefined;
    this.buffer.unshift(record);
    if (this.buffer.length > this.limit) this.buffer.length = this.limit;
    return record;
  }

  records(): AuditRecord[] {
    return [...this.buffer];
  }

  /**
   * Tees the log sink through this feed: every line still goes where it went (or to `print`,
   * which gets the record when the line is one). Returns a function that restores the sink.
   */
  tee(print?: (line: string, record: AuditRecord | undefined) => void): () => void {
    let previous: LogSink | undefined;
    const sink: LogSink = (line) => {
      const record = this.observe(line);
      if (print) print(line, record);
      else previous?.(line);
    };
    previous = setLogSink(sink);
    return () => {
      if (previous) setLogSink(previous);
    };
  }
}

/**
 * This process's feed: the log sink is one per process, so are the audit records it sees.
 * `npm start` tees the sink through it; the console serves it unless given another feed.
 */
export const processAudit = new AuditFeed();
