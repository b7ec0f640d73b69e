import type { Context } from 'aws-lambda';

/**
 * How long an upstream call may still take. Every attempt is bounded by it so that a slow upstream
 * yields a 504 from us instead of a Lambda timeout with no answer at all.
 */
export interface Deadline {
  /** Milliseconds left for upstream work (already less the safety margin). */
  remainingMs(): number;
}

/**
 * The margin covers what happens after the last upstream byte: shaping the response and API
 * Gateway's own hop. 250 ms is ample for a handler whose own work is a few milliseconds.
 */
export const DEFAULT_MARGIN_MS = 250;

export function deadlineFromContext(context: Pick<Context, 'getRemainingTimeInMillis'>, marginMs = DEFAULT_MARGIN_MS): Deadline {
  return { remainingMs: () => context.getRemainingTimeInMillis() - marginMs };
}

export function deadlineIn(ms: number): Deadline {
  const end = Date.now() + ms;
  return { remainingMs: () => end - Date.now() };
}
