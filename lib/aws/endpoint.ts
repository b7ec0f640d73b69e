import { optionalEnv } from '../config.ts';
import { ConfigError } from '../errors.ts';

/** The two AWS services the functions call, as the SDK names them. */
export interface AwsService {
  /** SigV4 signing name and endpoint prefix. */
  name: 'secretsmanager' | 'sqs';
  /** The service id in AWS_ENDPOINT_URL_<ID>. */
  envId: 'SECRETS_MANAGER' | 'SQS';
}

/** Lambda's and the SDK's own variables, read per call as lib/aws/call.ts says why. */
const truthy = (name: string) => optionalEnv(name)?.toLowerCase() === 'true';

/**
 * The region every call signs for: AWS_REGION, which Lambda always sets.
 *
 * @example
 * awsRegion(); // 'eu-west-1'
 */
export function awsRegion(): string {
  const region = optionalEnv('AWS_REGION');
  if (!region) throw new ConfigError('AWS_REGION', 'is not set');
  return region;
}

/**
 * Where a service is called, as the SDK resolves it for these two services: the configured endpoint
 * (AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL; what the local fakes use), otherwise the
 * regional endpoint `https://<service>.<region>.<partition suffix>`.
 *
 * Supported: the `aws`, `aws-us-gov` (same suffix) and `aws-cn` (`amazonaws.com.cn`) partitions.
 * Not supported, refused with the variable's name rather than silently calling a non-compliant
 * endpoint: FIPS and dual-stack endpoints (AWS_USE_FIPS_ENDPOINT, AWS_USE_DUALSTACK_ENDPOINT) and
 * the ISO partitions; set AWS_ENDPOINT_URL_<SERVICE> to the endpoint instead.
 *
 * @example
 * awsEndpoint({ name: 'secretsmanager', envId: 'SECRETS_MANAGER' }); // URL https://secretsmanager.eu-west-1.amazonaws.com/
 */
export function awsEndpoint(service: AwsService): URL | undefined {
  if (!truthy('AWS_IGNORE_CONFIGURED_ENDPOINT_URLS')) {
    const configured = optionalEnv(`AWS_ENDPOINT_URL_${service.envId}`) ?? optionalEnv('AWS_ENDPOINT_URL');
    if (configured) return new URL(configured);
  }
  for (const variable of ['AWS_USE_FIPS_ENDPOINT', 'AWS_USE_DUALSTACK_ENDPOINT']) {
    if (truthy(variable)) throw new ConfigError(variable, 'is not supported by authgate; set AWS_ENDPOINT_URL_<SERVICE> to that endpoint instead');
  }
  return undefined;
}

/**
 * The regional endpoint of `service` (no configured endpoint).
 *
 * @example
 * regionalEndpoint({ name: 'sqs', envId: 'SQS' }, 'cn-north-1'); // URL https://sqs.cn-north-1.amazonaws.com.cn/
 */
export function regionalEndpoint(service: AwsService, region: string): URL {
  if (/^[a-z]{2}-iso[a-z]*-/.test(region))
    throw new ConfigError('AWS_REGION', 'is in an ISO partition, which authgate does not resolve; set AWS_ENDPOINT_URL_<SERVICE>');
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) throw new ConfigError('AWS_REGION', 'is not an AWS region name');
  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return new URL(`https://${service.name}.${region}.${suffix}/`);
}
