import * as v from 'valibot';
import { defineContract } from '../contract.ts';
import { AppId, ApplicationTokenExpireIn, AppPortalAccessIn, IdempotencyKey } from '../schemas/svix.ts';

/**
 * The four Svix Authentication operations (docs/upstream/svix-auth.md). Routes without the
 * trailing slash the seed paths have: HTTP API serves both spellings on one route.
 */

const idempotencyHeader = { 'idempotency-key': v.optional(IdempotencyKey) };
/** The app acted on, as the audit trail names it. */
const appAudit = { path: { app_id: 'appId' } } as const;
/** What the three operations on an app share: its id is the tenant, scopes the idempotency key and is audited. */
const onApp = {
  family: 'svix',
  method: 'POST',
  pathParameters: { app_id: AppId },
  headers: idempotencyHeader,
  tenant: 'app_id',
  idempotency: { target: 'app_id' },
  audit: appAudit,
} as const;

export const appPortalAccessContract = defineContract({
  ...onApp,
  operation: 'svix.app-portal-access',
  path: '/api/v1/auth/app-portal-access/{app_id}',
  body: { schema: AppPortalAccessIn, presence: 'required' },
});

/**
 * Deprecated upstream (it left the Svix API in 2025): no body (the 1.x SDK sends none), served
 * through app-portal-access with no options, as the OSS server still does.
 */
export const dashboardAccessContract = defineContract({
  ...onApp,
  operation: 'svix.dashboard-access',
  path: '/api/v1/auth/dashboard-access/{app_id}',
  successor: '/api/v1/auth/app-portal-access/{app_id}/',
});

export const expireAllContract = defineContract({
  ...onApp,
  operation: 'svix.expire-all',
  path: '/api/v1/auth/app/{app_id}/expire-all',
  body: { schema: ApplicationTokenExpireIn, presence: 'required' },
  audit: { ...appAudit, sessionIds: true },
});

/**
 * The caller's own app token is the credential, checked by Svix, so the route has no authorizer;
 * it names no app, so the audit trail records only who called (lib/audit.ts).
 */
export const logoutContract = defineContract({
  operation: 'svix.logout',
  family: 'svix',
  method: 'POST',
  path: '/api/v1/auth/logout',
  pathParameters: {},
  headers: idempotencyHeader,
  idempotency: {},
  anonymous: true,
});
