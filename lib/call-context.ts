import type { AuditRecord } from './audit.ts';
import type { Deadline } from './deadline.ts';

/**
 * What one piece of work hands each upstream call it makes, passed down explicitly: from the HTTP
 * stack through the handler (lib/http.ts), or from the job runner per target (lib/jobs/runner.ts),
 * to the upstream clients (lib/upstream/). The call reads its deadline, adds its upstream status,
 * attempts and time to the audit record, and sends the idempotency key.
 *
 * An argument rather than AsyncLocalStorage: on Node 22 that hooks every promise, which measured
 * about twice the cost per await (docs/performance-warm.md) on the path every request takes; and
 * an argument keeps concurrent work apart (job targets, the local API) with nothing to reset.
 *
 * @example
 * await appPortalAccess(appId, body, { deadline, audit, idempotencyKey });
 */
export interface CallContext {
  /** How long the call may still take (deadline.ts). */
  deadline: Deadline;
  /** The audit record of the work the call is part of (audit.ts); none outside any operation. */
  audit?: AuditRecord;
  /** Sent as Svix's `idempotency-key` (lib/idempotency.ts, lib/jobs/targets.ts); nextAuth takes none. */
  idempotencyKey?: string;
  /**
   * `false`: a 429 comes straight back, even with a short `Retry-After` the call would otherwise
   * wait out (lib/upstream/retry.ts). The job runner says so: its pacer must see every refusal to
   * slow down, and its continuation waits in the queue, not in a Lambda (lib/jobs/pacing.ts).
   */
  waitOutRateLimits?: boolean;
}

/** The context of a call that must carry an idempotency key (every Svix call). */
export type KeyedCallContext = CallContext & { idempotencyKey: string };
