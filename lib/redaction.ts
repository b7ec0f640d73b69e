/**
 * The secret values this container holds (upstream keys), and scrubbing them out of any text that
 * leaves it: log lines and responses. Field-name redaction (log.ts) cannot see inside an error
 * message or a string the upstream sent back, so every outgoing text is also scrubbed by value.
 *
 * What counts as the secret showing:
 * - the value itself, and the forms it takes inside JSON (escaped once and twice: a log line that
 *   quotes another) and inside a URL (percent-encoded: a magic link that echoes it);
 * - any long prefix of one of those forms (`PREFIX_CHARS` and more): an upstream or a proxy that
 *   echoes the key truncated still gives away most of it.
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

function formsOf(value: string): string[] {
  const once = JSON.stringify(value).slice(1, -1);
  const twice = JSON.stringify(once).slice(1, -1);
  return [...new Set([value, once, twice, encodeURIComponent(value)])];
}

/** Registers a credential to be scrubbed from every later log line and response. */
export function registerSecretValue(value: string): void {
  if (value.length < MIN_SECRET_CHARS || forms.has(value)) return;
  forms.set(value, formsOf(value));
}

/** Replaces every occurrence of `form`, or of a prefix of it at least `PREFIX_CHARS` long, in `text`. */
function scrubForm(text: string, form: string): string {
  const head = form.slice(0, Math.min(form.length, PREFIX_CHARS));
  let at = text.indexOf(head);
  if (at < 0) return text;
  let out = '';
  let from = 0;
  while (at >= 0) {
    let end = at + head.length;
    while (end - at < form.length && text[end] === form[end - at]) end++;
    out += text.slice(from, at) + REDACTED;
    from = end;
    at = text.indexOf(head, end);
  }
  return out + text.slice(from);
}

/**
 * `text` without any registered secret in any of its forms.
 *
 * @example
 * registerSecretValue('sk_live_0123456789abcdef');
 * scrubSecrets('echo: sk_live_0123456789ab…') // → 'echo: [redacted]…'
 */
export function scrubSecrets(text: string): string {
  let out = text;
  for (const list of forms.values()) for (const form of list) out = scrubForm(out, form);
  return out;
}

/** Forgets every registered value (tests). */
export function clearSecretValues(): void {
  forms.clear();
}
