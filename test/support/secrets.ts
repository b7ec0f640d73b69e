import { type FakeAws, fakeAws } from './fake-aws.ts';

/**
 * Secrets Manager with these secrets (id → SecretString), at the HTTP level (./fake-aws.ts).
 *
 * @example
 * const sm = mockSecrets({ 'app/key': 'value-1' });
 * expect(sm.commandCalls('GetSecretValue')).toHaveLength(1);
 */
export function mockSecrets(values: Record<string, string>): FakeAws {
  const sm = fakeAws();
  for (const [SecretId, SecretString] of Object.entries(values)) sm.on('GetSecretValue', { SecretId }).resolves({ SecretString, Name: SecretId });
  return sm;
}
