/**
 * The secret values this container holds (upstream keys), and scrubbing them out of any text that
 * leaves it: log lines and responses. Field-name redaction (log.ts) cannot see inside an error
 * message or a string the upstream sent back, so every outgoing text is also scrubbed by value.
 *
 * What counts as a key showing: any `WINDOW_CHARS` consecutive characters of it (its start, its
 * middle or its end: an echo truncated or cut at either side still gives most of it away), in any
 * spelling that decodes to them:
 * - raw;
 * - JSON-escaped, any character or all of them (`\/`, `\u0073`, `\"`, `\\`), and escaped again
 *   inside a string that is itself JSON, up to `MAX_DECODINGS` levels (`\\/`, `\\u0073`, …);
 * - percent-encoded, upper or lower case (`%2F`, `%2f`), alone or mixed with the escapes above;
 * - base64 of the key's bytes, standard or URL alphabet (`BASE64_WINDOW_CHARS` characters, i.e.
 *   `WINDOW_CHARS` bytes of the key), also percent-encoded or escaped.
 * A key shorter than `WINDOW_CHARS` counts only whole. From where such a window starts to the end
 * of its string everything is replaced (`scrubString`), so an echo cannot be turned into an oracle.
 *
 * Why our own: the libraries that redact (pino's `redact`, Powertools' masking) work by field name
 * or by a pattern of a known format; none searches text for windows of a value in its encodings.
 */

/** This many consecutive characters of a key, in any spelling, are taken as the key showing. */
export const WINDOW_CHARS = 12;
/** The same `WINDOW_CHARS` bytes in base64: 4 characters for every 3 bytes. */
const BASE64_WINDOW_CHARS = 16;
/** Shorter values are not registered: they would scrub noise. */
const MIN_SECRET_CHARS = 8;
/**
 * How many layers of escaping are undone: a log line quoting one that quoted the key, inside a URL.
 * Each layer halves the backslashes, so a body of `b` bytes could at most nest log2(b) of them;
 * beyond this an echo is taken as not worth the time on every response.
 */
const MAX_DECODINGS = 6;
export const REDACTED = '[redacted]';

/**
 * How a window is found fast. Every window (12 characters, or 16 of base64) holds, whole, the
 * `GRAM` characters of the text that start at some multiple of `STEP` (a window starting at `p`
 * holds the piece at the first multiple of `STEP` from `p`, which ends at most `STEP + GRAM - 1`
 * characters after `p`). So the search reads only those pieces, 4 characters in every 9, hashes
 * each, and looks the hash up in a bit filter of every `GRAM`-character piece of every spelling of
 * every key: one array read per piece decides nearly all of them. Only on a hit are the windows that
 * could hold that piece compared. This keeps the scrub that every response and log line goes through
 * at a few microseconds per KB (docs/performance.md#the-scrub has the figures). The filter grows with the keys
 * (a secret may list a thousand servers' keys) so that it stays nearly empty: 128 KiB, at most 2 MiB.
 */
const GRAM = 4;
const STEP = WINDOW_CHARS - GRAM + 1;
const MIN_FILTER_BITS = 20;
const MAX_FILTER_BITS = 24;

const index = {
  /** log2 of the filter's size in bits. */
  bits: MIN_FILTER_BITS,
  filter: new Uint32Array(2 ** (MIN_FILTER_BITS - 5)),
  grams: new Set<string>(),
  windows: new Set<string>(),
  base64Windows: new Set<string>(),
  /** Keys shorter than a window, searched for whole. */
  short: [] as string[],
};

function gramHash(text: string, from: number, bits: number): number {
  const hash =
    Math.imul(text.charCodeAt(from), 0x01000193) ^
    Math.imul(text.charCodeAt(from + 1), 0x2c1b3c6d) ^
    Math.imul(text.charCodeAt(from + 2), 0x297a2d39) ^
    text.charCodeAt(from + 3);
  return Math.imul(hash ^ (hash >>> 15), 0x45d9f3b) >>> (32 - bits);
}

function mark(gram: string): void {
  const at = gramHash(gram, 0, index.bits);
  index.filter[at >>> 5] = (index.filter[at >>> 5] as number) | (1 << (at & 31));
}

/** Adds every `length`-character window of `spelling` to `into`, and its pieces to the filter. */
function addWindows(spelling: string, length: number, into: Set<string>): void {
  for (let i = 0; i + length <= spelling.length; i++) into.add(spelling.slice(i, i + length));
  for (let i = 0; i + GRAM <= spelling.length; i++) {
    const gram = spelling.slice(i, i + GRAM);
    if (index.grams.has(gram)) continue;
    index.grams.add(gram);
    mark(gram);
  }
  // Kept under one bit in 256 set, so that nearly every step is decided by the filter.
  if (index.grams.size << 8 > 2 ** index.bits && index.bits < MAX_FILTER_BITS) {
    index.bits += 2;
    index.filter = new Uint32Array(2 ** (index.bits - 5));
    for (const gram of index.grams) mark(gram);
  }
}

/** Where the first window starts in `text` from `from` to `to`, or -1. */
function firstWindowIn(text: string, from = 0, to = text.length): number {
  const part = from === 0 && to === text.length ? text : text.slice(from, to);
  let first = -1;
  for (const key of index.short) {
    const at = part.indexOf(key);
    if (at >= 0 && (first < 0 || at < first)) first = at;
  }
  const { filter, grams, windows, base64Windows, bits } = index;
  for (let step = 0; step + GRAM <= part.length; step += STEP) {
    // A window starting before `first` holds the piece at the first multiple of `STEP` from its start:
    // one at most `STEP - 1` past `first` (a short key found at `first` leaves those to look at).
    if (first >= 0 && step >= first + STEP) break;
    const at = gramHash(part, step, bits);
    if (((filter[at >>> 5] as number) & (1 << (at & 31))) === 0 || !grams.has(part.slice(step, step + GRAM))) continue;
    // The windows that can hold this piece whole start at most a base64 window's length before it ends.
    for (let start = Math.max(0, step + GRAM - BASE64_WINDOW_CHARS); start <= step; start++) {
      if (first >= 0 && start >= first) break;
      if (windows.has(part.slice(start, start + WINDOW_CHARS)) || base64Windows.has(part.slice(start, start + BASE64_WINDOW_CHARS))) {
        first = start;
        break;
      }
    }
  }
  return first < 0 ? -1 : from + first;
}

const registered = new Set<string>();

/**
 * The base64 spellings of `value`'s bytes wherever they sit in the encoded data: the data's 3-byte
 * groups may start at any of the key's first three bytes, and only whole groups are the key's alone.
 */
function base64Spellings(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const out: string[] = [];
  for (let start = 0; start < 3; start++) {
    const whole = bytes.subarray(start, start + Math.floor((bytes.length - start) / 3) * 3);
    out.push(whole.toString('base64'), whole.toString('base64url'));
  }
  return out;
}

/**
 * Registers a credential to be scrubbed from every later log line and response.
 *
 * @example
 * registerSecretValue(orgKey); // upstream/svix.ts, when the key is read from its secret
 */
export function registerSecretValue(value: string): void {
  if (value.length < MIN_SECRET_CHARS || registered.has(value)) return;
  registered.add(value);
  if (value.length < WINDOW_CHARS) {
    index.short.push(value);
    return;
  }
  addWindows(value, WINDOW_CHARS, index.windows);
  // Percent-encoding is undone for ASCII only (decodeOnce); a key with other characters is also
  // searched in the spelling encodeURIComponent gives it.
  const encoded = encodeURIComponent(value);
  if (encoded !== value) addWindows(encoded, WINDOW_CHARS, index.windows);
  for (const spelling of base64Spellings(value)) addWindows(spelling, BASE64_WINDOW_CHARS, index.base64Windows);
}

const SIMPLE_ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

function hexAt(text: string, from: number, digits: number): number {
  if (from + digits > text.length) return -1;
  let value = 0;
  for (let i = from; i < from + digits; i++) {
    const digit = Number.parseInt(text[i] as string, 16);
    if (Number.isNaN(digit)) return -1;
    value = value * 16 + digit;
  }
  return value;
}

/**
 * The sequence at `at` undone: a JSON escape (`\/`, `\u0073`, …) or the percent-encoding of an
 * ASCII character (either case), as [character, length of the sequence]; `undefined`: none there.
 */
function sequenceAt(text: string, at: number): [string, number] | undefined {
  if (text[at] === '%') {
    const code = hexAt(text, at + 1, 2);
    return code >= 0 && code < 0x80 ? [String.fromCharCode(code), 3] : undefined;
  }
  const next = text[at + 1] as string;
  if (next === 'u') {
    const code = hexAt(text, at + 2, 4);
    return code >= 0 ? [String.fromCharCode(code), 6] : undefined;
  }
  const simple = SIMPLE_ESCAPES[next];
  return simple === undefined ? undefined : [simple, 2];
}

/**
 * A text with one layer of escaping undone. Each undone sequence became one character, at `at[k]`;
 * the text before it was `before[k]` characters longer, the text after it `after[k]`: enough to
 * find where any character came from (`previousIndex`), kept per sequence, not per character.
 */
interface Layer {
  text: string;
  at: number[];
  before: number[];
  after: number[];
}

/** One layer undone; `undefined`: nothing to undo, the common case, found by two native searches. */
function decodeOnce(text: string): Layer | undefined {
  let backslash = text.indexOf('\\');
  let percent = text.indexOf('%');
  if (backslash < 0 && percent < 0) return undefined;
  const parts: string[] = [];
  const layer: Layer = { text: '', at: [], before: [], after: [] };
  let last = 0;
  let length = 0;
  let shrink = 0;
  while (backslash >= 0 || percent >= 0) {
    const at = backslash < 0 ? percent : percent < 0 ? backslash : Math.min(backslash, percent);
    const sequence = sequenceAt(text, at);
    let next = at + 1;
    if (sequence) {
      const [char, width] = sequence;
      parts.push(text.slice(last, at), char);
      length += at - last;
      layer.at.push(length);
      layer.before.push(shrink);
      shrink += width - 1;
      layer.after.push(shrink);
      length += 1;
      last = next = at + width;
    }
    if (backslash >= 0 && backslash < next) backslash = text.indexOf('\\', next);
    if (percent >= 0 && percent < next) percent = text.indexOf('%', next);
  }
  if (layer.at.length === 0) return undefined;
  parts.push(text.slice(last));
  layer.text = parts.join('');
  return layer;
}

/** Where the character at `index` of `layer` began in the text the layer was decoded from. */
function previousIndex(layer: Layer, index: number): number {
  const { at } = layer;
  let low = 0;
  let high = at.length - 1;
  let k = -1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if ((at[mid] as number) <= index) [k, low] = [mid, mid + 1];
    else high = mid - 1;
  }
  if (k < 0) return index;
  return index + ((at[k] === index ? layer.before[k] : layer.after[k]) as number);
}

/** The longest window, base64 ones included: how far from an undone sequence a window may start. */
const REACH = Math.max(BASE64_WINDOW_CHARS, WINDOW_CHARS);

/**
 * Where in `text` the first window of a key starts, in any spelling, or -1: the text as it is, then
 * with each layer of escaping undone. A window that no undone sequence touches was already in the
 * layer before, so a layer is only searched around its sequences (all of it when they are many).
 */
function firstShowing(text: string): number {
  let cut = firstWindowIn(text);
  const layers: Layer[] = [];
  let current = text;
  for (let depth = 0; depth < MAX_DECODINGS; depth++) {
    const layer = decodeOnce(current);
    if (!layer) break;
    layers.push(layer);
    current = layer.text;
    let found = -1;
    // The neighbourhood [from, to) of the sequences so far; none yet while `to` < 0.
    let from = 0;
    let to = -1;
    // The sequences in order, their neighbourhoods merged; the first window found is the layer's first.
    for (let k = 0; k <= layer.at.length && found < 0; k++) {
      const at = layer.at[k];
      if (at !== undefined && to >= 0 && at - REACH + 1 <= to) {
        to = Math.min(current.length, at + REACH);
        continue;
      }
      if (to >= 0) found = firstWindowIn(current, from, to);
      if (at !== undefined) [from, to] = [Math.max(0, at - REACH + 1), Math.min(current.length, at + REACH)];
    }
    if (found < 0) continue;
    for (let i = layers.length - 1; i >= 0; i--) found = previousIndex(layers[i] as Layer, found);
    if (cut < 0 || found < cut) cut = found;
  }
  return cut;
}

/**
 * `text` cut at the first place where a window of any key starts: everything from there to the end
 * of the string becomes `[redacted]`. Nothing after the window's start is shown, so nothing after
 * it can tell anyone anything: were the replacement to stop where the text stops matching, a caller
 * whose input is echoed (a validation message quoting it) could learn the key one character at a
 * time, by seeing which guess left no visible remainder; were it a fixed length, what is left would
 * give away the key's length, and a longer key sharing the window its end. What followed the key in
 * that string is lost with it: a price only paid when a key shows.
 */
function scrubString(text: string, cut = firstShowing(text)): string {
  return cut < 0 ? text : text.slice(0, cut) + REDACTED;
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
 * `text` without any registered secret in any of its spellings. A JSON text (a response body, a log
 * line) is scrubbed string by string and serialised again, so a cut never reaches past the end of
 * a string into the JSON around it; any other text (a header) as one string.
 *
 * @example
 * registerSecretValue('sk_live_0123456789abcdef');
 * scrubSecrets('{"detail":"echo: sk_live_0123456789ab, retry"}') // → '{"detail":"echo: [redacted]"}'
 */
export function scrubSecrets(text: string): string {
  if (registered.size === 0) return text;
  // Searched once: a text that is not JSON is cut where this found the key.
  const cut = firstShowing(text);
  if (cut < 0) return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return scrubString(text, cut);
  }
  try {
    return JSON.stringify(scrubValue(parsed));
  } catch {
    // Nested deeper than the stack allows: scrubbed as one string (what it hides, it hides whole).
    return scrubString(text, cut);
  }
}

/** Forgets every registered value (tests). */
export function clearSecretValues(): void {
  registered.clear();
  index.bits = MIN_FILTER_BITS;
  index.filter = new Uint32Array(2 ** (MIN_FILTER_BITS - 5));
  for (const set of [index.grams, index.windows, index.base64Windows]) set.clear();
  index.short = [];
}
