import { afterAll, expect, vi } from 'vitest';

/**
 * The packaged files share one process (`isolate: false`, vitest.config.ts): what one file changes
 * of it, the files after it inherit. Each must leave the environment, the working directory and
 * the timers as it found them. Variables are named, never shown: their values may be secrets.
 */
const env = { ...process.env };
const cwd = process.cwd();

afterAll(() => {
  const changed = Object.keys({ ...env, ...process.env }).filter((name) => env[name] !== process.env[name]);
  expect(changed, 'process.env variables this packaged file changed and did not put back').toEqual([]);
  expect(process.cwd(), 'the working directory, changed by this packaged file').toBe(cwd);
  expect(vi.isFakeTimers(), 'fake timers this packaged file left on').toBe(false);
});
