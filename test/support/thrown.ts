/**
 * What `run` throws, to assert on; fails the test when it throws nothing.
 *
 * @example
 * expect(thrown(() => setting(JOB_CONCURRENCY))).toBeInstanceOf(ConfigError);
 */
export function thrown<E = unknown>(run: () => unknown): E {
  try {
    run();
  } catch (err) {
    return err as E;
  }
  throw new Error('expected a throw');
}
