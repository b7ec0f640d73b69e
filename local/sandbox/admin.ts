import type { ServerResponse } from 'node:http';
import type { SandboxRequest } from './types.ts';

/**
 * What the sandbox's control routes (`/_sandbox/faults`, `/_sandbox/rate-limit`) share: their
 * answers are JSON, and a PUT's body is JSON checked by the route's own parser, which names what is
 * wrong; either failing is a 400 with `{error}`.
 */

/** Answers `body` as JSON; true, as a control route returns once it answered. */
export function replyJson(res: ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  return true;
}

/**
 * The request's body as JSON, checked by `parse` (a string is what is wrong with it); undefined
 * once it has answered 400.
 *
 * @example
 * const fault = readSetting(req, res, parseFault);
 * if (fault === undefined) return true;
 */
export function readSetting<T extends object>(req: SandboxRequest, res: ServerResponse, parse: (input: unknown) => T | string): T | undefined {
  let body: unknown;
  try {
    body = JSON.parse(req.body.toString('utf8'));
  } catch {
    replyJson(res, 400, { error: 'body must be JSON' });
    return undefined;
  }
  const parsed = parse(body);
  if (typeof parsed !== 'string') return parsed;
  replyJson(res, 400, { error: parsed });
  return undefined;
}
