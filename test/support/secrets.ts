import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';

/** Secrets Manager through aws-sdk-client-mock: the real client, a fake AWS behind it. */
export function mockSecrets(values: Record<string, string>) {
  const sm = mockClient(SecretsManagerClient);
  for (const [SecretId, SecretString] of Object.entries(values)) {
    sm.on(GetSecretValueCommand, { SecretId }).resolves({ SecretString, Name: SecretId });
  }
  return sm;
}
