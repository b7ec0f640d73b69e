import { type AwsCallLimits, awsJsonCall } from './call.ts';

const SECRETS_MANAGER = { name: 'secretsmanager', envId: 'SECRETS_MANAGER' } as const;

/**
 * Secrets Manager `GetSecretValue` (AWS JSON 1.1): the secret's current string value.
 *
 * @example
 * const value = await getSecretValue('prod/svix', { maxAttempts: 2, timeoutMs: 1_200 });
 */
export async function getSecretValue(secretId: string, limits: AwsCallLimits): Promise<string> {
  const out = await awsJsonCall<{ SecretString?: string }>({
    service: SECRETS_MANAGER,
    jsonVersion: '1.1',
    target: 'secretsmanager.GetSecretValue',
    input: { SecretId: secretId },
    limits,
  });
  if (out.SecretString === undefined) throw new Error('secret has no string value');
  return out.SecretString;
}
