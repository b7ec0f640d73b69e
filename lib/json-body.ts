import type { MiddlewareObj } from '@middy/core';
import { createError, jsonContentTypePattern } from '@middy/util';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/**
 * The JSON body stage: the checks of `@middy/http-json-body-parser` (a JSON content type, else
 * 415; JSON that parses, else 422; no `__proto__` key and no `constructor` holding a `prototype`,
 * else 422), with its errors, but parsed by a plain `JSON.parse` and one walk over the result,
 * which also bounds the nesting depth (`MAX_JSON_DEPTH`, else `JsonTooDeepError`).
 * Why our own: that parser runs `JSON.parse` with a reviver, one call back into JavaScript per
 * value, which made parsing the largest part of the body stage on a warm call and ~4× a plain
 * parse for a typical body (docs/performance-warm.md).
 */

export interface JsonBodyOptions {
  /** Refuse a body whose `Content-Type` is not JSON (415). Default true. */
  contentTypeCheck?: boolean;
}

const PACKAGE = 'authgate/json-body';

/**
 * How deep a body may nest; the root counts as one level. The request bodies of both upstreams are
 * shallow: Svix's auth bodies are 3 levels at most (`{"application": {"metadata": {…}}}`, and Svix's
 * own parser, serde_json, stops at 128), nextAuth's UserContext is 3 to `info`, a free-form object
 * "to display to user" (docs/upstream/nextauth-openapi.oas3.json), which leaves `info` 29 levels of
 * its own: more than anything shown on a phone needs. What it bounds is everything after the parse
 * that recurses over the body (`JSON.stringify` of the upstream request, the log and audit writers):
 * a 60,000-deep object overflowed the stack there, a 500 any caller could cause.
 * `JSON.parse` itself is iterative in V8 and only bounded by the body size.
 */
export const MAX_JSON_DEPTH = 32;

/** The body nests deeper than `MAX_JSON_DEPTH`; answered as the family's validation error (http.ts). */
export class JsonTooDeepError extends Error {
  readonly statusCode = 422;
  constructor() {
    super(`The body is nested deeper than ${MAX_JSON_DEPTH} levels.`);
    this.name = 'JsonTooDeepError';
  }
}

/**
 * What is wrong with the parsed value, if anything: nested deeper than `MAX_JSON_DEPTH`, or holding
 * a key that could reach a prototype once merged into an object.
 */
function bodyFault(root: unknown): 'too-deep' | 'forbidden-key' | undefined {
  // Stacks, not recursion: a 256 KiB body can nest deeper than the call stack allows. Two parallel
  // stacks rather than one of pairs: no allocation per value on the warm path.
  const pending: unknown[] = [root];
  const depths: number[] = [1];
  while (pending.length > 0) {
    const value = pending.pop();
    const depth = depths.pop() as number;
    if (typeof value !== 'object' || value === null) continue;
    if (depth > MAX_JSON_DEPTH) return 'too-deep';
    if (Array.isArray(value)) {
      for (const item of value) {
        if (typeof item === 'object' && item !== null) {
          pending.push(item);
          depths.push(depth + 1);
        }
      }
      continue;
    }
    for (const key of Object.keys(value)) {
      const member = (value as Record<string, unknown>)[key];
      if (key === '__proto__' || (key === 'constructor' && member && Object.hasOwn(member, 'prototype'))) return 'forbidden-key';
      if (typeof member === 'object' && member !== null) {
        pending.push(member);
        depths.push(depth + 1);
      }
    }
  }
  return undefined;
}

/** Parses `event.body` as JSON in place, as `@middy/http-json-body-parser` does. */
export function jsonBody(options: JsonBodyOptions = {}): MiddlewareObj<APIGatewayProxyEventV2> {
  const contentTypeCheck = options.contentTypeCheck ?? true;
  return {
    before: ({ event }) => {
      const contentType = event.headers?.['content-type'] ?? event.headers?.['Content-Type'];
      if (contentTypeCheck && !jsonContentTypePattern.test(contentType ?? '')) {
        throw createError(415, 'Unsupported Media Type', { cause: { package: PACKAGE, data: contentType } });
      }
      if (event.body === undefined) throw createError(422, 'Invalid or malformed JSON was provided', { cause: { package: PACKAGE } });
      let parsed: unknown;
      try {
        parsed = JSON.parse(event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString() : event.body);
      } catch (err) {
        throw createError(422, 'Invalid or malformed JSON was provided', { cause: { package: PACKAGE, message: (err as Error).message } });
      }
      const fault = bodyFault(parsed);
      if (fault === 'too-deep') throw new JsonTooDeepError();
      if (fault === 'forbidden-key') throw createError(422, 'Forbidden key in JSON body', { cause: { package: PACKAGE } });
      (event as { body: unknown }).body = parsed;
    },
  };
}
