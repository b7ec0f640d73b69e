import { describe, expect, it } from 'vitest';
import { log } from '#lib/log';
import { registerSecretValue } from '#lib/redaction';
import { parsedLogs } from '../support/logs.ts';

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
});
