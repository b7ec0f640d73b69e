import * as v from 'valibot';
import { jsonObject } from '../validation.ts';

/**
 * Svix Authentication request schemas, with the bounds of the hosted spec
 * (`docs/upstream/svix-openapi.json`, lib spec 1.947.0). Objects drop unknown keys: the
 * upstream ignores them (serde defaults) and we forward only what we understand.
 */

const ID_PATTERN = /^[a-zA-Z0-9\-_.]+$/;
const SESSION_ID_PATTERN = /^[a-zA-Z0-9@_-]+$/;

/**
 * `app_id`: "The Application's ID or UID". The spec's pattern admits `.` and `..`, which no app
 * can be named and which a URL would resolve as dot segments, aiming the call at another path.
 */
export const AppId = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(256),
  v.regex(ID_PATTERN, 'must match ^[a-zA-Z0-9\\-_.]+$'),
  v.check((id) => id !== '.' && id !== '..', 'must not be a dot segment'),
);

const SessionId = v.pipe(v.string(), v.minLength(1), v.maxLength(64), v.regex(SESSION_ID_PATTERN, 'must match ^[a-zA-Z0-9@_-]+$'));

const unique = <T>(items: T[]) => new Set(items).size === items.length;

export const ApplicationIn = v.object({
  name: v.pipe(v.string(), v.minLength(1)),
  throttleRate: v.nullish(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65_535))),
  uid: v.nullish(v.pipe(v.string(), v.minLength(1), v.maxLength(256), v.regex(ID_PATTERN, 'must match ^[a-zA-Z0-9\\-_.]+$'))),
  metadata: v.optional(v.record(v.string(), v.string())),
});

export const AppPortalCapability = v.picklist([
  'ViewBase',
  'ViewEndpointSecret',
  'ManageEndpointSecret',
  'ManageTransformations',
  'CreateAttempts',
  'ManageEndpoint',
]);

export const AppPortalAccessIn = jsonObject(
  v.object({
    application: v.nullish(ApplicationIn),
    /** Deprecated upstream, still accepted. */
    readOnly: v.nullish(v.boolean()),
    capabilities: v.nullish(v.pipe(v.array(AppPortalCapability), v.check(unique, 'items must be unique'))),
    // The spec says minItems 1, yet its own examples send []; Svix accepts [] (we do too).
    featureFlags: v.nullish(
      v.pipe(
        v.array(v.pipe(v.string(), v.maxLength(256), v.regex(ID_PATTERN, 'must match ^[a-zA-Z0-9\\-_.]+$'))),
        v.maxLength(25),
        v.check(unique, 'items must be unique'),
      ),
    ),
    expiry: v.nullish(v.pipe(v.number(), v.integer(), v.minValue(3600), v.maxValue(604_800))),
    sessionId: v.nullish(SessionId),
  }),
);
export type AppPortalAccessIn = v.InferOutput<typeof AppPortalAccessIn>;

export const ApplicationTokenExpireIn = jsonObject(
  v.object({
    expiry: v.nullish(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(259_200))),
    sessionIds: v.optional(v.pipe(v.array(SessionId), v.maxLength(1000))),
  }),
);
export type ApplicationTokenExpireIn = v.InferOutput<typeof ApplicationTokenExpireIn>;

/** Both AppPortalAccessOut and the legacy DashboardAccessOut. */
export const PortalAccessOut = v.object({
  url: v.pipe(v.string(), v.minLength(1), v.maxLength(65_536)),
  token: v.pipe(v.string(), v.minLength(1)),
});
export type PortalAccessOut = v.InferOutput<typeof PortalAccessOut>;

/**
 * `idempotency-key`: the spec sets no bounds. The caller's key is never sent upstream as is (it is
 * one input of the key we derive, idempotency.ts), so any printable ASCII is accepted, spaces and
 * commas included; we bound it (1–256 characters, no control characters) so a header cannot carry
 * megabytes or terminal escapes into our logs. A repeated header reaches us joined by API Gateway
 * as `a,b`: that is one key in this caller's own namespace, harmless to anyone else.
 */
export const IdempotencyKey = v.pipe(v.string(), v.minLength(1), v.maxLength(256), v.regex(/^[\x20-\x7e]+$/, 'must be printable ASCII'));

/** `Authorization: Bearer <app token>` as sent to logout. */
export const BearerHeader = v.pipe(v.string(), v.regex(/^Bearer [\x21-\x7e]{1,4096}$/i, 'must be "Bearer <token>"'));
