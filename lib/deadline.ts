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

/** A class, not a closure: one is made per invocation, and a method costs nothing to create. */
class ContextDeadline implements Deadline {
  constructor(
    private readonly context: Pick<Context, 'getRemainingTimeInMillis'>,
    private readonly marginMs: number,
  ) {}

  remainingMs(): number {
    return this.context.getRemainingTimeInMillis() - this.marginMs;
  }
}

export function deadlineFromContext(context: Pick<Context, 'getRemainingTimeInMillis'>, marginMs = DEFAULT_MARGIN_MS): Deadline {
  return new ContextDeadline(context, marginMs);
}

export function deadlineIn(ms: number): Deadline {
  const end = Date.now() + ms;
  return { remainingMs: () => end - Date.now() };
}

/** The earlier of two deadlines. */
export function earliest(a: Deadline, b: Deadline): Deadline {
  return { remainingMs: () => Math.min(a.remainingMs(), b.remainingMs()) };
}
