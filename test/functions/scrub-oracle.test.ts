import { describe, expect, it } from 'vitest';
import { handler as appPortalAccess } from '#functions/svix-app-portal-access';
import { createSvixSandbox } from '#local/sandbox/svix';
import { invoke } from '../support/invoke.ts';
import { mockSecrets } from '../support/secrets.ts';
import { useTestUpstream } from '../support/upstream.ts';

/**
 * A validation message quotes what the caller sent (`capabilities` is a list of names, and a wrong
 * one is echoed back). The response scrub must not turn that echo into a way of testing guesses of
 * our org key: whatever follows a match, the caller sees the same answer.
 */

const ORG_KEY = 'sk_oracle_Q7zP3mW9xK2vR5tY8u';
// The org key stored as JSON, whose opening (`{"token":"`) anyone can guess.
mockSecrets({ 'test/svix': JSON.stringify({ token: ORG_KEY }) });
useTestUpstream(
  () => [createSvixSandbox({ orgKey: ORG_KEY })],
  (url) => ({ SVIX_API_URL: url, SVIX_SECRET_ID: 'test/svix' }),
);

const portal = (body: unknown) =>
  invoke(appPortalAccess, { method: 'POST', rawPath: '/api/v1/auth/app-portal-access/app_demo/', pathParameters: { app_id: 'app_demo' }, body });
/** The answer to a capability that is `sent`, with the caller's own text (as JSON spells it) put aside. */
const probe = async (sent: string) => ((await portal({ capabilities: [sent] })).body ?? '').replaceAll(JSON.stringify(sent).slice(1, -1), '<echo>');

describe('an echo of the caller input near our key', () => {
  it.each([
    ['the JSON secret', `{"token":"${ORG_KEY.slice(0, 2)}`],
    ['the key itself', ORG_KEY.slice(0, 12)],
    ['the key, well past its first 12 characters', ORG_KEY.slice(0, 20)],
  ])('answers alike whatever comes next, starting from %s', async (_what, known) => {
    // The key is in use (fetched and registered), as in any warm container.
    expect((await portal({})).statusCode).toBe(200);
    const next = ORG_KEY.slice(known.replace('{"token":"', '').length);
    const right = await probe(`${known}${next.slice(0, 1)}#`);
    expect(JSON.parse(right) as unknown).toMatchObject({ detail: [{ loc: ['body', 'capabilities', 0] }] });
    for (const wrong of ['#', 'A', '0', '"', next.slice(0, 3)]) expect(await probe(`${known}${wrong}#`)).toBe(right);
    expect(right).not.toContain(ORG_KEY.slice(12, 20));
  });
});
