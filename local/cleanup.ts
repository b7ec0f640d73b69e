import { rmSync } from 'node:fs';

/**
 * How the local scripts end: on Ctrl-C (SIGINT), `kill` (SIGTERM) or a closed terminal (SIGHUP)
 * alike, their temporary secrets file removed and the exit code the shell expects after a
 * signal, 128 + its number (130, 143, 129).
 *
 * Node runs `exit` listeners on a normal exit, `process.exit` and an uncaught error, but not on
 * a signal it has no listener for (the process just dies, the file stays), hence the listeners.
 */

/** The signals that stop a local script, with their numbers (POSIX; the same on Linux and macOS). */
const STOP_SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;
export type StopSignal = keyof typeof STOP_SIGNALS;

/**
 * Removes a temporary path (the secrets file `startGatewaySandbox` writes, with its directory)
 * when this process ends. Synchronous on purpose: `exit` listeners cannot wait for promises.
 * With `signals: true`, each stop signal also becomes that exit; a script that closes servers
 * first uses `stopOnSignals` instead.
 */
export function removeOnExit(path: string, options: { signals?: boolean } = {}): void {
  process.once('exit', () => {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch {
      // Nothing better to do while exiting; the OS temp directory is cleaned eventually.
    }
  });
  if (options.signals) stopOnSignals(async () => {});
}

/**
 * On the first stop signal, runs `stop` (close servers; at most `graceMs`), then exits with
 * 128 + the signal's number, which runs the `exit` listeners. Later signals are ignored: a
 * Ctrl-C reaches this process twice (from the terminal, and relayed by tsx).
 *
 * @example
 * stopOnSignals(async (signal) => { await server.close(); });
 */
export function stopOnSignals(stop: (signal: StopSignal) => Promise<void>, { graceMs = 5000 } = {}): void {
  let stopping = false;
  for (const signal of Object.keys(STOP_SIGNALS) as StopSignal[]) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      const code = 128 + STOP_SIGNALS[signal];
      setTimeout(() => process.exit(code), graceMs).unref();
      stop(signal).then(
        () => process.exit(code),
        () => process.exit(code),
      );
    });
  }
}
