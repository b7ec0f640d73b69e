import { setTimeout as sleep } from 'node:timers/promises';

/**
 * How fast one job invocation may call each upstream credential, so a large job leaves the
 * interactive callers their share of the upstream's rate limit, without any shared state.
 *
 * - The share: the stage's `jobRequestsPerSecond` (what all jobs together may send per credential)
 *   ÷ `jobMaxConcurrency` (the queue's `maximumConcurrency`, which caps concurrent invocations).
 *   Each invocation can so keep to its share alone; at full concurrency they add up to the
 *   stage's figure, and fewer invocations only send less.
 * - A schedule per credential (the Svix org key is one; each nextAuth server's key is one): calls
 *   are spaced `1 / rate` apart (a token bucket of one token, i.e. GCRA), so a batch starts smooth
 *   rather than in a burst that the interactive callers would pay for.
 * - AIMD, as TCP does it: a 429 halves that credential's rate (not below `floor`), at most once per
 *   second however many calls in flight see it, and pushes its next call past the upstream's
 *   `Retry-After`; the rate then grows back by `recoveryPerSecond` each second up to the share.
 * - A call that could not start before `latestStart` (the invocation's deadline less its start
 *   margin) is not reserved: the caller defers it, with the estimate of when it could have started.
 *
 * Written here rather than taken from a library (`bottleneck`, `p-throttle`): those pace a fixed
 * rate with no notion of a deadline to refuse against or of an upstream's 429, which are the
 * two things this needs; the schedule itself is a few lines.
 *
 * @example
 * const pacer = new Pacer({ ratePerSecond: 100 / 5 });
 * const slot = await pacer.acquire('svix', Date.now() + 20_000);
 * if (!slot.ok) deferFor(slot.retryAfterMs);
 * // … on a 429: pacer.rateLimited('svix', retryAfterMs)
 */

export interface PacingOptions {
  /** Calls per second this invocation may send per credential. `Infinity`: unpaced (a 429's Retry-After is still honoured). */
  ratePerSecond: number;
  /** The lowest rate a run of 429s brings it to. Default: a tenth of the share. */
  floorPerSecond?: number;
  /** Added back to the rate each second after a cut. Default: a tenth of the share. */
  recoveryPerSecond?: number;
  clock?: () => number;
  wait?: (ms: number) => Promise<unknown>;
}

interface Schedule {
  rate: number;
  /** When the rate was last brought up to date (recovery is counted from here). */
  at: number;
  /** The earliest time the next call may start. */
  next: number;
  /** When the rate was last cut (one cut per second at most). */
  cutAt: number;
  /** The 429s met so far: a slot reserved before the latest one is stale (`refusals`). */
  refusals: number;
}

/** Schedules kept before idle ones are forgotten: far more credentials than one stage has servers. */
const MAX_SCHEDULES = 1_000;

export type Slot = { ok: true } | { ok: false; retryAfterMs: number };

export class Pacer {
  readonly share: number;
  private readonly floor: number;
  private readonly recovery: number;
  private readonly clock: () => number;
  private readonly wait: (ms: number) => Promise<unknown>;
  private readonly schedules = new Map<string, Schedule>();

  constructor(options: PacingOptions) {
    if (!(options.ratePerSecond > 0)) throw new RangeError('ratePerSecond must be above 0 (Infinity: unpaced)');
    this.share = options.ratePerSecond;
    const tenth = Number.isFinite(this.share) ? this.share / 10 : Number.POSITIVE_INFINITY;
    this.floor = Math.min(this.share, options.floorPerSecond ?? tenth);
    this.recovery = options.recoveryPerSecond ?? tenth;
    this.clock = options.clock ?? Date.now;
    this.wait = options.wait ?? sleep;
  }

  /** How many credentials it holds a schedule for. */
  get size(): number {
    return this.schedules.size;
  }

  /** The credential's current rate, after recovery up to now. */
  rateOf(credential: string): number {
    return this.schedule(credential).rate;
  }

  /** How long from now until the credential's next slot (0: it is free now). */
  waitMs(credential: string): number {
    const s = this.schedules.get(credential);
    return s ? Math.max(0, s.next - this.clock()) : 0;
  }

  /**
   * How many 429s the credential has met. A caller that reserved a slot, then waited for something
   * else before calling, compares it with the count at its reservation: a 429 in between means the
   * slot was given at a rate the upstream has since refused, so it takes a new one.
   */
  refusals(credential: string): number {
    return this.schedules.get(credential)?.refusals ?? 0;
  }

  /**
   * Waits for the credential's next slot; refuses at once when that slot is after `latestStart`
   * (epoch ms), with how long from now it would have been.
   */
  async acquire(credential: string, latestStart: number): Promise<Slot> {
    const now = this.clock();
    const s = this.schedule(credential);
    const at = Math.max(now, s.next);
    if (at > latestStart) return { ok: false, retryAfterMs: at - now };
    s.next = at + (Number.isFinite(s.rate) ? 1000 / s.rate : 0);
    if (at > now) await this.wait(at - now);
    return { ok: true };
  }

  /** The upstream refused a call of this credential with 429 (and maybe said when to come back). */
  rateLimited(credential: string, retryAfterMs?: number): void {
    const now = this.clock();
    const s = this.schedule(credential);
    s.refusals++;
    if (Number.isFinite(s.rate) && now - s.cutAt >= 1000) {
      s.rate = Math.max(this.floor, s.rate / 2);
      s.cutAt = now;
    }
    s.next = Math.max(s.next, now + (retryAfterMs ?? 0), Number.isFinite(s.rate) ? now + 1000 / s.rate : now);
  }

  private schedule(credential: string): Schedule {
    const now = this.clock();
    let s = this.schedules.get(credential);
    if (!s) {
      if (this.schedules.size >= MAX_SCHEDULES) this.forgetIdle(now);
      s = { rate: this.share, at: now, next: now, cutAt: Number.NEGATIVE_INFINITY, refusals: 0 };
      this.schedules.set(credential, s);
    }
    s.rate = this.recovered(s, now);
    s.at = now;
    return s;
  }

  /** The schedule's rate at `now`: grown back by `recovery` a second since it was last brought up to date, never above the share. */
  private recovered(s: Schedule, now: number): number {
    return s.rate < this.share ? Math.min(this.share, s.rate + (this.recovery * (now - s.at)) / 1000) : s.rate;
  }

  /**
   * Drops the schedules a fresh one would equal: back at the full share and with no slot ahead.
   * The credentials are the messages' (a nextAuth server id per target), so without this any
   * sender could grow the map for the life of the container.
   */
  private forgetIdle(now: number): void {
    for (const [credential, s] of this.schedules) {
      if (this.recovered(s, now) >= this.share && s.next <= now) this.schedules.delete(credential);
    }
  }
}

/**
 * One invocation's share of what the jobs may send per credential (`0`: unpaced).
 *
 * @example
 * invocationShare(100, 5) // → 20
 */
export function invocationShare(jobRequestsPerSecond: number, maxConcurrency: number): number {
  return jobRequestsPerSecond > 0 ? jobRequestsPerSecond / Math.max(1, maxConcurrency) : Number.POSITIVE_INFINITY;
}
