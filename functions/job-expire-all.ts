import { jobHandler } from '#lib/jobs/handler';
import type { JobDefinition } from '#lib/jobs/targets';
import { expireAll } from '#lib/upstream/svix';

/**
 * SQS consumer of the expire-all queue (plain messages and `authgate.expire-all.requested`
 * events): expires a Svix application's app-portal tokens `{appId, expiry?, sessionIds?}`.
 */
export const job: JobDefinition = { kind: 'expire-all', upstream: { expireAll } };

export const handler = jobHandler(job);
