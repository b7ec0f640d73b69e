import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { defineContract, type HttpContract } from '#lib/contract';
import { ApiError } from '#lib/errors';
import { binary, empty, header, httpHandler, type Invocation, json, type ParsedEvent } from '#lib/http';
import { clearSecretValues, registerSecretValue } from '#lib/redaction';
import { type HttpEventInput, httpEvent } from '#local/events';
import { testContext } from '../support/context.ts';
import { parsedLogs } from '../support/logs.ts';

/** What API Gateway's JWT authorizer hands on for a caller named `billing`. */
const BILLING = { jwt: { claims: { sub: 'billing' }, scopes: ['svix/expire-all'] } };

interface Seen {
  event: ParsedEvent;
  invocation: Invocation;
}

/** A contract for the tiny handler, audited as expire-all is: a required JSON body unless `over` says otherwise. */
const tinyContract = (over: Partial<HttpContract> = {}): HttpContract =>
  defineContract({
    operation: 'unit.tiny',
    family: 'svix',
    method: 'POST',
    path: '/api/v1/auth/app/{app_id}/expire-all',
    pathParameters: {},
    headers: {},
    body: { schema: v.unknown(), presence: 'required' },
    audit: { path: { app_id: 'appId' }, sessionIds: true },
    ...over,
  });
/** A body read when present (`optional`), or none read (`undefined`), with the largest size allowed. */
const bodyOf = (presence?: 'required' | 'optional', maxBytes?: number): Pick<HttpContract, 'body'> => ({
  body: presence ? { schema: v.unknown(), presence, ...(maxBytes ? { maxBytes } : {}) } : undefined,
});

/** A tiny handler in the shared stack that records what it was given and answers `answer`. */
function tinyHandler(over: Partial<HttpContract> = {}, answer: (event: ParsedEvent) => Promise<APIGatewayProxyStructuredResultV2> = async () => empty(204)) {
  const seen: Seen[] = [];
  const handler = httpHandler(tinyContract(over), async (event, invocation) => {
    seen.push({ event, invocation });
    return answer(event);
  });
  return { handler, seen };
}

const post = (input: Partial<HttpEventInput> = {}): APIGatewayProxyEventV2 =>
  httpEvent({
    method: 'POST',
    rawPath: '/api/v1/auth/app/app_1/expire-all/',
    pathParameters: { app_id: 'app_1' },
    headers: { 'content-type': 'application/json' },
    body: '{"expiry":0}',
    authorizer: BILLING,
    ...input,
  });

async function call(handler: ReturnType<typeof tinyHandler>['handler'], event: APIGatewayProxyEventV2) {
  const result = (await handler(event, testContext())) as APIGatewayProxyStructuredResultV2;
  return { ...result, json: result.body && !result.isBase64Encoded ? (JSON.parse(result.body) as unknown) : undefined };
}

const auditLines = () => parsedLogs().filter((line) => line.msg === 'audit');

afterEach(() => {
  clearSecretValues();
  delete process.env.SVIX_TENANT_CLAIM;
});

describe('httpHandler: a request that passes', () => {
  it('hands the handler the parsed body, lower-case headers, the caller and a deadline', async () => {
    const { handler, seen } = tinyHandler();

    const result = await call(handler, post({ headers: { 'Content-Type': 'application/json', 'X-Trace': 't-1' } }));

    expect(result.statusCode).toBe(204);
    const [{ event, invocation }] = seen as [Seen];
    expect(event.body).toEqual({ expiry: 0 });
    expect(header(event, 'x-trace')).toBe('t-1');
    expect(invocation.caller).toEqual({ id: 'jwt:billing', sub: 'billing' });
    expect(invocation.operation).toBe('unit.tiny');
    expect(invocation.call.deadline.remainingMs()).toBeGreaterThan(0);
    expect(invocation.call.deadline.remainingMs()).toBeLessThanOrEqual(10_000 - 250);
  });

  it('writes one audit record naming the caller, the target and the status', async () => {
    const { handler } = tinyHandler({}, async () => json(200, { ok: true }));

    await call(handler, post({ body: '{"sessionIds":["s1","s2"]}' }));

    const [record, ...more] = auditLines();
    expect(more).toEqual([]);
    expect(record).toMatchObject({ operation: 'unit.tiny', status: 200, caller: { id: 'jwt:billing' }, target: { appId: 'app_1', sessionIds: ['s1', 's2'] } });
  });

  it('ignores the body of a `none` operation and parses an optional one only when present', async () => {
    const none = tinyHandler(bodyOf());
    const optional = tinyHandler({ ...bodyOf('optional'), family: 'nextauth' });

    await call(none.handler, post({ body: 'not json at all' }));
    await call(optional.handler, post({ body: undefined, headers: {} }));
    await call(optional.handler, post({ body: '{"a":1}', headers: {} }));

    expect(none.seen[0]?.event.body).toBeUndefined();
    expect(optional.seen.map((s) => s.event.body)).toEqual([undefined, { a: 1 }]);
  });
});

describe('httpHandler: error shapes per family', () => {
  it('answers a body that is not JSON with 422 {detail:[…]} for Svix and 400 {code, detail} for nextAuth', async () => {
    const svix = tinyHandler({ family: 'svix' });
    const nextauth = tinyHandler({ family: 'nextauth' });

    const s = await call(svix.handler, post({ body: '{"expiry":' }));
    const n = await call(nextauth.handler, post({ body: '{"expiry":' }));

    expect(s.statusCode).toBe(422);
    expect(s.json).toEqual({ detail: [{ loc: ['body'], msg: 'The body is not valid JSON.', type: 'value_error.jsondecode' }] });
    expect(n.statusCode).toBe(400);
    expect(n.json).toEqual({ code: 'validation_error', detail: 'body: The body is not valid JSON.' });
    expect([...svix.seen, ...nextauth.seen]).toEqual([]);
  });

  it('answers a JSON operation sent without a JSON content type with 415', async () => {
    const { handler, seen } = tinyHandler();

    const result = await call(handler, post({ headers: { 'content-type': 'text/plain' } }));

    expect(result.statusCode).toBe(415);
    expect(result.json).toEqual({ code: 'unsupported_media_type', detail: 'Expected a request with `Content-Type: application/json`.' });
    expect(seen).toEqual([]);
  });

  it('answers what the handler throws in its own shape, and a bug with a bare 500', async () => {
    const conflict = tinyHandler({}, async () => {
      throw new ApiError(409, 'conflict', 'Already there.');
    });
    const bug = tinyHandler({}, async () => {
      throw new TypeError('cannot read properties of undefined (reading "sk_internal_detail")');
    });

    const c = await call(conflict.handler, post());
    const b = await call(bug.handler, post());

    expect(c.statusCode).toBe(409);
    expect(c.json).toEqual({ code: 'conflict', detail: 'Already there.' });
    expect(b.statusCode).toBe(500);
    expect(b.json).toEqual({ code: 'internal_server_error', detail: 'Internal server error.' });
    expect(b.body).not.toContain('sk_internal_detail');
    expect(parsedLogs().some((line) => line.msg === 'unhandled error' && line.operation === 'unit.tiny')).toBe(true);
  });
});

describe('httpHandler: callers', () => {
  it('refuses a token that names nobody with 401 in the family shape, before the handler', async () => {
    const svix = tinyHandler({ family: 'svix' });
    const nextauth = tinyHandler({ family: 'nextauth' });
    const nobody = { jwt: { claims: { iss: 'https://issuer.example', aud: 'authgate' }, scopes: [] } };

    const s = await call(svix.handler, post({ authorizer: nobody }));
    const n = await call(nextauth.handler, post({ authorizer: nobody }));

    expect(s.statusCode).toBe(401);
    expect((s.json as { code: string }).code).toBe('authentication_failed');
    expect(n.statusCode).toBe(401);
    expect((n.json as { code: string }).code).toBe('unauthorized');
    expect([...svix.seen, ...nextauth.seen]).toEqual([]);
    expect(auditLines().map((line) => line.status)).toEqual([401, 401]);
  });

  it('names the anonymous route caller by a digest of its bearer token', async () => {
    const { handler, seen } = tinyHandler({ anonymous: true, ...bodyOf() });
    const bearer = 'Bearer appsk_unit_token_0123456789';

    await call(handler, post({ authorizer: undefined, headers: { authorization: bearer } }));

    const caller = seen[0]?.invocation.caller;
    expect(caller?.id).toMatch(/^token:[A-Za-z0-9_-]{22}$/);
    expect(JSON.stringify(parsedLogs())).not.toContain('appsk_unit_token_0123456789');
  });

  it('refuses a caller acting on an app its token does not list (tenant binding), before the handler', async () => {
    process.env.SVIX_TENANT_CLAIM = 'svix_app_ids';
    const { handler, seen } = tinyHandler({ tenant: 'app_id' });
    const bound = (apps: string) => ({ jwt: { claims: { sub: 'billing', svix_app_ids: apps }, scopes: [] } });

    const other = await call(handler, post({ authorizer: bound('[app_2]') }));
    const own = await call(handler, post({ authorizer: bound('[app_1 app_2]') }));

    expect(other.statusCode).toBe(403);
    expect(other.json).toEqual({ code: 'insufficient access', detail: 'Insufficient access for the given operation.' });
    expect(own.statusCode).toBe(204);
    expect(seen).toHaveLength(1);
  });
});

describe('httpHandler: body limits', () => {
  it('takes a body of exactly the limit and refuses one byte more with 413', async () => {
    const { handler, seen } = tinyHandler(bodyOf('required', 16));
    const exact = '{"k":"0123456"}';

    expect(Buffer.byteLength(`${exact} `)).toBe(16);
    const ok = await call(handler, post({ body: `${exact} ` }));
    const over = await call(handler, post({ body: `${exact}  ` }));

    expect(ok.statusCode).toBe(204);
    expect(over.statusCode).toBe(413);
    expect(over.json).toEqual({ code: 'payload_too_large', detail: 'The request body is larger than 16 bytes.' });
    expect(seen).toHaveLength(1);
  });

  // API Gateway base64-encodes any body without a text content type (nextAuth clients send
  // provokeLoginOnAccount's so); 16 bytes are 24 characters ending in `==`, and the padding is not body.
  it('takes a base64-encoded body of exactly the limit (padding is not body)', async () => {
    const { handler } = tinyHandler({ ...bodyOf('optional', 16), family: 'nextauth' });
    const event = post({ headers: {}, body: '{"k":"01234567"}' });

    expect(event.isBase64Encoded).toBe(true);
    const result = await call(handler, event);

    expect(result.statusCode).toBe(204);
  });

  it('counts bytes, not characters', async () => {
    const { handler } = tinyHandler(bodyOf('required', 16));

    // 12 characters, 18 bytes in UTF-8.
    const result = await call(handler, post({ body: '{"k":"ééééé"}' }));

    expect(result.statusCode).toBe(413);
  });
});

describe('httpHandler: response scrubbing', () => {
  it('never lets a registered secret out, in the body or a header', async () => {
    const secret = 'sk_unit_registered_secret_42';
    registerSecretValue(secret);
    const { handler } = tinyHandler({}, async () => json(200, { echoed: `key was ${secret}` }, { 'x-echo': secret }));

    const result = await call(handler, post());

    expect(result.statusCode).toBe(200);
    expect(result.json).toEqual({ echoed: 'key was [redacted]' });
    expect(result.headers?.['x-echo']).toBe('[redacted]');
  });

  it('leaves binary bodies as they are', async () => {
    registerSecretValue('sk_unit_registered_secret_42');
    const bytes = Buffer.from('sk_unit_registered_secret_42');
    const { handler } = tinyHandler({}, async () => binary(200, bytes, 'application/octet-stream'));

    const result = await call(handler, post());

    expect(result.isBase64Encoded).toBe(true);
    expect(Buffer.from(result.body ?? '', 'base64')).toEqual(bytes);
  });
});
