import { randomUUID } from 'node:crypto';
import { IdempotencyKey } from './schemas/svix.ts';
import { validate } from './validation.ts';

/**
 * The caller's `idempotency-key` is forwarded as is. Without one, the gateway makes its own, once
 * per request, so its own retries of that request replay instead of repeating. Svix reserves the
 * `auto_` prefix for its client libraries; ours is `authgate_`.
 */
export function idempotencyKeyFor(headerValue: string | undefined): string {
  if (headerValue === undefined) return `authgate_${randomUUID()}`;
  return validate(IdempotencyKey, headerValue, ['header', 'idempotency-key'], 'svix');
}
