import type { MiddlewareObj } from '@middy/core';
import { createError, jsonContentTypePattern } from '@middy/util';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/**
 * The JSON body stage: the checks of `@middy/http-json-body-parser` (a JSON content type, else
 * 415; JSON that parses, else 422; no `__proto__` key and no `constructor` holding a `prototype`,
 * else 422), with its errors, but parsed by a plain `JSON.parse` and one walk over the result.
 * Why our own: that parser runs `JSON.parse` with a reviver, one call back into JavaScript per
 * value, which made parsing the largest part of the body stage on a warm call and ~4× a plain
 * parse for a typical body (docs/performance-warm.md).
 */

export interface JsonBodyOptions {
  /** Refuse a body whose `Content-Type` is not JSON (415). Default true. */
  contentTypeCheck?: boolean;
}

const PACKAGE = 'authgate/json-body';

/** Whether the parsed value holds a key that could reach a prototype once merged into an object. */
function hasForbiddenKey(root: unknown): boolean {
  // A stack, not recursion: a 256 KiB body can nest deeper than the call stack allows.
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value !== 'object' || value === null) continue;
    if (Array.isArray(value)) {
      for (const item of value) if (typeof item === 'object' && item !== null) pending.push(item);
      continue;
    }
    for (const key of Object.keys(value)) {
      const member = (value as Record<string, unknown>)[key];
      if (key === '__proto__' || (key === 'constructor' && member && Object.hasOwn(member, 'prototype'))) return true;
      if (typeof member === 'object' && member !== null) pending.push(member);
    }
  }
  return false;
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
      if (hasForbiddenKey(parsed)) throw createError(422, 'Forbidden key in JSON body', { cause: { package: PACKAGE } });
      (event as { body: unknown }).body = parsed;
    },
  };
}
