import type { Context } from 'aws-lambda';
import { lambdaContext } from '#local/events';

/**
 * The one Lambda `Context` fixture of the unit tests: local/events.ts's builder (a clock that
 * really runs down), named for the tests. `remainingMs` is what `getRemainingTimeInMillis` starts at.
 */
export function testContext(remainingMs = 10_000): Context {
  return lambdaContext({ functionName: 'authgate-unit-test', timeoutMs: remainingMs });
}

/** A `Context` whose remaining time is fixed, for asserting exact deadlines without a clock. */
export function frozenContext(remainingMs: number): Context {
  return { ...testContext(), getRemainingTimeInMillis: () => remainingMs };
}
