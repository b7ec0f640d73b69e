import { logLines } from './setup.ts';

export { logLines };

/** The current test's log lines, parsed. */
export const parsedLogs = (): Array<Record<string, unknown>> => logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
