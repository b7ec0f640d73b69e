import { parseArgs } from 'node:util';
import { type Outcome, runChecks } from './checks.ts';
import { StageUnreachable, stageClient, stageUrl } from './stage.ts';

/**
 * `npm run --silent smoke -- --url <stage URL> --token <JWT> [--svix-app ID] [--nextauth-server ID]
 * [--narrow-token <JWT>] [--destructive] [--timeout 10]`: checks a deployed stage right after
 * `serverless deploy` (docs/deploy.md). One line per check, exit 1 on any failure. The tokens may
 * also come from AUTHGATE_TOKEN / AUTHGATE_NARROW_TOKEN, which keeps them off the command line
 * that npm echoes (without --silent) and `ps` shows. No token, app token or magic link is ever
 * printed: no answer's body is (stage.ts, describeReply), and every line goes through `mask` too.
 */

const USAGE = `npm run --silent smoke -- --url <stage URL> --token <JWT> [options]
  --url URL               the stage URL serverless deploy printed (https://….execute-api.<region>.amazonaws.com[/stage])
  --token JWT             a token with every scope (and, with tenant binding, the app and server below); or AUTHGATE_TOKEN
  --svix-app ID           a Svix app to mint (and log out) a portal token for; without it the Svix answers are skipped
  --nextauth-server ID    a nextAuth server id (base64 or base64url) for getSession and getQrLogin; else skipped
  --narrow-token JWT      a token without the routes' scopes, for the 403 checks; or AUTHGATE_NARROW_TOKEN; else skipped
  --destructive           also call expire-all for real (only for the smoke test's own Svix session)
  --timeout S             seconds per request (default 10)
Never sends a provoke (it would ring a phone).`;

/** Masks credentials in every line before it is written. */
function masker() {
  const secrets = new Set<string>();
  return {
    /** Registers a credential (and each JWT segment of it, should something echo part of it). */
    secret(value: string | undefined): void {
      if (!value) return;
      secrets.add(value);
      for (const part of value.split('.')) if (part.length >= 16) secrets.add(part);
    },
    mask(text: string): string {
      let out = text;
      // Longest first, so a whole token is masked before its segments.
      for (const s of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join('[masked]');
      // Then any long run of token characters that is part of a secret: an echo cut short.
      return out.replace(/[\w+/.-]{12,}/g, (run) => ([...secrets].some((s) => s.includes(run)) ? '[masked]' : run));
    },
  };
}

const TAGS: Record<Outcome['result'], string> = { ok: 'ok  ', fail: 'FAIL', skip: 'skip' };

/**
 * Runs the smoke test with these arguments and environment, writing one masked line per check
 * through `write`; resolves to the exit code (0: every check passed or was skipped). Never throws.
 *
 * @example
 * process.exitCode = await smoke(process.argv.slice(2), process.env, (line) => process.stdout.write(`${line}\n`));
 */
export async function smoke(argv: string[], env: Record<string, string | undefined>, write: (line: string) => void): Promise<number> {
  const { secret, mask } = masker();
  const say = (line: string) => write(mask(line));
  const counts: Record<Outcome['result'], number> = { ok: 0, fail: 0, skip: 0 };
  const report = (outcome: Outcome) => {
    counts[outcome.result]++;
    const note = outcome.note ? (outcome.result === 'fail' ? `: ${outcome.note}` : ` (${outcome.note})`) : '';
    say(`${TAGS[outcome.result]}  ${outcome.label}${note}`);
  };
  try {
    return await run(argv, env, { say, secret, report, counts });
  } catch (err) {
    // A clear sentence, never a stack: the stage could not be reached, or something of ours broke.
    if (err instanceof StageUnreachable) say(`FAIL  stage: ${err.message}`);
    else say(`FAIL  smoke: ${err instanceof Error ? err.message : String(err)}`);
    say(`smoke: ${counts.ok} ok, ${counts.fail + 1} failed, ${counts.skip} skipped`);
    return 1;
  }
}

interface Io {
  say(line: string): void;
  secret(value: string | undefined): void;
  report(outcome: Outcome): void;
  counts: Record<Outcome['result'], number>;
}

async function run(argv: string[], env: Record<string, string | undefined>, { say, secret, report, counts }: Io): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        url: { type: 'string' },
        token: { type: 'string' },
        'narrow-token': { type: 'string' },
        'svix-app': { type: 'string' },
        'nextauth-server': { type: 'string' },
        destructive: { type: 'boolean', default: false },
        timeout: { type: 'string', default: '10' },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (err) {
    // parseArgs may quote an argument, which may be a token: every value given is masked.
    for (const arg of argv) if (!arg.startsWith('--')) secret(arg);
    say(`smoke: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    return 1;
  }
  const token = (values.token as string | undefined) ?? env.AUTHGATE_TOKEN;
  const narrowToken = (values['narrow-token'] as string | undefined) ?? env.AUTHGATE_NARROW_TOKEN;
  secret(token);
  secret(narrowToken);
  if (values.help) {
    say(USAGE);
    return 0;
  }
  const timeout = Number(values.timeout);
  if (!token || !Number.isFinite(timeout) || timeout <= 0) {
    say(`smoke: ${token ? '--timeout must be a positive number of seconds' : '--token (or AUTHGATE_TOKEN) is required'}\n${USAGE}`);
    return 1;
  }
  const url = stageUrl(values.url as string | undefined);
  say(`smoke: ${url.href}`);
  await runChecks({
    call: stageClient(url, timeout),
    token,
    ...(narrowToken ? { narrowToken } : {}),
    ...(values['svix-app'] ? { svixApp: values['svix-app'] as string } : {}),
    ...(values['nextauth-server'] ? { nextauthServer: values['nextauth-server'] as string } : {}),
    destructive: values.destructive === true,
    report,
    secret,
  });
  say(`smoke: ${counts.ok} ok, ${counts.fail} failed, ${counts.skip} skipped`);
  return counts.fail ? 1 : 0;
}
