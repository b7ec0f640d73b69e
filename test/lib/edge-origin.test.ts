import middy from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { EDGE_ORIGIN_HEADER, edgeOriginGuard } from '#lib/edge-origin';
import { HttpError } from '#lib/errors';
import { invoke } from '../support/invoke.ts';

/**
 * The edge guard on a handler stacked the way lib/http.ts stacks them (header normaliser, the
 * guard, an error responder), invoked with real HTTP API events.
 */

const SECRET = 'edge-canary-4f1d2b9a7c3e';
let calls = 0;
const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
  .use({
    onError: (request) => {
      const err = request.error;
      request.response = err instanceof HttpError ? err.toResponse() : { statusCode: 500, body: '' };
    },
  })
  .use(httpHeaderNormalizer())
  .use(edgeOriginGuard())
  .handler(async () => {
    calls++;
    return { statusCode: 204, body: '' };
  });

const call = (headers: Record<string, string> = {}) => invoke(handler, { method: 'POST', rawPath: '/api/v1/auth/logout', headers });

afterEach(() => {
  delete process.env.EDGE_ORIGIN_SECRET;
  calls = 0;
});

describe('edge origin guard', () => {
  it('is off without EDGE_ORIGIN_SECRET: every request passes, as before', async () => {
    expect((await call()).statusCode).toBe(204);
    process.env.EDGE_ORIGIN_SECRET = '  ';
    expect((await call()).statusCode).toBe(204);
    expect(calls).toBe(2);
  });

  it('when on, refuses a request that did not come through CloudFront, in API Gateway’s shape, before the handler', async () => {
    process.env.EDGE_ORIGIN_SECRET = SECRET;
    const attempts: Array<Record<string, string>> = [
      {},
      { [EDGE_ORIGIN_HEADER]: 'guess' },
      { [EDGE_ORIGIN_HEADER]: `${SECRET}x` },
      { [EDGE_ORIGIN_HEADER]: '' },
    ];
    for (const headers of attempts) {
      const res = await call(headers);
      expect(res.statusCode).toBe(403);
      expect(res.json).toEqual({ message: 'Forbidden' });
    }
    expect(calls).toBe(0);
  });

  it('when on, lets through what CloudFront forwarded (whatever the header name’s case)', async () => {
    process.env.EDGE_ORIGIN_SECRET = SECRET;
    expect((await call({ [EDGE_ORIGIN_HEADER]: SECRET })).statusCode).toBe(204);
    expect((await call({ 'X-Authgate-Edge': SECRET })).statusCode).toBe(204);
    expect(calls).toBe(2);
  });

  it('says nothing about the edge or its secret in the refusal', async () => {
    process.env.EDGE_ORIGIN_SECRET = SECRET;
    const res = await call({ [EDGE_ORIGIN_HEADER]: 'guess' });
    expect(res.body).not.toContain(SECRET);
    expect(res.body).not.toMatch(/edge|cloudfront/i);
  });
});
