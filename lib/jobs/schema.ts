import type { SQSRecord } from 'aws-lambda';
import * as v from 'valibot';
import { bounded } from '../digest.ts';
import type { Issue } from '../errors.ts';
import { Nonce, ServerId } from '../schemas/nextauth.ts';
import { AppId, ApplicationTokenExpireIn } from '../schemas/svix.ts';
import { issuesOf } from '../validation.ts';

/**
 * What the job queues accept. A message body is one of:
 * - `{"rule": <rule ARN>, "event": <EventBridge event>}`: what our rule delivers (its target's
 *   InputTransformer wraps each event with the rule's ARN, resources/jobs.cjs);
 * - an EventBridge event as it is (what the rule delivered before the wrapping; older producers);
 * - the message itself (a plain SQS message).
 * An event's `detail` is the message, and its `source` a claim: anyone allowed to put events on
 * the bus, or to send to the queue, writes it. So an event whose source is not one of the job's
 * (`Provenance.eventSources`), or that names another rule than the job's own, is refused.
 * A message is `{"targets": [...]}` or one bare target; each target is validated with
 * the same bounds as the HTTP API (`lib/schemas/*`), so a job never sends what a caller could not.
 *
 * After parsing, every target is one of two upstream operations: a nextAuth logout, or a Svix
 * expire-all (a Svix *logout* target is an expire-all of those session ids with `expiry: 0`, since
 * Svix revokes app-portal tokens by session and an app token must never travel in a queue).
 */

export type JobKind = 'logout' | 'expire-all';
export const JOB_KINDS: readonly JobKind[] = ['logout', 'expire-all'];

/** The EventBridge `detail-type` each job consumes; the rules in serverless.yml match on these. */
export const DETAIL_TYPES: Record<JobKind, string> = {
  logout: 'authgate.logout.requested',
  'expire-all': 'authgate.expire-all.requested',
};

/** Targets in one message (ours): 100 targets is 100 upstream calls, a tenth of a batch's budget. */
export const MAX_TARGETS = 100;

export type Target = { op: 'nextauth.logout'; serverid: string; nonce: string } | { op: 'svix.expire-all'; appId: string; body: ApplicationTokenExpireIn };

/** What a job accepts events from: JOB_EVENT_SOURCES and JOB_RULE_ARN (lib/config.ts). */
export interface Provenance {
  /** The `source` values the rule matches (the stage's jobEventSources). */
  eventSources: readonly string[];
  /** The job's own rule; without it, no wrapped event is accepted. */
  ruleArn?: string;
}

/** What the body says of where it came from: claims, recorded as such (lib/caller.ts `jobCaller`). */
export interface MessageOrigin {
  /** The rule a wrapped event names (only ever the job's own, once accepted). */
  rule?: string;
  /** The event's `source`. */
  claimedSource?: string;
}

export type ParsedMessage =
  | ({
      ok: true;
      via: 'sqs' | 'eventbridge';
      /**
       * The message's identity, one input of each target's idempotency key (with the target's index
       * and content: lib/jobs/targets.ts). Chosen by the producer, so never trusted alone.
       */
      id: string;
      targets: Target[];
    } & MessageOrigin)
  | ({ ok: false; via: 'sqs' | 'eventbridge'; reason: string } & MessageOrigin);

// The Svix bounds are defined once, in lib/schemas/svix.ts (`pipe[1]` is its object schema).
const expireEntries = ApplicationTokenExpireIn.pipe[1].entries;

const NextAuthLogoutTarget = v.strictObject({ serverid: ServerId, nonce: Nonce });

const SvixLogoutTarget = v.strictObject({
  appId: AppId,
  // Required and non-empty here: an empty list must never turn a logout into "expire everything".
  sessionIds: v.pipe(expireEntries.sessionIds.wrapped, v.minLength(1, 'must name at least one session')),
});

const ExpireAllTarget = v.strictObject({
  appId: AppId,
  expiry: expireEntries.expiry,
  sessionIds: expireEntries.sessionIds,
});

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

const EventBridgeEnvelope = v.object({
  'detail-type': v.string(),
  source: v.string(),
  id: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(256))),
  detail: v.custom<Record<string, unknown>>(isObject, 'detail must be a JSON object'),
});

/** What the rule's InputTransformer makes of an event (resources/jobs.cjs). */
const RuleDelivery = v.strictObject({
  rule: v.pipe(v.string(), v.minLength(1)),
  event: v.custom<Record<string, unknown>>(isObject, 'event must be a JSON object'),
});

/**
 * A target's issues in words, for the dead-letter reason and the log line. An issue names the key it
 * is about (in its location and in valibot's "received" text), and a key is the sender's: the
 * first two issues, each bounded (audit.ts), so no sender decides the size of a line.
 */
const describe = (issues: Issue[]) =>
  issues
    .slice(0, 2)
    .map((i) => bounded(`${i.loc.join('.') || '(message)'}: ${i.msg}`, 200))
    .join('; ');

type TargetResult = { ok: true; target: Target } | { ok: false; reason: string };

function parseTarget(kind: JobKind, input: unknown, loc: (string | number)[]): TargetResult {
  const where = loc.join('.') || '(message)';
  if (!isObject(input)) return { ok: false, reason: `${where}: a target is a JSON object` };
  if (kind === 'logout') {
    if ('serverid' in input || 'nonce' in input) {
      const r = issuesOf(NextAuthLogoutTarget, input, loc);
      return r.ok ? { ok: true, target: { op: 'nextauth.logout', ...r.value } } : { ok: false, reason: describe(r.issues) };
    }
    if ('appId' in input) {
      const r = issuesOf(SvixLogoutTarget, input, loc);
      if (!r.ok) return { ok: false, reason: describe(r.issues) };
      return { ok: true, target: { op: 'svix.expire-all', appId: r.value.appId, body: { expiry: 0, sessionIds: r.value.sessionIds } } };
    }
    return { ok: false, reason: `${where}: a logout target is {serverid, nonce} (nextAuth) or {appId, sessionIds} (Svix)` };
  }
  const r = issuesOf(ExpireAllTarget, input, loc);
  if (!r.ok) return { ok: false, reason: describe(r.issues) };
  const { appId, expiry, sessionIds } = r.value;
  const body: ApplicationTokenExpireIn = {};
  if (expiry !== undefined) body.expiry = expiry;
  if (sessionIds !== undefined) body.sessionIds = sessionIds;
  return { ok: true, target: { op: 'svix.expire-all', appId, body } };
}

function parseTargets(kind: JobKind, message: Record<string, unknown>, loc: string[]): { ok: true; targets: Target[] } | { ok: false; reason: string } {
  if (!('targets' in message)) {
    const one = parseTarget(kind, message, loc);
    return one.ok ? { ok: true, targets: [one.target] } : one;
  }
  const where = [...loc, 'targets'].join('.');
  const list = message.targets;
  if (!Array.isArray(list)) return { ok: false, reason: `${where}: must be an array` };
  if (list.length === 0) return { ok: false, reason: `${where}: must name at least one target` };
  if (list.length > MAX_TARGETS) return { ok: false, reason: `${where}: at most ${MAX_TARGETS} targets per message` };
  const targets: Target[] = [];
  const problems: string[] = [];
  list.forEach((item, index) => {
    const one = parseTarget(kind, item, [...loc, 'targets', index]);
    if (one.ok) targets.push(one.target);
    else problems.push(one.reason);
  });
  // All or nothing: a half-valid message is a producer bug, and running half of it would hide it.
  return problems.length ? { ok: false, reason: problems.slice(0, 5).join('; ') } : { ok: true, targets };
}

/**
 * Parses an SQS record's body for a job. Never throws: an unusable or refused body is
 * `{ok: false, reason}`, which the runner dead-letters.
 *
 * @example
 * parseMessage('logout', record, { eventSources: ['authgate.requests'], ruleArn }) // → { ok: true, via: 'sqs', id: record.messageId, targets: [...] }
 */
export function parseMessage(kind: JobKind, record: Pick<SQSRecord, 'body' | 'messageId'>, provenance: Provenance): ParsedMessage {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    return { ok: false, via: 'sqs', reason: 'the body is not JSON' };
  }
  if (!isObject(body)) return { ok: false, via: 'sqs', reason: 'the body is not a JSON object' };

  let origin: MessageOrigin = {};
  let event: Record<string, unknown> = body;
  if ('rule' in body && 'event' in body && !('detail-type' in body)) {
    const delivery = v.safeParse(RuleDelivery, body);
    if (!delivery.success) return { ok: false, via: 'eventbridge', reason: `not a rule delivery: ${delivery.issues[0].message}` };
    const rule = delivery.output.rule;
    // Quoted as JSON, cut short: the reason is logged and printed, and the value is the sender's.
    if (rule !== provenance.ruleArn) return { ok: false, via: 'eventbridge', reason: `the event names the rule ${quote(rule)}, not this job's rule` };
    origin = { rule };
    event = delivery.output.event;
  }
  if (origin.rule !== undefined || 'detail-type' in event) {
    const envelope = v.safeParse(EventBridgeEnvelope, event);
    if (!envelope.success) return { ok: false, via: 'eventbridge', reason: `not an EventBridge event: ${envelope.issues[0].message}`, ...origin };
    origin = { ...origin, claimedSource: envelope.output.source };
    if (!provenance.eventSources.includes(envelope.output.source)) {
      return { ok: false, via: 'eventbridge', reason: `source ${quote(envelope.output.source)} is not one of this job's event sources`, ...origin };
    }
    const detailType = envelope.output['detail-type'];
    if (detailType !== DETAIL_TYPES[kind]) {
      return { ok: false, via: 'eventbridge', reason: `detail-type ${quote(detailType)} is not for the ${kind} job (${DETAIL_TYPES[kind]})`, ...origin };
    }
    const parsed = parseTargets(kind, envelope.output.detail, ['detail']);
    // EventBridge's own retries of a delivery keep the event id, so it identifies the request
    // better than the SQS message id does. Whoever writes to the queue chooses it, though: the
    // idempotency key also hashes each target's content, so a reused id with another body is not
    // mistaken for a redelivery.
    if (!parsed.ok) return { ok: false, via: 'eventbridge', reason: parsed.reason, ...origin };
    return { ok: true, via: 'eventbridge', id: envelope.output.id ?? record.messageId, targets: parsed.targets, ...origin };
  }

  const parsed = parseTargets(kind, body, []);
  return parsed.ok ? { ok: true, via: 'sqs', id: record.messageId, targets: parsed.targets } : { ok: false, via: 'sqs', reason: parsed.reason };
}

/** A value from the body inside a reason: as JSON (quotes and controls escaped), at most 100 characters of it. */
const quote = (value: string) => JSON.stringify(value.slice(0, 100));
