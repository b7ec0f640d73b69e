import * as v from 'valibot';
import { type Family, type Issue, type IssueLocation, ValidationError } from './errors.ts';

/**
 * Runs a valibot schema and turns its issues into the gateway's `Issue` list, located the way
 * Svix locates them (`["body", "featureFlags", 3]`). The API family picks the wire shape.
 */

const TYPE_KINDS = new Set(['custom', 'string', 'number', 'integer', 'boolean', 'array', 'object', 'strict_object', 'null', 'union', 'variant', 'record']);

function toIssue(issue: v.BaseIssue<unknown>, prefix: IssueLocation): Issue {
  const path = (issue.path ?? []).map((item) => item.key as string | number);
  return {
    loc: [...prefix, ...path],
    msg: issue.message,
    // Svix's validator reports constraint failures as `value_error`; a wrong JSON type as `type_error`.
    type: TYPE_KINDS.has(issue.type) ? `type_error.${issue.type === 'strict_object' ? 'object' : issue.type}` : 'value_error',
  };
}

/** One config object for every parse, not one per call. */
const PARSE_CONFIG = { abortPipeEarly: true } as const;

export function issuesOf<S extends v.GenericSchema>(
  schema: S,
  input: unknown,
  prefix: IssueLocation,
): { ok: true; value: v.InferOutput<S> } | { ok: false; issues: Issue[] } {
  const result = v.safeParse(schema, input, PARSE_CONFIG);
  if (result.success) return { ok: true, value: result.output };
  return { ok: false, issues: result.issues.map((i) => toIssue(i, prefix)) };
}

/** valibot's `object` accepts arrays; a JSON body or member that must be an object proper uses this. */
export const isJsonObject = (input: unknown): input is Record<string, unknown> => typeof input === 'object' && input !== null && !Array.isArray(input);

/** `schema`, but only for a JSON object (not an array, not null). */
export const jsonObject = <S extends v.GenericSchema>(schema: S) =>
  v.pipe(v.custom<v.InferInput<S>>(isJsonObject, 'Invalid type: Expected a JSON object'), schema);

/** Parses or throws a `ValidationError` (422 for Svix, 400 for nextAuth). */
export function validate<S extends v.GenericSchema>(schema: S, input: unknown, prefix: IssueLocation, family: Family): v.InferOutput<S> {
  const result = issuesOf(schema, input, prefix);
  if (!result.ok) throw new ValidationError(result.issues, family);
  return result.value;
}
