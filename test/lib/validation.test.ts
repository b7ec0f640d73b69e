import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '#lib/errors';
import { isJsonObject, issuesOf, jsonObject, validate } from '#lib/validation';
import { thrown } from '../support/thrown.ts';

const Body = jsonObject(
  v.object({
    expiry: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
    flags: v.optional(v.array(v.pipe(v.string(), v.maxLength(3)))),
  }),
);

describe('issuesOf', () => {
  it('returns the parsed value', () => {
    expect(issuesOf(Body, { expiry: 5, extra: true }, ['body'])).toEqual({ ok: true, value: { expiry: 5 } });
  });

  it('locates issues the way Svix does, under the prefix, down to the array index', () => {
    const result = issuesOf(Body, { flags: ['ok', 'too long'] }, ['body']);

    expect(result.ok).toBe(false);
    expect(!result.ok && result.issues).toEqual([{ loc: ['body', 'flags', 1], msg: expect.any(String), type: 'value_error' }]);
  });

  it('calls a wrong JSON type a type_error and a broken constraint a value_error', () => {
    const wrongType = issuesOf(Body, { expiry: 'soon' }, ['body']);
    const broken = issuesOf(Body, { expiry: -1 }, ['body']);

    expect(!wrongType.ok && wrongType.issues.map((i) => i.type)).toEqual(['type_error.number']);
    expect(!broken.ok && broken.issues.map((i) => [i.loc, i.type])).toEqual([[['body', 'expiry'], 'value_error']]);
  });

  it('reports only the first broken constraint of a value', () => {
    const result = issuesOf(Body, { expiry: -1.5 }, []);

    expect(!result.ok && result.issues).toHaveLength(1);
  });
});

describe('isJsonObject / jsonObject', () => {
  it('accepts objects proper only', () => {
    expect([{}, { a: 1 }].map(isJsonObject)).toEqual([true, true]);
    expect([[], null, 'x', 1, undefined].map(isJsonObject)).toEqual([false, false, false, false, false]);
  });

  it('refuses an array, which valibot would take for an object', () => {
    const result = issuesOf(Body, [], ['body']);

    expect(!result.ok && result.issues).toEqual([{ loc: ['body'], msg: 'Invalid type: Expected a JSON object', type: 'type_error.custom' }]);
  });
});

describe('validate', () => {
  it('returns the value or throws a ValidationError of the family', () => {
    expect(validate(Body, { expiry: 1 }, ['body'], 'svix')).toEqual({ expiry: 1 });

    const svix = thrown<ValidationError>(() => validate(Body, { expiry: -1 }, ['body'], 'svix'));
    const nextauth = thrown<ValidationError>(() => validate(Body, null, ['body'], 'nextauth'));

    expect(svix).toBeInstanceOf(ValidationError);
    expect(svix?.statusCode).toBe(422);
    expect(nextauth?.statusCode).toBe(400);
    expect(nextauth?.family).toBe('nextauth');
  });
});
