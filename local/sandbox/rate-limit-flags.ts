import { parseRateLimit, type RateLimitSettings } from './rate-limit.ts';

/**
 * The sandbox rate limit from `npm start`'s flags: `--rate-limit=R` (calls per second per
 * credential) and `--rate-burst=B` (default R). Absent: no limit. Throws with the flag's name.
 *
 * @example
 * rateLimitFromArgs(['--rate-limit=20', '--rate-burst=40']) // → { rate: 20, burst: 40 }
 */
export function rateLimitFromArgs(args: readonly string[]): Required<RateLimitSettings> | undefined {
  const value = (flag: string) => args.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);
  const rate = value('--rate-limit');
  const burst = value('--rate-burst');
  if (rate === undefined) {
    if (burst !== undefined) throw new Error('--rate-burst needs --rate-limit');
    return undefined;
  }
  const parsed = parseRateLimit({ rate: Number(rate), ...(burst === undefined ? {} : { burst: Number(burst) }) });
  if (typeof parsed === 'string') throw new Error(`--rate-limit/--rate-burst: ${parsed}`);
  return parsed;
}
