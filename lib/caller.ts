import { bounded, sha256 } from './digest.ts';

/**
 * Who is calling, as API Gateway or SQS vouches for it. Every caller is its own tenant: the
 * identity keys its idempotency namespace (idempotency.ts) and names it in the audit trail (audit.ts).
 *
 * - JWT authorizer: the token's `sub`, plus `client_id` (OAuth client credentials, Cognito) or
 *   `azp` (OIDC) when present, so two clients of one subject stay apart. A token with none of the
 *   three cannot be told from any other caller and is refused (401) by `lib/http.ts`.
 * - IAM authorizer (`callerAuth=iam`): the signing principal's ARN.
 * - No authorizer (Svix logout): the caller is whoever holds the app token it sends; the identity
 *   is a digest of that token, never the token.
 * - A job message: the principal SQS says sent it (`SenderId`, set by SQS, not by the sender), and
 *   the EventBridge rule it came through when the body says so (`jobCaller`).
 */
export interface Caller {
  /**
   * For people (logs, audit): `jwt:<sub>`, `jwt:<sub>|<client>`, `iam:<arn>`, `token:<digest>`,
   * `sqs:<sender>`, `sqs:<sender>|<rule arn>`. Each part is escaped (`idPart`), so no two callers
   * share an id.
   */
  id: string;
  sub?: string;
  clientId?: string;
  arn?: string;
  /** A job message's SQS `SenderId`: the IAM user or role id (or AWS service) that sent it. */
  sender?: string;
  /** The EventBridge rule a job message came through: this job's own rule (JOB_RULE_ARN). */
  rule?: string;
  /** The `source` an EventBridge event claims; anyone who may put events on the bus chooses it. */
  claimedSource?: string;
  /** The original sender a job continuation's attributes claim when they could not be verified (lib/jobs/continuation.ts). */
  claimedSender?: string;
}

interface AuthorizerContext {
  authorizer?: {
    jwt?: { claims?: Record<string, unknown> };
    iam?: { userArn?: unknown };
  };
}

/** Claims are strings in API Gateway's payload 2.0; anything else (or blank) does not name anyone. */
const claim = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() !== '' ? value : undefined);

/**
 * What an id part must not hold as it is: the separator `|`, the escape `%` itself, the `…` that
 * marks a shortened value (digest.ts `bounded`), and anything that breaks or hides a line.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const ID_UNSAFE = /[%|\u0000-\u001f\u007f-\u009f\u2026\u2028\u2029]/g;

/**
 * The most characters of one id part: two parts and their prefix stay within digest.ts's
 * MAX_VALUE_CHARS (so the id is never shortened as a whole), and a role session id
 * (`AROA…:<session>`, at most 86) or a rule ARN is kept whole.
 */
const ID_PART_CHARS = 120;

/**
 * One part of a caller id: percent-encoded where it would be ambiguous (so `billing|web` as a sub
 * is `billing%7Cweb`, never the pair billing / web), then bounded. The id stays readable for the
 * common case and is injective: distinct parts give distinct ids (a shortened part ends with a
 * digest of the whole, and `…` appears in no unshortened part).
 *
 * @example
 * idPart('billing|web') // 'billing%7Cweb'
 */
function idPart(value: string): string {
  return bounded(
    value.replace(ID_UNSAFE, (c) => encodeURIComponent(c)),
    ID_PART_CHARS,
  );
}

/** `jwt:<sub>` or `jwt:<sub>|<client>` (`jwt:|<client>` without sub), each part escaped. */
export function jwtCallerId(sub: string | undefined, clientId: string | undefined): string {
  return `jwt:${sub === undefined ? '' : idPart(sub)}${clientId === undefined ? '' : `|${idPart(clientId)}`}`;
}

/**
 * The identity API Gateway's authorizer established, or `undefined` when it names nobody (no
 * authorizer on the route, or a JWT without `sub`, `client_id` and `azp`). Claims are kept as they
 * came, bounded (digest.ts `bounded`); the id escapes them.
 *
 * @example
 * callerOf({ authorizer: { jwt: { claims: { sub: 'billing', client_id: 'web' } } } })
 * // → { id: 'jwt:billing|web', sub: 'billing', clientId: 'web' }
 */
export function callerOf(requestContext: unknown): Caller | undefined {
  const authorizer = (requestContext as AuthorizerContext | undefined)?.authorizer;
  const arn = claim(authorizer?.iam?.userArn);
  if (arn) return { id: `iam:${idPart(arn)}`, arn: bounded(arn) };
  const claims = authorizer?.jwt?.claims;
  if (!claims) return undefined;
  const sub = claim(claims.sub);
  const clientId = claim(claims.client_id) ?? claim(claims.azp);
  if (!sub && !clientId) return undefined;
  // `id` is for people; keys are derived from all fields (idempotency.ts), never from the id.
  return { id: jwtCallerId(sub, clientId), ...(sub ? { sub: bounded(sub) } : {}), ...(clientId ? { clientId: bounded(clientId) } : {}) };
}

/** The holder of a bearer credential the gateway forwards (Svix logout), named without the credential. */
export function tokenHolder(token: string): Caller {
  return { id: `token:${sha256(token).slice(0, 22)}` };
}

/**
 * Who sent a job message: the SQS `SenderId` (SQS sets it from the request's credentials; the
 * body cannot change it), the rule it came through (only ever this job's own rule: others are
 * refused, lib/jobs/schema.ts), and the `source` the event claims, named as a claim.
 *
 * @example
 * jobCaller('AROAEXAMPLE:ops', { claimedSource: 'com.example.hr' })
 * // → { id: 'sqs:AROAEXAMPLE:ops', sender: 'AROAEXAMPLE:ops', claimedSource: 'com.example.hr' }
 */
export function jobCaller(senderId: string | undefined, via: { rule?: string; claimedSource?: string } = {}): Caller {
  const sender = claim(senderId);
  const id = `sqs:${sender === undefined ? '' : idPart(sender)}${via.rule === undefined ? '' : `|${idPart(via.rule)}`}`;
  return {
    id,
    ...(sender ? { sender: bounded(sender) } : {}),
    ...(via.rule === undefined ? {} : { rule: bounded(via.rule) }),
    ...(via.claimedSource === undefined ? {} : { claimedSource: bounded(via.claimedSource) }),
  };
}
