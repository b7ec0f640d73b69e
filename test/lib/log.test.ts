import { describe, expect, it, vi } from 'vitest';
import { log } from '#lib/log';
import { registerSecretValue } from '#lib/redaction';
import { logLines, parsedLogs } from '../support/logs.ts';

describe('log redaction', () => {
  it('redacts credential-named fields at any depth it reads, and truncates deeper', () => {
    log.info('x', {
      authorization: 'Bearer abc',
      nested: { apiKey: 'k', 'x-nonce': 'n', ok: 1 },
      deep: { a: { b: { c: { d: { e: { f: { harmless: 'deep value' } } } } } } },
    });
    const [line] = parsedLogs();
    expect(line?.authorization).toBe('[redacted]');
    expect(line?.nested).toEqual({ apiKey: '[redacted]', 'x-nonce': '[redacted]', ok: 1 });
    // Deeper than redaction reads, nothing is printed at all.
    expect(JSON.stringify(line)).not.toContain('deep value');
    expect(JSON.stringify(line)).toContain('[truncated]');
  });

  it('scrubs registered secret values wherever they hide: messages, reasons, error text', () => {
    registerSecretValue('sk_live_registered_canary');
    log.error('upstream said sk_live_registered_canary is wrong', { reason: 'key=sk_live_registered_canary', error: new Error('sk_live_registered_canary') });
    const text = JSON.stringify(parsedLogs());
    expect(text).not.toContain('sk_live_registered_canary');
    expect(text).toContain('[redacted]');
  });

  it('scrubs a secret with quotes or backslashes in its JSON-escaped forms too', () => {
    registerSecretValue('sk"with\\odd"chars');
    log.error('failed', { detail: 'upstream said sk"with\\odd"chars', nested: JSON.stringify({ key: 'sk"with\\odd"chars' }) });
    expect(JSON.stringify(parsedLogs())).not.toContain('with');
  });

  it('leaves short values alone (they would scrub noise)', () => {
    registerSecretValue('abc');
    log.info('abc stays');
    expect(parsedLogs()[0]?.msg).toBe('abc stays');
  });

  it('prints an object that is not plain as its own fields only, never through its toJSON (a URL keeps its query)', () => {
    log.info('x', { where: new URL('https://upstream.example/p?session=abc123'), when: new Date(0) });
    const [line] = parsedLogs();
    expect(line?.where).toEqual({});
    expect(line?.when).toEqual({});
    expect(JSON.stringify(line)).not.toContain('abc123');
  });

  it("leaves the caller's fields as they were, redacting in a copy", () => {
    const fields = { nested: { apiKey: 'k', ok: 1 }, list: [{ token: 't' }, 2] };
    log.info('x', fields);
    expect(fields).toEqual({ nested: { apiKey: 'k', ok: 1 }, list: [{ token: 't' }, 2] });
    expect(parsedLogs()[0]).toMatchObject({ nested: { apiKey: '[redacted]', ok: 1 }, list: [{ token: '[redacted]' }, 2] });
  });
});

describe('log time', () => {
  it('is the ISO 8601 time of the line, to the millisecond', () => {
    const before = Date.now();
    log.info('a');
    log.info('b');
    const after = Date.now();
    expect(parsedLogs()).toHaveLength(2);
    for (const line of parsedLogs()) {
      expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const t = Date.parse(line.time as string);
      expect(t).toBeGreaterThanOrEqual(before);
      expect(t).toBeLessThanOrEqual(after);
    }
  });

  it.each([0, 7, 42, 999, 1000, 61_001])('writes %i ms past a second as Date would', (offset) => {
    const now = Date.UTC(2026, 10, 28, 23, 59, 59) + offset;
    vi.useFakeTimers({ now, toFake: ['Date'] });
    try {
      log.info('t');
      expect(parsedLogs().at(-1)?.time).toBe(new Date(now).toISOString());
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('lines hold no raw control character', () => {
  it('escapes what JSON.stringify leaves raw: DEL, C1 controls and the Unicode line and paragraph separators', () => {
    const hostile = 'a\u007fb\u0085c\u009bd\u2028e\u2029f\r\n\u0000\u001b[2J';
    log.info(hostile, { sub: hostile });
    log.record('info', 'audit', { caller: { sub: hostile } });

    for (const line of logLines) {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: no raw control character is the assertion
      expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
      expect(JSON.parse(line)).toMatchObject({});
    }
    expect(parsedLogs()[0]?.sub).toBe(hostile);
    expect(parsedLogs()[1]?.caller).toEqual({ sub: hostile });
  });
});
