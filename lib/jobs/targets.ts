import type { AuditTarget } from '../audit.ts';
import type { CallContext, KeyedCallContext } from '../call-context.ts';
import { auditTargetOf } from '../contract.ts';
import { logoutSessionContract } from '../contracts/nextauth.ts';
import { expireAllContract } from '../contracts/svix.ts';
import { sha256 } from '../digest.ts';
import type { ApplicationTokenExpireIn } from '../schemas/svix.ts';
import type { JobKind, Target } from './schema.ts';

/**
 * Carrying out one target against its upstream. The upstream clients come in as ports, so each
 * function bundles only the clients it calls (the expire-all job never loads the nextAuth one)
 * and tests can put a fault-injecting wrapper in front of the real clients.
 */

export interface SvixPort {
  expireAll(appId: string, body: ApplicationTokenExpireIn, call: KeyedCallContext): Promise<void>;
}
export interface NextAuthPort {
  logoutSession(serverId: string, nonce: string, call: CallContext): Promise<void>;
}

export type JobDefinition = { kind: 'logout'; upstream: SvixPort & NextAuthPort } | { kind: 'expire-all'; upstream: SvixPort };

/**
 * A target's content in one canonical form: what it does, whatever the key order or session id
 * order the producer wrote. Nothing else is folded (an absent `expiry` and `expiry: 0` stay
 * distinct): two keys for one request only cost a harmless second execution, one key for two
 * requests would silently drop the second.
 *
 * @example
 * canonicalTarget({ op: 'svix.expire-all', appId: 'app_1', body: { sessionIds: ['b', 'a'], expiry: 0 } })
 * // → '["svix.expire-all","app_1",["a","b"],0]'
 */
export function canonicalTarget(target: Target): string {
  if (target.op === 'nextauth.logout') return JSON.stringify([target.op, target.serverid, target.nonce]);
  const sessionIds = target.body.sessionIds ? [...target.body.sessionIds].sort() : null;
  return JSON.stringify([target.op, target.appId, sessionIds, target.body.expiry ?? null]);
}

/**
 * The Svix idempotency key of a target: a hash of the message's identity (`id`: the EventBridge
 * event id, or the SQS message id), the target's index AND its canonical content.
 *
 * - The same for every delivery of the message (a redelivery has the same id and body), so a retry
 *   after a lost answer is replayed by Svix, not executed twice. Svix replays a key's first success
 *   for 12 hours.
 * - Different for each target in a message (Svix keys ignore the body, so two targets must never
 *   share one).
 * - Different when a producer reuses an id for a different request: the `id` is the producer's, and
 *   Svix would otherwise replay the first request's success and silently do nothing.
 *
 * @example
 * targetIdempotencyKey('059f36b4-87a3-44ab-83d2-661975830a7d', 0, target) // → 'job_3c1e…' (68 chars)
 */
export function targetIdempotencyKey(id: string, index: number, target: Target): string {
  // A JSON array, so no choice of id can make two different triples hash the same input.
  return `job_${sha256(JSON.stringify([id, index, canonicalTarget(target)]), 'hex')}`;
}

/** Calls the target's upstream operation with the target's context (its deadline, audit record and key). */
export async function executeTarget(job: JobDefinition, target: Target, call: KeyedCallContext): Promise<void> {
  if (target.op === 'svix.expire-all') {
    await job.upstream.expireAll(target.appId, target.body, call);
    return;
  }
  if (job.kind !== 'logout') throw new Error(`a ${job.kind} job cannot run ${target.op}`);
  // nextAuth takes no idempotency key (a logout is idempotent of itself); the rest of the context
  // goes as is, `waitOutRateLimits: false` included: a 429 goes back to the queue, never waited out.
  const { idempotencyKey: _none, ...unkeyed } = call;
  await job.upstream.logoutSession(target.serverid, target.nonce, unkeyed);
}

/**
 * A target as the audit trail names it (audit.ts): what the contract of the same operation audits
 * over HTTP (lib/contracts/), so a job target and a request are found by the same query, plus the
 * target's `op` and an expire-all's `expiry`, which only a job record carries.
 */
export function auditTarget(target: Target): AuditTarget & { op: Target['op']; expiry?: number } {
  if (target.op === 'nextauth.logout') {
    return { op: target.op, ...auditTargetOf(logoutSessionContract, { path: { serverid: target.serverid }, headers: { 'x-nonce': target.nonce } }) };
  }
  return {
    op: target.op,
    // Every session id: a target is validated (at most 1000, schema.ts), unlike a request's raw body.
    ...auditTargetOf(expireAllContract, { path: { app_id: target.appId }, body: target.body }, Number.POSITIVE_INFINITY),
    ...(target.body.expiry === undefined || target.body.expiry === null ? {} : { expiry: target.body.expiry }),
  };
}

export const jobOperation = (kind: JobKind) => `job.${kind}`;

/**
 * The upstream credential a target spends, which is what an upstream rate-limits by: the one Svix
 * org key, or the key of the target's nextAuth server (the gateway secret holds one per server).
 *
 * @example
 * credentialOf({ op: 'nextauth.logout', serverid: 'c2VydmVy', nonce }) // → 'nextauth:c2VydmVy'
 */
export const credentialOf = (target: Target): string => (target.op === 'svix.expire-all' ? 'svix' : `nextauth:${target.serverid}`);
