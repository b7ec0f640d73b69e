import { afterEach, describe, expect, it } from 'vitest';
import { clearSecretValues, PREFIX_CHARS, REDACTED, registerSecretValue, scrubSecrets } from '#lib/redaction';

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

  it(`replaces a truncated echo of at least ${PREFIX_CHARS} characters, not a shorter one`, () => {
    const secret = 'sk_live_0123456789abcdef';
    registerSecretValue(secret);
    const long = secret.slice(0, PREFIX_CHARS);
    const short = secret.slice(0, PREFIX_CHARS - 1);

    expect(PREFIX_CHARS).toBe(12);
    // What followed a truncated echo goes too: the string is cut where the key starts.
    expect(scrubSecrets(`echo: ${long}… and the rest of the line`)).toBe(`echo: ${REDACTED}`);
    expect(scrubSecrets(`echo: ${short}…`)).toBe(`echo: ${short}…`);
    // In JSON, never past the end of the string the echo is in.
    expect(scrubSecrets(JSON.stringify({ detail: `echo: ${long}`, next: 1 }))).toBe(`{"detail":"echo: ${REDACTED}","next":1}`);
  });

  it('gives an echo nothing to test guesses against: what follows the first 12 characters never changes the output', () => {
    const secret = 'sk_live_Q7zP3mW9xK2vR5tY';
    registerSecretValue(secret);
    const known = secret.slice(0, PREFIX_CHARS);
    const answer = (guess: string) => scrubSecrets(JSON.stringify({ detail: `Invalid type: Expected "read" but received "${known}${guess}#"` }));

    const right = answer(secret.slice(PREFIX_CHARS, PREFIX_CHARS + 3));
    for (const wrong of ['A', 'zz', 'Q7x', '"', '\\', '#', '']) expect(answer(wrong)).toBe(right);
    expect(right).not.toContain(secret.slice(PREFIX_CHARS));
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

  it('leaves text without secrets unchanged', () => {
    registerSecretValue('sk_live_0123456789abcdef');

    expect(scrubSecrets('nothing to see: sk_live_ only')).toBe('nothing to see: sk_live_ only');
  });
});
