import { jobHandler } from '#lib/jobs/handler';
import type { JobDefinition } from '#lib/jobs/targets';
import { logoutSession } from '#lib/upstream/nextauth';
import { expireAll } from '#lib/upstream/svix';

/**
 * SQS consumer of the logout queue (plain messages and `authgate.logout.requested` events):
 * nextAuth sessions `{serverid, nonce}` are logged out; Svix sessions `{appId, sessionIds}` are
 * expired now (expire-all with those session ids and `expiry: 0`).
 */
export const job: JobDefinition = { kind: 'logout', upstream: { expireAll, logoutSession } };

export const handler = jobHandler(job);
