import * as v from 'valibot';
import { UpstreamUnavailableError } from '../errors.ts';

/** The JSON in `body`, or `undefined` for anything that is not JSON (an HTML error page, nothing). */
export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * An upstream's 2xx answer, read with its schema. An answer that does not fit is the upstream's
 * fault, not the caller's: 502, and its text is never passed on.
 *
 * @example
 * answerOf(reply.body, PortalAccessOut, 'Svix')   // { url, token }, or a 502
 */
export function answerOf<S extends v.GenericSchema>(body: Buffer, schema: S, upstream: string): v.InferOutput<S> {
  return checkedAnswer(parseJson(body), schema, upstream);
}

/** `answerOf` for an answer already parsed. */
export function checkedAnswer<S extends v.GenericSchema>(answer: unknown, schema: S, upstream: string): v.InferOutput<S> {
  const out = v.safeParse(schema, answer);
  if (!out.success) throw new UpstreamUnavailableError(502, `${upstream} answered with an unexpected body.`);
  return out.output;
}
