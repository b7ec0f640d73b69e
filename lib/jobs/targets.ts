import { createHash } from 'node:crypto';
import type { Deadline } from '../deadline.ts';
import type { ApplicationTokenExpireIn } from '../schemas/svix.ts';
import type { JobKind, Target } from './schema.ts';

/**
 * Carrying out one target against its upstream. The upstream clients come in as ports, so each
 * function bundles only the clients it calls (the expire-all job never loads the nextAuth one)
 * and tests can put a fault-injecting wrapper in front of the real clients.
 */

export interface SvixPort {
  expireAll(appId: string, body: ApplicationTokenExpireIn, o: { deadline: Deadline; idempotencyKey: string }): Promise<void>;
}
export interface NextAuthPort {
  logoutSession(serverId: string, nonce: string, o: { deadline: Deadline }): Promise<void>;
}

export type JobDefinition = { kind: 'logout'; upstream: SvixPort & NextAuthPort } | { kind: 'expire-all'; upstream: SvixPort };

export interface TargetContext {
  deadline: Deadline;
  idempotencyKey: string;
}

/**
 * The Svix idempotency key of a target: the same for every delivery of the message, different for
 * each target in it (Svix keys ignore the body, so two targets must never share one). Svix
 * replays a key's first success for 12 hours.
 *
 * @example
 * targetIdempotencyKey('059f36b4-87a3-44ab-83d2-661975830a7d', 0) // → 'job_3c1e…' (68 chars)
 */
export function targetIdempotencyKey(messageId: string, index: number): string {
  return `job_${createHash('sha256').update(`${messageId}:${index}`).digest('hex')}`;
}

export async function executeTarget(job: JobDefinition, target: Target, ctx: TargetContext): Promise<void> {
  if (target.op === 'svix.expire-all') {
    await job.upstream.expireAll(target.appId, target.body, ctx);
    return;
  }
  if (job.kind !== 'logout') throw new Error(`a ${job.kind} job cannot run ${target.op}`);
  await job.upstream.logoutSession(target.serverid, target.nonce, { deadline: ctx.deadline });
}

/** Log fields naming a target: never the nonce, and of the session ids only their count. */
export function describeTarget(target: Target): Record<string, unknown> {
  if (target.op === 'nextauth.logout') return { op: target.op, serverid: target.serverid };
  return {
    op: target.op,
    appId: target.appId,
    expiry: target.body.expiry ?? undefined,
    sessions: target.body.sessionIds?.length ?? 'all',
  };
}

export const jobOperation = (kind: JobKind) => `job.${kind}`;
