import { afterAll, describe, expect, it, vi } from 'vitest';

/**
 * The audit trail is written whatever LOG_LEVEL says: an operator turning the level down to cut log
 * volume must not switch off the record of who did what. The logger reads LOG_LEVEL once, at load,
 * so this file loads a fresh one with the level at `error`.
 */
afterAll(() => {
  vi.unstubAllEnvs();
});

describe('audit records at LOG_LEVEL=error', () => {
  it('are written while info lines are not', async () => {
    // Prepare
    vi.stubEnv('LOG_LEVEL', 'error');
    vi.resetModules();
    const { resetConfig } = await import('#lib/config');
    resetConfig();
    const { log, setLogSink } = await import('#lib/log');
    const { writeAudit } = await import('#lib/audit');
    const written: string[] = [];
    setLogSink((line) => written.push(line));
    // Act
    log.info('an info line');
    writeAudit({ operation: 'svix.expire-all', target: { appId: 'app_1' }, status: 204 });
    // Assess
    const lines = written.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.some((l) => l.msg === 'an info line')).toBe(false);
    expect(lines.filter((l) => l.msg === 'audit')).toEqual([expect.objectContaining({ level: 'info', operation: 'svix.expire-all', status: 204 })]);
  });
});
