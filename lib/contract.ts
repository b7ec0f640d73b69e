import type * as v from 'valibot';
import { ApiError, type Family } from './errors.ts';
import { type HttpResult, httpHandler, type Invocation } from './http.ts';
import { upstreamIdempotencyKey } from './idempotency.ts';
import { BearerHeader } from './schemas/svix.ts';
import { issuesOf, validate } from './validation.ts';

/**
 * An operation's contract, written once (lib/contracts/): its route, its family (which decides
 * every error shape), the schema of each input, the tenant parameter and whether it takes an
 * idempotency key. `operationHandler` validates from it, so a handler only calls its upstream.
 * serverless.yml declares the same route for the framework (with its scopes); a test keeps the
 * two in step (test/lib/contracts.test.ts).
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
}

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

export interface OperationInvocation extends Invocation {
  /** The key to send Svix, for contracts with `idempotency`. */
  idempotencyKey: string;
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

function inputOf<C extends HttpContract>(
  contract: C,
  schemas: { path: Schemas; headers: Schemas },
  event: Parameters<Parameters<typeof httpHandler>[0]>[0],
): OperationInput<C> {
  const { family } = contract;
  // The credential first, as Svix checks it before anything else.
  const bearer = contract.anonymous ? bearerOf(event.headers.authorization) : '';
  return {
    path: validated(schemas.path, event.pathParameters, 'path', family),
    headers: validated(schemas.headers, event.headers, 'header', family),
    query: contract.query ? validate(contract.query, event.queryStringParameters ?? {}, ['query'], family) : undefined,
    body: contract.body ? validate(contract.body.schema, event.body, ['body'], family) : undefined,
    bearer,
  } as OperationInput<C>;
}

/**
 * The Lambda handler of an operation: the shared stack (lib/http.ts) configured from the contract,
 * then `fn` with validated input.
 *
 * @example
 * export const handler = operationHandler(getSessionContract, async ({ path, headers }, { deadline }) =>
 *   json(200, await getSession(path.serverid, headers['x-nonce'], { deadline })));
 */
export function operationHandler<C extends HttpContract>(contract: C, fn: (input: OperationInput<C>, invocation: OperationInvocation) => Promise<HttpResult>) {
  const { operation, family, idempotency } = contract;
  const schemas = { path: Object.entries(contract.pathParameters), headers: Object.entries(contract.headers) };
  return httpHandler(
    async (event, invocation) => {
      const input = inputOf(contract, schemas, event);
      const target = idempotency?.target ? [String((input.path as Record<string, unknown>)[idempotency.target])] : [];
      const callerKey = (input.headers as Record<string, string | undefined>)['idempotency-key'];
      const idempotencyKey = idempotency ? upstreamIdempotencyKey(callerKey, { caller: invocation.caller, operation, target }) : '';
      const result = await fn(input, { ...invocation, idempotencyKey });
      if (contract.successor) {
        result.headers = { ...result.headers, deprecation: 'true', link: successorLink(contract.successor, input.path as Record<string, unknown>) };
      }
      return result;
    },
    {
      operation,
      family,
      body: contract.body ? (contract.body.presence === 'required' ? 'json' : 'optional-json') : 'none',
      ...(contract.body?.maxBytes ? { maxBodyBytes: contract.body.maxBytes } : {}),
      ...(contract.tenant ? { tenant: { kind: family, pathParameter: contract.tenant } } : {}),
      ...(contract.anonymous ? { anonymous: true as const } : {}),
    },
  );
}
