import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Notices when the command that started this process has gone: `kill -HUP <npm's pid>` (or a
 * crash of npm) ends npm alone, since npm forwards only SIGINT and SIGTERM to its script
 * (@npmcli/run-script's signal-manager), and leaves `sh -c` and tsx and this process running,
 * reparented, with the ports open and the secrets file on disk.
 *
 * Node cannot ask the kernel for a parent-death signal (Linux's PR_SET_PDEATHSIG), and our own
 * parent (tsx, or `sh -c`) outlives npm, so the process's own parent id would not change. What
 * does change is the parent of whichever process npm started: this watch records the chain of
 * ancestors that share our process group (the shell job `npm start` is: npm, sh, tsx) and
 * polls whether each still has the parent it had. Read from /proc on Linux, from `ps` elsewhere;
 * where neither answers, there is no watch (and signals still work).
 */

interface Ancestry {
  ppid: number;
  pgid: number;
}

function fromProc(pid: number): Ancestry | undefined {
  try {
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [, ppid, pgid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(ppid), pgid: Number(pgid) };
  } catch {
    return undefined;
  }
}

function fromPs(pid: number): Ancestry | undefined {
  try {
    const [ppid, pgid] = execFileSync('ps', ['-o', 'ppid=,pgid=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .trim()
      .split(/\s+/)
      .map(Number);
    return ppid === undefined || pgid === undefined || Number.isNaN(ppid) ? undefined : { ppid, pgid };
  } catch {
    return undefined;
  }
}

const ancestryOf = (pid: number): Ancestry | undefined => fromProc(pid) ?? fromPs(pid);

/**
 * How often the watch polls by default: every second, or `ORPHAN_WATCH_INTERVAL_MS` (set low by
 * test/local/temp-secrets.test.ts, which otherwise waits on this timer).
 */
const DEFAULT_INTERVAL_MS = Number(process.env.ORPHAN_WATCH_INTERVAL_MS) || 1000;

/**
 * Calls `onOrphaned` (once) when an ancestor in this process's group has gone, polling every
 * `intervalMs`. The timer is unref'd: it never keeps the process alive on its own.
 *
 * @example
 * whenOrphaned(() => process.kill(process.pid, 'SIGHUP')); // as if the terminal had hung up
 */
export function whenOrphaned(onOrphaned: () => void, { intervalMs = DEFAULT_INTERVAL_MS } = {}): void {
  const self = ancestryOf(process.pid);
  if (!self) return;
  const chain: Array<{ pid: number; ppid: number }> = [];
  for (let pid = self.ppid; pid > 1; ) {
    const ancestry = ancestryOf(pid);
    if (!ancestry || ancestry.pgid !== self.pgid) break;
    chain.push({ pid, ppid: ancestry.ppid });
    pid = ancestry.ppid;
  }
  // Our own parent too: if it dies, we are the one reparented.
  const watched = [{ pid: process.pid, ppid: self.ppid }, ...chain];
  const timer = setInterval(() => {
    if (watched.every(({ pid, ppid }) => ancestryOf(pid)?.ppid === ppid)) return;
    clearInterval(timer);
    onOrphaned();
  }, intervalMs);
  timer.unref();
}
