import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { TENANT_CLAIMS } from '#local/jwt';

/** `npm run token`, run as a developer runs it: what it prints, and what the token holds. */

const ROOT = join(import.meta.dirname, '..', '..');
const mint = (...args: string[]) => promisify(execFile)(join(ROOT, 'node_modules', '.bin', 'tsx'), ['local/token.ts', ...args], { cwd: ROOT });

describe('npm run token', () => {
  it('says on stderr that a token without tenants is refused everywhere by tenant binding', async () => {
    const { stdout, stderr } = await mint('--sub', 'A');
    expect(decodeJwt(stdout.trim())).toMatchObject({ sub: 'A', [TENANT_CLAIMS.svix]: [], [TENANT_CLAIMS.nextauth]: [] });
    expect(stderr).toContain(`no --svix-apps: claim ${TENANT_CLAIMS.svix} is empty`);
    expect(stderr).toContain(`no --nextauth-servers: claim ${TENANT_CLAIMS.nextauth} is empty`);
  });

  it('says nothing when both tenant lists are given', async () => {
    const { stdout, stderr } = await mint('--sub', 'B', '--svix-apps', 'app_1', '--nextauth-servers', 'srv');
    expect(decodeJwt(stdout.trim())).toMatchObject({ sub: 'B', [TENANT_CLAIMS.svix]: ['app_1'], [TENANT_CLAIMS.nextauth]: ['srv'] });
    expect(stderr).toBe('');
  });
});
