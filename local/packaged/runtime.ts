import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import type { PackagedFunction } from './package.ts';

/**
 * One packaged function, running as Lambda runs it: its unzipped code loaded by the runtime's
 * handler resolution, in a container of its own.
 *
 * The container is a worker thread, not a child process: a Worker has its own module registry
 * (nothing loaded by one function is seen by another, or by this process) and its own
 * `process.env` (the `env` option: exactly the function's variables), starts in tens of
 * milliseconds, and a dozen of them cost far less memory on a small machine than a dozen Node
 * processes. What a thread does not give, and our bundles do not use: its own working directory
 * (Lambda's is /var/task), or signals. Its heap is capped at the function's MemorySize.
 */

export interface RuntimeErrorReport {
  errorType: string;
  errorMessage: string;
  trace?: string[];
}

/** An invocation that failed as Lambda reports it: `Runtime.HandlerNotFound`, `Sandbox.Timedout`, or the handler's own error. */
class FunctionError extends Error {
  readonly errorType: string;
  constructor(
    readonly functionName: string,
    report: RuntimeErrorReport,
  ) {
    super(`${functionName}: ${report.errorType}: ${report.errorMessage}`);
    this.name = 'FunctionError';
    this.errorType = report.errorType;
  }
}

export interface FunctionRuntime {
  fn: PackagedFunction;
  env: Readonly<Record<string, string>>;
  /** Resolves once the handler is loaded; rejects with the init error (a FunctionError) otherwise. */
  ready: Promise<void>;
  /** Invocations so far (tests check every function was run). */
  readonly invocations: number;
  /** The event goes in and the result comes out as JSON, as through the Lambda runtime API. */
  invoke(event: unknown, options?: { awsRequestId?: string }): Promise<unknown>;
  close(): Promise<void>;
}

export interface FunctionRuntimeOptions {
  taskRoot: string;
  env: Record<string, string>;
  /** Every line the function writes to stdout or stderr (its CloudWatch log stream). */
  onLog?: (fn: PackagedFunction, line: string) => void;
}

const WORKER = new URL('./runtime-worker.cjs', import.meta.url);

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

/** One sandbox of the function: a worker, its init, and the invocations sent to it. */
interface Container {
  worker: Worker;
  ready: Promise<void>;
  calls: Map<string, Pending>;
}

export function startFunctionRuntime(fn: PackagedFunction, options: FunctionRuntimeOptions): FunctionRuntime {
  let closed = false;
  let invocations = 0;

  const start = (): Container => {
    const worker = new Worker(WORKER, {
      workerData: { taskRoot: options.taskRoot, handler: fn.handler },
      env: { ...options.env },
      // No loader of this process (tsx) in the function's thread.
      execArgv: [],
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: fn.memoryMb },
    });
    for (const stream of [worker.stdout, worker.stderr]) {
      createInterface({ input: stream }).on('line', (line) => options.onLog?.(fn, line));
    }
    const calls = new Map<string, Pending>();
    const settle = (id: string | undefined) => {
      const call = calls.get(id ?? '');
      calls.delete(id ?? '');
      if (call) clearTimeout(call.timer);
      return call;
    };
    const ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (msg: { type: string; id?: string; result?: string; error?: RuntimeErrorReport }) => {
        if (msg.type === 'ready') return resolve();
        if (msg.type === 'init-error') return reject(new FunctionError(fn.name, msg.error as RuntimeErrorReport));
        const call = settle(msg.id);
        if (msg.type === 'result') call?.resolve(JSON.parse(msg.result ?? 'null'));
        else call?.reject(new FunctionError(fn.name, msg.error as RuntimeErrorReport));
      });
      worker.on('error', (err) => reject(new FunctionError(fn.name, { errorType: 'Runtime.ExitError', errorMessage: err.message })));
      worker.on('exit', (code) => {
        reject(new FunctionError(fn.name, { errorType: 'Runtime.ExitError', errorMessage: `exited with ${code} before init finished` }));
        for (const id of [...calls.keys()])
          settle(id)?.reject(new FunctionError(fn.name, { errorType: 'Runtime.ExitError', errorMessage: `the runtime exited with ${code}` }));
        // Lambda starts a fresh sandbox for the next invocation.
        if (container.worker === worker && !closed) container = start();
      });
    });
    // Reported by `ready` and by every invocation; never an unhandled rejection.
    ready.catch(() => undefined);
    return { worker, ready, calls };
  };

  let container = start();

  return {
    fn,
    env: options.env,
    get ready() {
      return container.ready;
    },
    get invocations() {
      return invocations;
    },
    invoke: (event, invokeOptions = {}) =>
      new Promise((resolve, reject) => {
        invocations++;
        const id = invokeOptions.awsRequestId ?? randomUUID();
        const timeoutMs = fn.timeoutSeconds * 1000;
        const target = container;
        const timer = setTimeout(() => {
          target.calls.delete(id);
          reject(new FunctionError(fn.name, { errorType: 'Sandbox.Timedout', errorMessage: `Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds` }));
          // The sandbox of a timed-out invocation is not reused: the next invocation gets a fresh one.
          if (container === target && !closed) container = start();
          void target.worker.terminate();
        }, timeoutMs);
        target.calls.set(id, { resolve, reject, timer });
        target.worker.postMessage({ id, event: JSON.stringify(event), context: { awsRequestId: id, deadline: Date.now() + timeoutMs } });
      }),
    close: async () => {
      closed = true;
      for (const call of container.calls.values()) clearTimeout(call.timer);
      await container.worker.terminate();
    },
  };
}
