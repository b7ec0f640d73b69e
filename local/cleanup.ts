import { rmSync } from 'node:fs';

/**
 * Removes a temporary path (the secrets file `startGatewaySandbox` writes, with its directory)
 * when this process ends: a normal exit, `process.exit`, an uncaught error, or a signal.
 *
 * Node runs `exit` listeners on the first three but not on a signal it has no listener for
 * (SIGINT/SIGTERM/SIGHUP just kill the process), so with `signals: true` those become an exit
 * with the conventional 128 + signal number, which runs the cleanup. A script that handles its
 * own signals and then calls `process.exit` (as `npm start` does) leaves `signals` off.
 * Synchronous on purpose: `exit` listeners cannot wait for promises.
 */
export function removeOnExit(path: string, options: { signals?: boolean } = {}): void {
  process.once('exit', () => {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch {
      // Nothing better to do while exiting; the OS temp directory is cleaned eventually.
    }
  });
  if (!options.signals) return;
  for (const [signal, number] of [
    ['SIGINT', 2],
    ['SIGTERM', 15],
    ['SIGHUP', 1],
  ] as const) {
    process.once(signal, () => process.exit(128 + number));
  }
}
