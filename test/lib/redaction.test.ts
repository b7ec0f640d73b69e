import { afterEach, describe, expect, it } from 'vitest';
import { clearSecretValues, REDACTED, registerSecretValue, scrubSecrets, WINDOW_CHARS } from '#lib/redaction';

afterEach(() => {
  clearSecretValues();
});

describe('scrubSecrets', () => {
  it('cuts a string where the key starts: nothing after it is shown', () => {
    registerSecretValue('sk_live_0123456789abcdef');

    expect(scrubSecrets('key sk_live_0123456789abcdef and again sk_live_0123456789abcdef.')).toBe(`key ${REDACTED}`);
    expect(scrubSecrets(JSON.stringify(['a sk_live_0123456789abcdef b', 'untouched', 'c sk_live_0123456789abcdef']))).toBe(
      `["a ${REDACTED}","untouched","c ${REDACTED}"]`,
    );
  });

  it('replaces its JSON-escaped forms, escaped once and twice', () => {
    const secret = 'sk"quoted\\back';
    registerSecretValue(secret);
    const once = JSON.stringify({ key: secret });
    const twice = JSON.stringify({ line: once });

    expect(scrubSecrets(once)).toBe(`{"key":"${REDACTED}"}`);
    expect(scrubSecrets(twice)).toBe(`{"line":"{\\"key\\":\\"${REDACTED}"}`);
    // Three levels: a log line quoting one that quoted the key.
    expect(scrubSecrets(JSON.stringify({ outer: twice }))).toBe(`{"outer":"{\\"line\\":\\"{\\\\\\"key\\\\\\":\\\\\\"${REDACTED}"}`);
  });

  it('replaces its percent-encoded form (a URL that echoes it)', () => {
    const secret = 'sk/live+0123=abcd';
    registerSecretValue(secret);

    const link = `https://portal.example/#key=${encodeURIComponent(secret)}&x=1`;

    expect(scrubSecrets(link)).toBe(`https://portal.example/#key=${REDACTED}`);
  });

  it(`replaces a truncated echo of at least ${WINDOW_CHARS} characters, not a shorter one`, () => {
    const secret = 'sk_live_0123456789abcdef';
    registerSecretValue(secret);
    const long = secret.slice(0, WINDOW_CHARS);
    const short = secret.slice(0, WINDOW_CHARS - 1);

    expect(WINDOW_CHARS).toBe(12);
    // What followed a truncated echo goes too: the string is cut where the key starts.
    expect(scrubSecrets(`echo: ${long}… and the rest of the line`)).toBe(`echo: ${REDACTED}`);
    expect(scrubSecrets(`echo: ${short}…`)).toBe(`echo: ${short}…`);
    // In JSON, never past the end of the string the echo is in.
    expect(scrubSecrets(JSON.stringify({ detail: `echo: ${long}`, next: 1 }))).toBe(`{"detail":"echo: ${REDACTED}","next":1}`);
  });

  it('gives an echo nothing to test guesses against: what follows the first 12 characters never changes the output', () => {
    const secret = 'sk_live_Q7zP3mW9xK2vR5tY';
    registerSecretValue(secret);
    const known = secret.slice(0, WINDOW_CHARS);
    const answer = (guess: string) => scrubSecrets(JSON.stringify({ detail: `Invalid type: Expected "read" but received "${known}${guess}#"` }));

    const right = answer(secret.slice(WINDOW_CHARS, WINDOW_CHARS + 3));
    for (const wrong of ['A', 'zz', 'Q7x', '"', '\\', '#', '']) expect(answer(wrong)).toBe(right);
    expect(right).not.toContain(secret.slice(WINDOW_CHARS));
    expect(JSON.parse(right)).toEqual({ detail: `Invalid type: Expected "read" but received "${REDACTED}` });
  });

  it("gives away neither a key's length nor the end of a longer key that starts alike", () => {
    registerSecretValue('nak_live_v1_AAAAAAAAAAAA');
    registerSecretValue('nak_live_v1_BBBBBBBBBBBBsecretTAILsecretTAIL');
    const head = 'nak_live_v1_';

    expect(scrubSecrets('key nak_live_v1_BBBBBBBBBBBBsecretTAILsecretTAIL')).toBe(`key ${REDACTED}`);
    for (const filler of ['', '0123456789', '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ']) expect(scrubSecrets(`"${head}${filler}"`)).toBe(`"${REDACTED}"`);
    registerSecretValue('sk_live_0123456789ab/+==');
    expect(scrubSecrets(`https://x.example/?key=${encodeURIComponent('sk_live_0123456789ab/+==')}&next=1`)).toBe(`https://x.example/?key=${REDACTED}`);
  });

  it('scrubs member names too, and keeps a JSON text JSON', () => {
    const secret = 'sk_live_0123456789abcdef';
    registerSecretValue(secret);
    const text = JSON.stringify({ [`field ${secret}`]: [secret.slice(0, 14), { deep: `x${secret}y` }], __proto__: 'own' });

    const scrubbed = scrubSecrets(JSON.stringify(JSON.parse(text)));
    expect(JSON.parse(scrubbed)).toEqual({ [`field ${REDACTED}`]: [REDACTED, { deep: `x${REDACTED}` }] });
    expect(scrubbed).not.toContain('sk_live_0123');
  });

  it('ignores values shorter than 8 characters (they would scrub noise)', () => {
    registerSecretValue('abc1234');
    registerSecretValue('abcd1234');

    expect(scrubSecrets('abc1234 abcd1234')).toBe(`abc1234 ${REDACTED}`);
  });

  it('scrubs every registered value, and nothing after they are cleared', () => {
    registerSecretValue('first-secret-1');
    registerSecretValue('second-secret-2');

    expect(scrubSecrets(JSON.stringify(['first-secret-1', 'second-secret-2']))).toBe(`["${REDACTED}","${REDACTED}"]`);
    clearSecretValues();
    expect(scrubSecrets('first-secret-1')).toBe('first-secret-1');
  });

  it('cuts where any window of 12 characters starts, not only the first: a suffix, a middle, the end', () => {
    const secret = 'sk_live_Q7zP3mW9xK2vR5tY8u1nB4cD6eF0gH2j';
    registerSecretValue(secret);
    for (let at = 0; at + WINDOW_CHARS <= secret.length; at++) {
      const window = secret.slice(at, at + WINDOW_CHARS);
      expect(scrubSecrets(`echo ${window}`), window).toBe(`echo ${REDACTED}`);
    }
    expect(scrubSecrets(JSON.stringify({ detail: `tail: ${secret.slice(-28)} (truncated)`, next: 1 }))).toBe(`{"detail":"tail: ${REDACTED}","next":1}`);
    // Eleven characters are not a window: a string that merely shares a few characters stays.
    expect(scrubSecrets(`echo ${secret.slice(10, 21)}`)).toBe(`echo ${secret.slice(10, 21)}`);
  });

  it('finds a window in every spelling: \\/ and \\u escapes in part or whole, percent-encoding in either case', () => {
    const secret = 'sk/live+Q7zP3mW9/xK2vR5tY=8u1n';
    registerSecretValue(secret);
    const window = secret.slice(5, 5 + WINDOW_CHARS + 3);
    const u = (text: string, every = 1) => [...text].map((c, i) => (i % every === 0 ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : c)).join('');
    const spellings = [
      window.replaceAll('/', '\\/'),
      u(window),
      u(window, 3),
      u(window).toUpperCase().replaceAll('\\U', '\\u'),
      encodeURIComponent(window),
      encodeURIComponent(window).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
      // Escaped twice: a log line quoting a JSON text that holds the key.
      window.replaceAll('/', '\\\\/'),
      u(window).replaceAll('\\u', '\\\\u'),
      // A percent-encoded JSON escape, and a JSON escape of a percent-encoding.
      window.replaceAll('/', '%5C%2f'),
      encodeURIComponent(window).replaceAll('%', '\\u0025'),
    ];
    for (const spelt of spellings) expect(scrubSecrets(`say ${spelt} end`), spelt).toBe(`say ${REDACTED}`);
  });

  it('cuts a JSON text held in a JSON string at the key, and keeps the outer JSON whole', () => {
    const secret = 'sk_x/y_Q7zP3mW9xK2vR5tY8u';
    registerSecretValue(secret);
    const inner = JSON.stringify({ k: secret }).replaceAll('/', '\\/');
    const outer = JSON.stringify({ detail: inner, next: 1 });
    expect(outer).toContain('sk_x\\\\/y');
    expect(JSON.parse(scrubSecrets(outer))).toEqual({ detail: `{"k":"${REDACTED}`, next: 1 });
  });

  it('finds the key in base64, whatever the alignment, in either alphabet', () => {
    const secret = 'sk_live_Q7zP3mW9xK2vR5tY8u1nB4cD';
    registerSecretValue(secret);
    for (const lead of ['', 'a', 'ab']) {
      for (const alphabet of ['base64', 'base64url'] as const) {
        const encoded = Buffer.from(`${lead}${secret}`).toString(alphabet);
        // A group that mixes the lead with the key's first bytes is not the key's alone: the cut is after it.
        expect(scrubSecrets(`token=${encoded}`), `${lead} ${alphabet}`).toBe(`token=${encoded.slice(0, lead ? 4 : 0)}${REDACTED}`);
      }
    }
    // 16 base64 characters are 12 bytes of the key: a window; fewer are not.
    const middle = Buffer.from(secret.slice(3, 3 + WINDOW_CHARS)).toString('base64');
    expect(scrubSecrets(`b64 ${middle}`)).toBe(`b64 ${REDACTED}`);
    expect(scrubSecrets(`b64 ${middle.slice(0, 12)}`)).toBe(`b64 ${middle.slice(0, 12)}`);
  });

  it('gives a window in the middle of the key nothing to test guesses against either', () => {
    const secret = 'sk_live_Q7zP3mW9xK2vR5tY8u1nB4cD';
    registerSecretValue(secret);
    const known = secret.slice(9, 9 + WINDOW_CHARS);
    const answer = (guess: string) => scrubSecrets(JSON.stringify({ detail: `received "${known}${guess}#"` }));
    const right = answer(secret.slice(9 + WINDOW_CHARS, 9 + WINDOW_CHARS + 3));
    for (const wrong of ['A', 'zz', 'Q7x', '"', '\\', '%2f', '']) expect(answer(wrong)).toBe(right);
    expect(JSON.parse(right)).toEqual({ detail: `received "${REDACTED}` });
  });

  it('cuts at the earliest window when a short key shows a few characters after another key starts', () => {
    // A window of the long key starts at 1; the short key (under 12 characters, searched whole) at 8.
    registerSecretValue('ABCDEFGHIJKLMNOP');
    registerSecretValue('HIJKLzzz');

    expect(scrubSecrets('-ABCDEFGHIJKLzzz')).toBe(`-${REDACTED}`);
  });

  it('keeps a thousand keys apart at the cost of one pass per text', () => {
    const keys = Array.from({ length: 1000 }, (_, i) => `server-key-${String(i).padStart(4, '0')}-${(i * 7919).toString(36).padStart(8, 'x')}q`);
    for (const key of keys) registerSecretValue(key);
    expect(scrubSecrets(`echo ${keys[737]?.slice(4)}`)).toBe(`echo ${REDACTED}`);
    expect(scrubSecrets('nothing here but server-key-')).toBe('nothing here but server-key-');
  });

  it('leaves text without secrets unchanged', () => {
    registerSecretValue('sk_live_0123456789abcdef');

    expect(scrubSecrets('nothing to see: sk_live_ only')).toBe('nothing to see: sk_live_ only');
  });
});
