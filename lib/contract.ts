import type * as v from 'valibot';
import { type AuditTarget, nonceDigest } from './audit.ts';
import type { Caller } from './caller.ts';
import { ApiError, type Family } from './errors.ts';
import { upstreamIdempotencyKey } from './idempotency.ts';
import { normaliseServerId } from './schemas/server-id.ts';
import { BearerHeader } from './schemas/svix.ts';
import { issuesOf, validate } from './validation.ts';

/**
 * An operation's contract, written once (lib/contracts/): its route, its family (which decides
 * every error shape), the schema of each input, the tenant parameter, whether it takes an
 * idempotency key and what the audit trail records of it. It is the one description of an
 * operation: the shared stack is configured from it (lib/http.ts `httpHandler`), its inputs are
 * validated from it (`inputReader`), so a handler only calls its upstream, and the job targets
 * name what they do through it (lib/jobs/targets.ts). serverless.yml declares the same route for
 * the framework (with its scopes); a test keeps the two in step (test/lib/contracts.test.ts).
 */
export interface HttpContract {
  /** For logs, metrics and the audit trail: `svix.app-portal-access`. */
  operation: string;
  family: Family;
  method: 'GET' | 'POST';
  /** The route as serverless.yml declares it (no trailing slash; HTTP API serves both). */
  path: string;
  /** Each path parameter's schema; validated first, in this order. */
  pathParameters: Record<string, v.GenericSchema>;
  /** Each header's schema, by lower-case name; validated next. */
  headers: Record<string, v.GenericSchema>;
  /** The query string's schema (an object of its parameters). */
  query?: v.GenericSchema;
  /** `required`: a JSON body must be sent; `optional`: parsed when present. Absent: any body is ignored. */
  body?: { schema: v.GenericSchema; presence: 'required' | 'optional'; maxBytes?: number };
  /** Tenant binding: the path parameter naming the Svix app or nextAuth server acted on. */
  tenant?: string;
  /**
   * Svix operations: the `idempotency-key` header seeds the key sent upstream, scoped to the caller,
   * the operation and this path parameter (none: the caller alone), see idempotency.ts.
   */
  idempotency?: { target?: string };
  /**
   * No authorizer on the route: the caller's own `Authorization: Bearer <token>` is the credential
   * (Svix logout). A missing or malformed one answers 401 `authentication_failed`, as Svix does, and
   * the token reaches the handler as `input.bearer`; the caller is whoever holds it.
   */
  anonymous?: true;
  /**
   * A deprecated operation: every answer carries `Deprecation: true` and a `Link` to its successor
   * (RFC 5829's `successor-version`), with the path parameters filled in, percent-encoded, so a
   * client following it lands on a real route.
   */
  successor?: string;
  /**
   * What the audit trail records as the request's `target` (lib/audit.ts): each path parameter
   * named in `path`, as the field it fills; the digest of the `nonceHeader` (never the nonce);
   * and, with `sessionIds`, the session ids the body names (the only part of a body the trail keeps).
   */
  audit?: {
    path?: Readonly<Record<string, AuditedParameter>>;
    nonceHeader?: string;
    sessionIds?: true;
  };
}

/** The target fields a path parameter can fill. */
export type AuditedParameter = 'appId' | 'serverId' | 'accountId' | 'userId';

type Outputs<S extends Record<string, v.GenericSchema>> = { [K in keyof S]: v.InferOutput<S[K]> };

/** What a handler gets: every input validated against its contract. */
export interface OperationInput<C extends HttpContract> {
  path: Outputs<C['pathParameters']>;
  headers: Outputs<C['headers']>;
  query: C['query'] extends v.GenericSchema ? v.InferOutput<C['query']> : undefined;
  body: C['body'] extends { schema: infer B extends v.GenericSchema } ? v.InferOutput<B> : undefined;
  /** The caller's own bearer token, for `anonymous` contracts. */
  bearer: string;
}

/** Keeps the literal types of a contract (`const`) while checking it is one. */
export const defineContract = <const C extends HttpContract>(contract: C): C => contract;

/** `Authorization: Bearer <token>`, as Svix checks it: anything else is 401, not a validation error. */
function bearerOf(authorization: string | undefined): string {
  const checked = issuesOf(BearerHeader, authorization, ['header', 'authorization']);
  if (!checked.ok) throw new ApiError(401, 'authentication_failed', 'Invalid token');
  return checked.value.slice('Bearer '.length);
}

/**
 * The successor's path with `params` filled in.
 *
 * @example
 * successorLink('/api/v1/auth/app-portal-access/{app_id}/', { app_id: 'a/b' }) // → '</api/v1/auth/app-portal-access/a%2Fb/>; rel="successor-version"'
 */
export function successorLink(successor: string, params: Record<string, unknown>): string {
  return `<${successor.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String(params[name])))}>; rel="successor-version"`;
}

type Schemas = ReadonlyArray<readonly [string, v.GenericSchema]>;

/** Each value of `values` named in `schemas`, validated in order. */
function validated(
  schemas: Schemas,
  values: Record<string, string | undefined> | undefined,
  where: string,
  family: HttpContract['family'],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, schema] of schemas) out[name] = validate(schema, values?.[name], [where, name], family);
  return out;
}

/** What the inputs are read from: the event after the shared stack's body stage (lib/http.ts `ParsedEvent`). */
export interface InputEvent {
  pathParameters?: Record<string, string | undefined>;
  headers: Record<string, string | undefined>;
  queryStringParameters?: Record<string, string | undefined>;
  body: unknown;
}

/**
 * Reads and validates an operation's inputs from its contract, in order: the bearer credential
 * (anonymous contracts, as Svix checks it first), path parameters, headers, query, body. The first
 * failure is thrown in the family's own shape (lib/validation.ts).
 *
 * @example
 * const read = inputReader(appPortalAccessContract);   // once, at init
 * const { path, body } = read(event);                  // per request
 */
export function inputReader<C extends HttpContract>(contract: C): (event: InputEvent) => OperationInput<C> {
  const { family } = contract;
  // Worked out once per handler, not per request.
  const schemas = { path: Object.entries(contract.pathParameters), headers: Object.entries(contract.headers) };
  return (event) => {
    const bearer = contract.anonymous ? bearerOf(event.headers.authorization) : '';
    return {
      path: validated(schemas.path, event.pathParameters, 'path', family),
      headers: validated(schemas.headers, event.headers, 'header', family),
      query: contract.query ? validate(contract.query, event.queryStringParameters ?? {}, ['query'], family) : undefined,
      body: contract.body ? validate(contract.body.schema, event.body, ['body'], family) : undefined,
      bearer,
    } as OperationInput<C>;
  };
}

/**
 * The key to send Svix for a contract with `idempotency` (lib/idempotency.ts): the caller's
 * `idempotency-key` scoped to the caller, the operation and the target path parameter. None for
 * a contract without.
 */
export function idempotencyKeyOf<C extends HttpContract>(contract: C, input: OperationInput<C>, caller: Caller): string | undefined {
  const { idempotency, operation } = contract;
  if (!idempotency) return undefined;
  const target = idempotency.target ? [String((input.path as Record<string, unknown>)[idempotency.target])] : [];
  const callerKey = (input.headers as Record<string, string | undefined>)['idempotency-key'];
  return upstreamIdempotencyKey(callerKey, { caller, operation, target });
}

/** A request body may name 1000 session ids; the HTTP record keeps the first hundred. */
export const MAX_AUDIT_SESSION_IDS = 100;

/** Where the audited values come from: a request's path parameters, headers and body, or a job target's. */
export interface AuditedValues {
  path?: Record<string, string | undefined>;
  /** By name in any case (the record is opened before header normalisation). */
  headers?: Record<string, string | undefined>;
  body?: unknown;
}

/**
 * The audit target of one request or job target, as its contract says (`audit`). A server id is
 * recorded in one spelling (as tenant binding compares it), so one query finds every request on a
 * server, whichever spelling each caller sent. Values are kept whole: the caller's raw input (a
 * refused request is recorded too) is bounded where every record is written (audit.ts `writeAudit`).
 *
 * @example
 * auditTargetOf(getSessionContract, { path: { serverid: 'c2VydmVy' }, headers: { 'x-nonce': nonce } })
 * // → { serverId: 'c2VydmVy', nonceHash: 'q1Xb…' }
 */
export function auditTargetOf(contract: Pick<HttpContract, 'audit'>, values: AuditedValues, maxSessionIds = MAX_AUDIT_SESSION_IDS): AuditTarget {
  const target: AuditTarget = {};
  const audit = contract.audit;
  if (!audit) return target;
  for (const name in audit.path) {
    const field = audit.path[name] as AuditedParameter;
    const value = values.path?.[name];
    if (value !== undefined) target[field] = field === 'serverId' ? normaliseServerId(value) : value;
  }
  if (audit.nonceHeader) {
    const headers = values.headers;
    for (const name in headers) {
      const value = headers[name];
      if (value && name.toLowerCase() === audit.nonceHeader) target.nonceHash = nonceDigest(value);
    }
  }
  const ids = audit.sessionIds ? (values.body as { sessionIds?: unknown } | undefined)?.sessionIds : undefined;
  if (Array.isArray(ids)) {
    target.sessionIds = ids.filter((id): id is string => typeof id === 'string').slice(0, maxSessionIds);
  }
  return target;
}
