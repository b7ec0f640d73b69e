/**
 * The secret values this container holds (upstream keys), and scrubbing them out of any text that
 * leaves it: log lines and responses. Field-name redaction (log.ts) cannot see inside an error
 * message or a string the upstream sent back, so every outgoing text is also scrubbed by value.
 *
 * What counts as the secret showing:
 * - the value itself, and the forms it takes inside JSON (escaped once and twice: a log line that
 *   quotes another) and inside a URL (percent-encoded: a magic link that echoes it);
 * - any long prefix of one of those forms (`PREFIX_CHARS` and more): an upstream or a proxy that
 *   echoes the key truncated still gives away most of it. From such a prefix to the end of its
 *   string everything is replaced (`scrubString`), so an echo cannot be turned into an oracle.
 * Escapes such as `\/` or `\u0073` only exist in the upstream's raw bytes; the gateway always parses
 * upstream JSON and re-serialises it, so the decoded strings are what reach the caller, and those
 * are what gets scrubbed.
 */

/** A prefix this long of a secret's form is taken as the secret showing (a key's first 12 characters are already most of a guess). */
export const PREFIX_CHARS = 12;
/** Shorter values are not registered: they would scrub noise. */
const MIN_SECRET_CHARS = 8;
export const REDACTED = '[redacted]';

const forms = new Map<string, string[]>();
/** The first `PREFIX_CHARS` characters of every form: what is searched for in every outgoing text. */
let heads: string[] = [];

function formsOf(value: string): string[] {
  const once = JSON.stringify(value).slice(1, -1);
  const twice = JSON.stringify(once).slice(1, -1);
  // A third escaping: a log line quoting one that quoted the key, as its raw text spells it.
  const thrice = JSON.stringify(twice).slice(1, -1);
  return [...new Set([value, once, twice, thrice, encodeURIComponent(value)])];
}

/** Registers a credential to be scrubbed from every later log line and response. */
export function registerSecretValue(value: string): void {
  if (value.length < MIN_SECRET_CHARS || forms.has(value)) return;
  forms.set(value, formsOf(value));
  heads = [...new Set([...forms.values()].flat().map((form) => form.slice(0, PREFIX_CHARS)))];
}

/**
 * `text` cut at the first place where any form's first `PREFIX_CHARS` characters start: everything
 * from there to the end of the string becomes `[redacted]`. Nothing after the head is shown, so
 * nothing after it can tell anyone anything: were the replacement to stop where the text stops
 * matching, a caller whose input is echoed (a validation message quoting it) could learn the key
 * one character at a time, by seeing which guess left no visible remainder; were it a fixed length,
 * what is left would give away the key's length, and a longer key sharing the head its end. What
 * followed the key in that string is lost with it: a price only paid when a key shows.
 */
function scrubString(text: string): string {
  let cut = -1;
  for (const head of heads) {
    const at = text.indexOf(head);
    if (at >= 0 && (cut < 0 || at < cut)) cut = at;
  }
  return cut < 0 ? text : text.slice(0, cut) + REDACTED;
}

/** Whether any registered form's head is in `text`: the common case, nothing, costs one search per form. */
function showsSecret(text: string): boolean {
  for (const head of heads) if (text.includes(head)) return true;
  return false;
}

/** Every string of a parsed JSON value (member names too) scrubbed. */
function scrubValue(value: unknown): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(scrubValue);
  // No prototype, so a member named `__proto__` stays a member.
  const out: Record<string, unknown> = Object.create(null);
  for (const [name, member] of Object.entries(value)) out[scrubString(name)] = scrubValue(member);
  return out;
}

/**
 * `text` without any registered secret in any of its forms. A JSON text (a response body, a log
 * line) is scrubbed string by string and serialised again, so a cut never reaches past the end of
 * a string into the JSON around it; any other text (a header) as one string.
 *
 * @example
 * registerSecretValue('sk_live_0123456789abcdef');
 * scrubSecrets('{"detail":"echo: sk_live_0123456789ab, retry"}') // → '{"detail":"echo: [redacted]"}'
 */
export function scrubSecrets(text: string): string {
  if (!showsSecret(text)) return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return scrubString(text);
  }
  try {
    return JSON.stringify(scrubValue(parsed));
  } catch {
    // Nested deeper than the stack allows: scrubbed as one string (what it hides, it hides whole).
    return scrubString(text);
  }
}

/** Forgets every registered value (tests). */
export function clearSecretValues(): void {
  forms.clear();
  heads = [];
}
