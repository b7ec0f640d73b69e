import { jsonParseProtectProto } from '@middy/util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonBody, MAX_JSON_DEPTH } from '#lib/json-body';
import { httpEvent } from '#local/events';

/** The body stage on its own: what it leaves in `event.body`, or the status of what it throws. */
function run(body: string | undefined, headers: Record<string, string> = { 'content-type': 'application/json' }, options = {}) {
  const event = httpEvent({ method: 'POST', rawPath: '/x', headers, ...(body === undefined ? {} : { body }) });
  if (body === undefined) delete (event as { body?: string }).body;
  try {
    jsonBody(options).before?.({ event, context: {} as never, response: undefined, error: undefined, internal: {} } as never);
    return { body: event.body as unknown };
  } catch (err) {
    return { status: (err as { statusCode?: number }).statusCode, message: (err as Error).message };
  }
}

/** What @middy/http-json-body-parser decides for the same text (its parse, which we replaced). */
function middyDecides(text: string) {
  try {
    return { body: jsonParseProtectProto(text, undefined, 'x') as unknown };
  } catch (err) {
    return { status: (err as { statusCode?: number }).statusCode ?? 422 };
  }
}

describe('jsonBody', () => {
  it('parses a JSON body in place, base64 too', () => {
    expect(run('{"expiry":3600,"capabilities":["ViewBase"]}')).toEqual({ body: { expiry: 3600, capabilities: ['ViewBase'] } });
    const event = httpEvent({ method: 'POST', rawPath: '/x', headers: { 'content-type': 'application/json' } });
    Object.assign(event, { body: Buffer.from('{"a":[1]}').toString('base64'), isBase64Encoded: true });
    jsonBody().before?.({ event } as never);
    expect(event.body).toEqual({ a: [1] });
  });

  it('refuses a content type that is not JSON (415), unless told not to check', () => {
    expect(run('{}', { 'content-type': 'text/plain' })).toMatchObject({ status: 415 });
    expect(run('{}', {})).toMatchObject({ status: 415 });
    expect(run('{}', { 'content-type': 'application/vnd.api+json; charset=utf-8' })).toEqual({ body: {} });
    expect(run('{}', {}, { contentTypeCheck: false })).toEqual({ body: {} });
  });

  it('refuses malformed JSON and a missing body with 422', () => {
    expect(run('{"a":')).toMatchObject({ status: 422, message: 'Invalid or malformed JSON was provided' });
    expect(run(undefined)).toMatchObject({ status: 422 });
  });

  it('refuses __proto__ and a constructor with a prototype, at any depth (422)', () => {
    for (const text of ['{"__proto__":{"x":1}}', '{"a":[{"b":{"__proto__":{}}}]}', '{"constructor":{"prototype":{"x":1}}}', '[{"\\u005f_proto__":1}]']) {
      expect(run(text), text).toMatchObject({ status: 422, message: 'Forbidden key in JSON body' });
    }
    expect(run('{"constructor":"x","prototype":1}')).toEqual({ body: { constructor: 'x', prototype: 1 } });
  });

  it('refuses nesting deeper than MAX_JSON_DEPTH (422), also deeper than the call stack, without overflowing it', () => {
    const arrays = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const objects = (depth: number) => `${'{"a":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}`;
    const tooDeep = { status: 422, message: `The body is nested deeper than ${MAX_JSON_DEPTH} levels.` };
    expect(run(arrays(200_000))).toEqual(tooDeep);
    expect(run(objects(60_000))).toEqual(tooDeep);
    expect(run(arrays(MAX_JSON_DEPTH + 1))).toEqual(tooDeep);
    expect(run(`[1,{"a":[${objects(MAX_JSON_DEPTH - 1)}]}]`)).toEqual(tooDeep);
    // Scalars do not count as a level: the root array and MAX_JSON_DEPTH - 1 inside it, holding a number.
    expect(run(`${'['.repeat(MAX_JSON_DEPTH)}7${']'.repeat(MAX_JSON_DEPTH)}`)).toHaveProperty('body');
    expect(run(objects(MAX_JSON_DEPTH))).toHaveProperty('body');
  });

  it('decides exactly as @middy/http-json-body-parser did, on any JSON', () => {
    const risky = fc.constantFrom('__proto__', 'constructor', 'prototype', 'a');
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.jsonValue({ maxDepth: 2 }),
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(fc.oneof(risky, fc.string()), tie('node'), { maxKeys: 3 }),
      ),
    })).node;
    let refused = 0;
    fc.assert(
      fc.property(value, (v) => {
        const text = JSON.stringify(v);
        const ours = run(text);
        const theirs = middyDecides(text);
        expect(ours.status).toBe(theirs.status);
        if (theirs.status) refused++;
        if (!('status' in theirs)) expect(ours.body).toEqual(theirs.body);
      }),
      { numRuns: 500 },
    );
    // The generator does reach the forbidden keys, so the comparison covers the refusals.
    expect(refused).toBeGreaterThan(0);
  });
});
