import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SQSRecord } from 'aws-lambda';
import type { SendMessageInput } from '../aws/sqs.ts';
import type { JobKind } from './schema.ts';

/**
 * A message the upstream was too busy for goes back to its own queue as a *continuation*: the same
 * body, byte for byte, sent with `DelaySeconds` (when the upstream said to come back) and message
 * attributes saying which of its targets are done, how often it was deferred, when it was first
 * received, and who sent the original. The original is then reported done, so SQS deletes it.
 *
 * Why not `ChangeMessageVisibility` and `batchItemFailures`: every receive raises
 * `ApproximateReceiveCount`, so a busy upstream would still walk a healthy message to the redrive
 * policy's `maxReceiveCount` (5) and the DLQ. A continuation is a new message with a count of its
 * own; what bounds it instead is its age (`maxDeferralMs` in the runner, JOB_MAX_DEFERRAL_HOURS).
 *
 * The continuation is sent by the job's own role, so SQS gives it our `SenderId`: the original
 * sender travels in an attribute. Attributes are written by whoever sends, though, and a direct
 * sender must not be able to claim another's identity or mark targets done that never ran. So they
 * are authenticated: HMAC-SHA256 over the job kind, the body and every attribute, with a key
 * derived from the job's Svix secret value, which only the job roles (and the Svix functions) can
 * read. Unverified attributes are recorded as claims and give nothing: every target runs, the
 * sender is who SQS says, the deferral count and age start afresh.
 *
 * A key rotation in between makes the continuations in flight unverified: their done targets run
 * again (harmless: Svix idempotency keys, idempotent nextAuth logout), nothing is lost.
 */

export const CONTINUATION_ATTRIBUTES = {
  done: 'authgate.done-targets',
  deferrals: 'authgate.deferrals',
  firstReceivedAt: 'authgate.first-received-at',
  sender: 'authgate.original-sender',
  originalId: 'authgate.original-message-id',
  mac: 'authgate.continuation-mac',
} as const;

/** What a continuation carries. */
export interface ContinuationState {
  /** Indexes of the targets already done: they are not called again. */
  done: number[];
  /** How many times the message has been deferred so far. */
  deferrals: number;
  /** When the original message was first received (epoch ms): the age that bounds deferring. */
  firstReceivedAt: number;
  /** The original message's SQS `SenderId`. */
  sender?: string;
  /** The original SQS message id: the idempotency keys of a plain message hash it. */
  originalId: string;
}

/** A continuation as read from a record: the state, and whether its attributes are ours. */
export type ReadContinuation = { verified: true; state: ContinuationState } | { verified: false; claimed: Partial<ContinuationState> };

/** The key material the MAC key is derived from (the job's Svix secret value). */
export type ContinuationSecret = () => Promise<string>;

/** Sends a continuation of `record` (the runner has decided its state, and its delay within SQS's bounds: `clampDelaySeconds`). */
export type Continue = (record: SQSRecord, state: ContinuationState, delaySeconds: number) => Promise<void>;

/** SQS's bounds on `DelaySeconds`; at least 1 so that a continuation never spins. */
export const clampDelaySeconds = (seconds: number) => Math.min(900, Math.max(1, Math.ceil(Number.isFinite(seconds) ? seconds : 900)));

const macKey = (secret: string) => createHmac('sha256', secret).update('authgate job continuation v1').digest();

function macOf(key: Buffer, kind: JobKind, body: string, state: ContinuationState): string {
  // A JSON array: no choice of values can make two different inputs hash the same text.
  const input = JSON.stringify([kind, body, state.done, state.deferrals, state.firstReceivedAt, state.sender ?? null, state.originalId]);
  return createHmac('sha256', key).update(input).digest('base64url');
}

/**
 * The attributes of a continuation (5 of SQS's 10 per message).
 *
 * @example
 * await continuationAttributes('expire-all', record.body, { done: [0, 1], deferrals: 1, firstReceivedAt, originalId }, secret)
 */
export async function continuationAttributes(
  kind: JobKind,
  body: string,
  state: ContinuationState,
  secret: ContinuationSecret,
): Promise<SendMessageInput['MessageAttributes']> {
  const a = CONTINUATION_ATTRIBUTES;
  return {
    [a.done]: { DataType: 'String', StringValue: state.done.join(',') || '-' },
    [a.deferrals]: { DataType: 'Number', StringValue: String(state.deferrals) },
    [a.firstReceivedAt]: { DataType: 'Number', StringValue: String(state.firstReceivedAt) },
    ...(state.sender === undefined ? {} : { [a.sender]: { DataType: 'String', StringValue: state.sender } }),
    [a.originalId]: { DataType: 'String', StringValue: state.originalId },
    [a.mac]: { DataType: 'String', StringValue: macOf(macKey(await secret()), kind, body, state) },
  };
}

const attribute = (record: SQSRecord, name: string) => record.messageAttributes?.[name]?.stringValue;

/**
 * Reads a record's continuation attributes: undefined when it has none (a first delivery).
 * Never throws: attributes that do not parse or verify (or a secret that cannot be read) are claims.
 */
export async function readContinuation(kind: JobKind, record: SQSRecord, secret: ContinuationSecret | undefined): Promise<ReadContinuation | undefined> {
  const a = CONTINUATION_ATTRIBUTES;
  const mac = attribute(record, a.mac);
  const doneText = attribute(record, a.done);
  if (mac === undefined && doneText === undefined) return undefined;
  const done = doneText === undefined || doneText === '-' ? [] : doneText.split(',').map(Number);
  const state: ContinuationState = {
    done,
    deferrals: Number(attribute(record, a.deferrals)),
    firstReceivedAt: Number(attribute(record, a.firstReceivedAt)),
    originalId: attribute(record, a.originalId) ?? '',
    ...(attribute(record, a.sender) === undefined ? {} : { sender: attribute(record, a.sender) }),
  };
  const wellFormed =
    done.every((i) => Number.isInteger(i) && i >= 0) &&
    Number.isInteger(state.deferrals) &&
    state.deferrals >= 0 &&
    Number.isFinite(state.firstReceivedAt) &&
    state.originalId !== '';
  if (!wellFormed || mac === undefined || secret === undefined) return { verified: false, claimed: state };
  let expected: string;
  try {
    expected = macOf(macKey(await secret()), kind, record.body, state);
  } catch {
    return { verified: false, claimed: state };
  }
  const given = Buffer.from(mac);
  const wanted = Buffer.from(expected);
  const verified = given.length === wanted.length && timingSafeEqual(given, wanted);
  return verified ? { verified: true, state } : { verified: false, claimed: state };
}

/**
 * A `Continue` that sends to the job's own queue through `sendMessage` (the same SendMessage as the
 * dead-letter copy: lib/jobs/handler.ts).
 *
 * @example
 * const carryOn = queueContinuation('expire-all', setting(JOB_QUEUE_URL), sendMessage, () => getSecret(setting(SVIX_SECRET_ID)));
 */
export function queueContinuation(
  kind: JobKind,
  queueUrl: string,
  sendMessage: (input: SendMessageInput) => Promise<unknown>,
  secret: ContinuationSecret,
): Continue {
  return async (record, state, delaySeconds) => {
    await sendMessage({
      QueueUrl: queueUrl,
      MessageBody: record.body,
      DelaySeconds: delaySeconds,
      MessageAttributes: await continuationAttributes(kind, record.body, state, secret),
    });
  };
}
