import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { type HttpEventInput, httpEvent, lambdaContext } from '#local/events';

type HttpLambda = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2>;

/** What API Gateway's JWT authorizer hands on for a plain test caller. */
export const TEST_CALLER = { jwt: { claims: { sub: 'test-caller' }, scopes: [] } };

export interface InvokeInput extends Omit<HttpEventInput, 'body' | 'authorizer'> {
  /** `requestContext.authorizer`; default `TEST_CALLER`, `null` for none (a route without authorizer). */
  authorizer?: unknown;
  /** An object is sent as JSON with `content-type: application/json` unless headers say otherwise. */
  body?: unknown;
  remainingMs?: number;
}

export interface InvokeResult extends APIGatewayProxyStructuredResultV2 {
  statusCode: number;
  headers: Record<string, string>;
  /** The body parsed as JSON when it is JSON, else the raw string. */
  json: unknown;
}

/** Invokes a handler the way API Gateway HTTP API (payload 2.0) does. */
export async function invoke(handler: HttpLambda, input: InvokeInput): Promise<InvokeResult> {
  const headers: Record<string, string> = { ...input.headers };
  let body: string | Buffer | undefined;
  if (typeof input.body === 'string' || Buffer.isBuffer(input.body)) body = input.body;
  else if (input.body !== undefined) {
    body = JSON.stringify(input.body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  }
  const authorizer = input.authorizer === undefined ? TEST_CALLER : (input.authorizer ?? undefined);
  const event = httpEvent({ ...input, headers, body, authorizer });
  const raw = await handler(event, lambdaContext({ timeoutMs: input.remainingMs ?? 10_000 }));
  if (typeof raw === 'string') throw new Error('handler returned a bare string');
  const text = raw.isBase64Encoded ? Buffer.from(raw.body ?? '', 'base64').toString('latin1') : (raw.body ?? '');
  let json: unknown = text;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {}
  return { ...raw, statusCode: raw.statusCode ?? 200, headers: (raw.headers ?? {}) as Record<string, string>, json };
}
