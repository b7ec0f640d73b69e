import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { EDGE_ORIGIN_SECRET, setting } from './config.ts';
import { sha256 } from './digest.ts';
import { HttpError } from './errors.ts';
import { registerSecretValue } from './redaction.ts';

/**
 * The edge guard (docs/limits.md). With the stage parameter `edge=on`, callers reach the API
 * through CloudFront, whose WAF web ACL applies the per-IP and per-caller rate limits, and
 * CloudFront adds `x-authgate-edge: <secret>` to every request it forwards. HTTP APIs cannot be
 * made private, so the execute-api URL stays reachable; this guard is what keeps it from being a
 * way around those limits: a request without the header (or with another value) is refused
 * before any secret is read or any upstream called. Off (no EDGE_ORIGIN_SECRET) = today's
 * behaviour: every request passes.
 */

export const EDGE_ORIGIN_HEADER = 'x-authgate-edge';

/** API Gateway's own refusal shape, `{"message":"Forbidden"}`: this is a gateway decision, not an upstream's. */
export class NotThroughEdgeError extends HttpError {
  readonly statusCode = 403;
  constructor() {
    super('request did not come through the edge distribution');
    this.name = 'NotThroughEdgeError';
  }
  toJSON(): { message: string } {
    return { message: 'Forbidden' };
  }
}

// Digests of equal length, so the comparison takes the same time whatever the caller sent.
const digest = (value: string) => Buffer.from(sha256(value));

/** The secret's digest, worked out (and the secret registered for scrubbing) once per value, not per request. */
let expected: { secret: string; digest: Buffer } | undefined;

/** Whether the headers carry the edge secret; true when the guard is off. */
export function cameThroughEdge(headers: Record<string, string | undefined> | undefined, secret = setting(EDGE_ORIGIN_SECRET)): boolean {
  if (secret === undefined) return true;
  if (expected?.secret !== secret) {
    registerSecretValue(secret);
    expected = { secret, digest: digest(secret) };
  }
  const sent = headers?.[EDGE_ORIGIN_HEADER];
  return sent !== undefined && timingSafeEqual(digest(sent), expected.digest);
}

/**
 * Middleware: refuses requests that bypassed the edge. Goes after `httpHeaderNormalizer` (it
 * reads the lower-case header) and before anything that reads a secret or the body.
 *
 * @example
 * middy(handler).use(httpHeaderNormalizer()).use(edgeOriginGuard()).use(...)
 */
export function edgeOriginGuard(): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  return {
    before: ({ event }) => {
      if (!cameThroughEdge(event.headers)) throw new NotThroughEdgeError();
    },
  };
}
