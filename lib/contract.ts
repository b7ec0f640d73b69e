import type * as v from 'valibot';
import { type Family, type HttpResult, httpHandler, type Invocation } from './http.ts';
import { upstreamIdempotencyKey } from './idempotency.ts';
import { validate } from './validation.ts';

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
  /** No authorizer on the route: the caller is whoever holds the bearer token it forwards. */
  anonymous?: true;
}

type Outputs<S extends Record<string, v.GenericSchema>> = { [K in keyof S]: v.InferOutput<S[K]> };

/** What a handler gets: every input validated against its contract. */
export interface OperationInput<C extends HttpContract> {
  path: Outputs<C['pathParameters']>;
  headers: Outputs<C['headers']>;
  query: C['query'] extends v.GenericSchema ? v.InferOutput<C['query']> : undefined;
  body: C['body'] extends { schema: infer B extends v.GenericSchema } ? v.InferOutput<B> : undefined;
}

export interface OperationInvocation extends Invocation {
  /** The key to send Svix, for contracts with `idempotency`. */
  idempotencyKey: string;
}

/** Keeps the literal types of a contract (`const`) while checking it is one. */
export const defineContract = <const C extends HttpContract>(contract: C): C => contract;

function inputOf<C extends HttpContract>(contract: C, event: Parameters<Parameters<typeof httpHandler>[0]>[0]): OperationInput<C> {
  const { family } = contract;
  const each = (schemas: Record<string, v.GenericSchema>, values: Record<string, string | undefined> | undefined, where: string) =>
    Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, validate(schema, values?.[name], [where, name], family)]));
  return {
    path: each(contract.pathParameters, event.pathParameters, 'path'),
    headers: each(contract.headers, event.headers, 'header'),
    query: contract.query ? validate(contract.query, event.queryStringParameters ?? {}, ['query'], family) : undefined,
    body: contract.body ? validate(contract.body.schema, event.body, ['body'], family) : undefined,
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
  return httpHandler(
    (event, invocation) => {
      const input = inputOf(contract, event);
      const target = idempotency?.target ? [String((input.path as Record<string, unknown>)[idempotency.target])] : [];
      const callerKey = (input.headers as Record<string, string | undefined>)['idempotency-key'];
      const idempotencyKey = idempotency ? upstreamIdempotencyKey(callerKey, { caller: invocation.caller, operation, target }) : '';
      return fn(input, { ...invocation, idempotencyKey });
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
