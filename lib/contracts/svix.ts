import * as v from 'valibot';
import { defineContract } from '../contract.ts';
import { AppId, ApplicationTokenExpireIn, AppPortalAccessIn, IdempotencyKey } from '../schemas/svix.ts';

/**
 * The four Svix Authentication operations (docs/upstream/svix-auth.md). Routes without the
 * trailing slash the seed paths have: HTTP API serves both spellings on one route.
 */

const appPath = { app_id: AppId };
const idempotencyHeader = { 'idempotency-key': v.optional(IdempotencyKey) };

export const appPortalAccessContract = defineContract({
  operation: 'svix.app-portal-access',
  family: 'svix',
  method: 'POST',
  path: '/api/v1/auth/app-portal-access/{app_id}',
  pathParameters: appPath,
  headers: idempotencyHeader,
  body: { schema: AppPortalAccessIn, presence: 'required' },
  tenant: 'app_id',
  idempotency: { target: 'app_id' },
});

/** Deprecated upstream: no body (the 1.x SDK sends none), served through app-portal-access. */
export const dashboardAccessContract = defineContract({
  operation: 'svix.dashboard-access',
  family: 'svix',
  method: 'POST',
  path: '/api/v1/auth/dashboard-access/{app_id}',
  pathParameters: appPath,
  headers: idempotencyHeader,
  tenant: 'app_id',
  idempotency: { target: 'app_id' },
});

export const expireAllContract = defineContract({
  operation: 'svix.expire-all',
  family: 'svix',
  method: 'POST',
  path: '/api/v1/auth/app/{app_id}/expire-all',
  pathParameters: appPath,
  headers: idempotencyHeader,
  body: { schema: ApplicationTokenExpireIn, presence: 'required' },
  tenant: 'app_id',
  idempotency: { target: 'app_id' },
});

/**
 * The caller's own app token is the credential (checked in the handler: Svix answers a missing or
 * malformed bearer with 401, not 422), so the route has no authorizer.
 */
export const logoutContract = defineContract({
  operation: 'svix.logout',
  family: 'svix',
  method: 'POST',
  path: '/api/v1/auth/logout',
  pathParameters: {},
  // Read as is: whether it is a bearer token is the handler's 401 to give.
  headers: { ...idempotencyHeader, authorization: v.optional(v.string()) },
  idempotency: {},
  anonymous: true,
});
