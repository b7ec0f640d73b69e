import * as v from 'valibot';
import { isJsonObject, jsonObject } from '../validation.ts';
import { normaliseServerId, SERVER_ID_CHARS } from './server-id.ts';

/**
 * nextAuth Sessions request schemas (`docs/upstream/nextauth-openapi.yaml`, API 2.2; facts in
 * `docs/upstream/nextauth-sessions.md`). The spec gives types but no bounds; every bound below
 * is ours and is commented where we chose it. Objects drop unknown keys: we forward only what the
 * spec defines.
 */

/**
 * `serverid`, in either alphabet, normalised by `normaliseServerId` (`server-id.ts`): every
 * consumer (handlers, job targets, key selection, the upstream path) gets the standard form. Padding, when given, must be right (`abcd==` is no
 * base64). Bound (ours): 256 chars, far above a random id's base64; the normalised form of an
 * id within it fits it too.
 */
export const ServerId = v.pipe(
  v.string('is required'),
  v.minLength(1, 'must not be empty'),
  v.maxLength(256, 'must be at most 256 characters'),
  v.regex(SERVER_ID_CHARS, 'must be base64 (standard or url-safe alphabet)'),
  v.check((id) => {
    const bare = id.replace(/=+$/, '').length;
    return bare % 4 !== 1 && (bare === id.length || id.length % 4 === 0);
  }, 'must be base64 of a whole number of bytes, with padding to a multiple of 4 characters or none'),
  v.transform(normaliseServerId),
);

/**
 * `X-Nonce`: opaque, chosen by the integrator (≥ 128 random bits, hex or base64 preferred,
 * docs/upstream/nextauth-sessions.md#x-nonce). Bound (ours): 1–512 printable ASCII characters without
 * spaces. Also what makes a repeated header (joined by API Gateway as `a,b`) fail instead of
 * forwarding a glued value: no commas.
 */
export const Nonce = v.pipe(
  v.string('the X-Nonce header is required'),
  v.minLength(1, 'must not be empty'),
  v.maxLength(512, 'must be at most 512 characters'),
  v.regex(/^[\x21-\x2b\x2d-\x7e]+$/, 'must be printable ASCII without spaces, commas or control characters'),
);

/**
 * `accountid`: path integer, no format in the spec. Digits only (no sign, no exponent), 1–18
 * characters, and (ours) a safe integer, so the number forwarded is exactly the one sent.
 * Leading zeros are accepted and dropped (`007` → 7).
 */
export const AccountId = v.pipe(
  v.string('is required'),
  v.regex(/^\d{1,18}$/, 'must be a non-negative integer of at most 18 digits'),
  v.transform(Number),
  v.safeInteger('must be at most 9007199254740991'),
);

/**
 * `userid`: "User name", a free string upstream. Bound (ours): 1–256 characters, no control
 * characters (C0, DEL, C1), no '/' (a path segment must stay one segment; percent-encoded upstream).
 */
export const UserId = v.pipe(
  v.string('is required'),
  v.minLength(1, 'must not be empty'),
  v.maxLength(256, 'must be at most 256 characters'),
  v.regex(/^[^\p{Cc}/]+$/u, 'must not contain "/" or control characters'),
  // `.` and `..` survive encodeURIComponent and a URL would resolve them as dot segments.
  v.check((id) => id !== '.' && id !== '..', 'must not be a dot segment'),
);

/** `s`: QR size in pixels, default 500 upstream. Bound (ours, the sandbox's too): 50–2000. */
export const Size = v.pipe(
  v.string(),
  v.regex(/^\d{1,4}$/, 'must be an integer from 50 to 2000'),
  v.transform(Number),
  v.minValue(50, 'must be an integer from 50 to 2000'),
  v.maxValue(2000, 'must be an integer from 50 to 2000'),
);

/** `img`: `"png"` for a PNG, absent for the raw QR bytes. Case-sensitive, as documented. */
export const Img = v.picklist(['png'], 'must be "png" or absent');

/** getQrLogin's query string. Other parameters are ignored and not forwarded. */
export const QrLoginQuery = v.object({
  img: v.optional(Img),
  s: v.optional(Size),
});
export type QrLoginQuery = v.InferOutput<typeof QrLoginQuery>;

/** RFC 4648 §4 base64 (`format: byte`), padding optional, no whitespace; `''` is valid base64. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/** Largest `logo` (ours): 256 KiB of base64 text, i.e. a 192 KiB image. */
export const MAX_LOGO_CHARS = 256 * 1024;

/**
 * SessionInfo: every field optional, none described beyond its type
 * (docs/upstream/nextauth-sessions.md#usercontext-and-sessioninfo). Bounds (ours):
 * `ip` ≤ 64 (an IPv6 with zone fits; not parsed, the spec only says string), `useragent` ≤ 1024,
 * `logo` base64 ≤ 256 KiB, `info` a JSON object of anything (bounded by the body limit). `null`
 * is not "absent": generated clients omit unset fields, so a null is a type error.
 */
export const SessionInfo = jsonObject(
  v.object({
    info: v.optional(v.custom<Record<string, unknown>>(isJsonObject, 'must be a JSON object')),
    ip: v.optional(v.pipe(v.string('must be a string'), v.maxLength(64, 'must be at most 64 characters'))),
    logo: v.optional(
      v.pipe(
        v.string('must be a string'),
        v.maxLength(MAX_LOGO_CHARS, `must be at most ${MAX_LOGO_CHARS} characters of base64`),
        v.regex(BASE64, 'must be base64 (RFC 4648, standard alphabet)'),
      ),
    ),
    useragent: v.optional(v.pipe(v.string('must be a string'), v.maxLength(1024, 'must be at most 1024 characters'))),
  }),
);
export type SessionInfo = v.InferOutput<typeof SessionInfo>;

/**
 * UserContext: `announceinfo` and `sessioninfo`, both optional SessionInfo. The spec does not say
 * how they differ; they are type-checked and forwarded, with no meaning attached
 * (docs/upstream/nextauth-sessions.md#usercontext-and-sessioninfo).
 */
export const UserContext = jsonObject(
  v.object({
    announceinfo: v.optional(SessionInfo),
    sessioninfo: v.optional(SessionInfo),
  }),
);
export type UserContext = v.InferOutput<typeof UserContext>;

/** The optional request body: absent (no body at all) or a UserContext. */
export const OptionalUserContext = v.optional(UserContext);

/**
 * Body limit of the operations that take a UserContext (ours): two logos at their bound plus
 * 64 KiB for everything else. A body over it answers 413 before parsing.
 */
export const MAX_USER_CONTEXT_BYTES = 2 * MAX_LOGO_CHARS + 64 * 1024;

/** An optional answer field that is dropped (`undefined`) when it has another type. */
const lenient = <S extends v.GenericSchema>(schema: S) => v.fallback(v.optional(schema), undefined);

/**
 * LoginStatus (the getSession answer), read loosely: the spec makes every field optional, so a
 * missing `loggedin` is false and an ill-typed optional field is dropped (the client logs which).
 * Only the documented fields are kept. A `loggedin` that is present but not a boolean is not
 * guessed at: the answer does not fit (a 502).
 */
export const LoginStatus = jsonObject(
  v.object({
    loggedin: v.optional(v.boolean(), false),
    userid: lenient(v.string()),
    accountid: lenient(v.pipe(v.number(), v.safeInteger())),
    pk: lenient(v.string()),
    canprovoke: lenient(v.boolean()),
    hsid: lenient(v.string()),
    loginqrdata: lenient(v.string()),
  }),
);
export type LoginStatus = v.InferOutput<typeof LoginStatus>;
