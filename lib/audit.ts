import type { Caller } from './caller.ts';
import { bounded, sha256 } from './digest.ts';
import { log, redact } from './log.ts';
import type { EmfMembers } from './metrics.ts';

/**
 * The audit trail: one `audit` log record per HTTP operation and per job target, saying who did
 * what to which app, server, account or user, and how it ended. CloudWatch Logs Insights queries
 * over these records are in docs/audit.md.
 *
 * Never in a record: tokens, keys, magic links, nonces (only a short digest that lets two records
 * of one session be matched) or bodies (only the session ids an expire-all names).
 *
 * What a record names as its target is on the operation's contract (lib/contract.ts `audit`).
 * The record travels in the call context (call-context.ts) every upstream call receives, so the
 * upstream client adds what only it knows (upstream status, attempts) to the right record even
 * when operations run concurrently in one process (job targets, the local API).
 */

export interface AuditTarget {
  appId?: string;
  sessionIds?: string[];
  serverId?: string;
  accountId?: string | number;
  userId?: string;
  nonceHash?: string;
}

export interface AuditRecord {
  operation: string;
  caller?: Caller;
  target: AuditTarget;
  /** HTTP: where the request came from, as API Gateway saw it. */
  sourceIp?: string;
  userAgent?: string;
  /** Jobs: the message and what became of the target. */
  messageId?: string;
  /** Which of the message's targets this is. */
  targetIndex?: number;
  outcome?: string;
  /** Why a job target was not done (never an upstream body). */
  reason?: string;
  /** A job target's unexpected error (name and message only: log.ts). */
  error?: unknown;
  status?: number;
  upstreamStatus?: number;
  attempts?: number;
  upstreamMs?: number;
  durationMs?: number;
  apiRequestId?: string;
  requestId?: string;
  /** When the operation began (ms since the epoch); written as `durationMs`. */
  startedAt?: number;
}

/** `value` with every string in it bounded; objects and arrays with nothing to change come back as they are. */
function boundedStrings(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return bounded(value);
  if (value === null || typeof value !== 'object' || depth > 5) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const next = boundedStrings(value[i], depth + 1);
      if (next !== value[i] && !out) out = value.slice(0, i);
      out?.push(next);
    }
    return out ?? value;
  }
  let out: Record<string, unknown> | undefined;
  const source = value as Record<string, unknown>;
  for (const [k, item] of Object.entries(source)) {
    const next = boundedStrings(item, depth + 1);
    if (next === item) continue;
    out ??= { ...source };
    out[k] = next;
  }
  return out ?? value;
}

/** Adds an upstream call to `record`: the last status, and how many attempts and how long it took. */
export function noteUpstreamCall(record: AuditRecord | undefined, call: { status?: number; attempts: number; ms: number }): void {
  if (!record) return;
  if (call.status !== undefined) record.upstreamStatus = call.status;
  record.attempts = (record.attempts ?? 0) + call.attempts;
  record.upstreamMs = (record.upstreamMs ?? 0) + call.ms;
}

/** A nonce's stand-in in the records: enough to match two records of one session, useless to log in with. */
export function nonceDigest(nonce: string): string {
  return sha256(nonce).slice(0, 12);
}

/**
 * Writes the record, at `warn` for server-side failures (or at `level`), so they stand out; always,
 * whatever LOG_LEVEL says: an operator turning the log level down must not switch off the trail.
 * `metrics`: the work's metrics (metrics.ts `takeMetrics`), carried by the same line as EMF.
 */
export function writeAudit(record: AuditRecord, level: 'info' | 'warn' | 'error' = (record.status ?? 0) >= 500 ? 'warn' : 'info', metrics?: EmfMembers): void {
  const { startedAt, ...fields } = record;
  if (startedAt !== undefined && fields.durationMs === undefined) fields.durationMs = Date.now() - startedAt;
  // The dimension values are members of the record; `operation` is already one, with the same value.
  if (metrics) (fields as Record<string, unknown>).family = metrics.dimensions.family;
  // The one field of no fixed shape: whatever a job target threw (an Error becomes its name and message).
  if (fields.error !== undefined) fields.error = redact(fields.error, 1);
  // Every value copied from a request or a message, in one place: callers and schemas need not remember.
  log.record(level, 'audit', boundedStrings(fields) as Record<string, unknown>, metrics?.json);
}
