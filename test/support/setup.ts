import { afterEach, beforeEach } from 'vitest';
import { resetConfig } from '#lib/config';
import { setLogSink } from '#lib/log';

/**
 * Every test captures the gateway's log lines instead of printing them, so tests can assert on
 * them (and on what they must never contain) and the output stays readable.
 */
export const logLines: string[] = [];

beforeEach(() => {
  // Each test sets the environment it needs; the config module reads it again (lib/config.ts).
  resetConfig();
  logLines.length = 0;
  setLogSink((line) => logLines.push(line));
});

afterEach(() => {
  if (process.env.SHOW_LOGS) for (const line of logLines) process.stdout.write(`${line}\n`);
});
