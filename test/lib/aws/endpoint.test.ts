import { afterEach, describe, expect, it } from 'vitest';
import { awsEndpoint, awsRegion, regionalEndpoint } from '#lib/aws/endpoint';
import { ConfigError } from '#lib/errors';

const SM = { name: 'secretsmanager', envId: 'SECRETS_MANAGER' } as const;
const SQS = { name: 'sqs', envId: 'SQS' } as const;
const saved = { ...process.env };
afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
});
const clear = () => {
  for (const v of [
    'AWS_ENDPOINT_URL',
    'AWS_ENDPOINT_URL_SECRETS_MANAGER',
    'AWS_ENDPOINT_URL_SQS',
    'AWS_USE_FIPS_ENDPOINT',
    'AWS_USE_DUALSTACK_ENDPOINT',
    'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS',
  ])
    delete process.env[v];
};

describe('AWS endpoints, as the SDK resolves them for these two services', () => {
  it('uses the service variable first, then AWS_ENDPOINT_URL, unless configured endpoints are ignored', () => {
    clear();
    expect(awsEndpoint(SM)).toBeUndefined();
    process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:4566';
    expect(awsEndpoint(SQS)?.href).toBe('http://127.0.0.1:4566/');
    process.env.AWS_ENDPOINT_URL_SQS = 'http://127.0.0.1:9324';
    expect(awsEndpoint(SQS)?.href).toBe('http://127.0.0.1:9324/');
    expect(awsEndpoint(SM)?.href).toBe('http://127.0.0.1:4566/');
    process.env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS = 'true';
    expect(awsEndpoint(SQS)).toBeUndefined();
  });

  it.each([
    ['eu-west-1', SM, 'https://secretsmanager.eu-west-1.amazonaws.com/'],
    ['us-gov-west-1', SQS, 'https://sqs.us-gov-west-1.amazonaws.com/'],
    ['cn-northwest-1', SM, 'https://secretsmanager.cn-northwest-1.amazonaws.com.cn/'],
    ['ap-southeast-7', SQS, 'https://sqs.ap-southeast-7.amazonaws.com/'],
  ] as const)('%s: the regional endpoint of %o', (region, service, url) => {
    expect(regionalEndpoint(service, region).href).toBe(url);
  });

  it('refuses, naming the variable, what it does not resolve: FIPS, dual-stack, ISO partitions, no region', () => {
    clear();
    process.env.AWS_USE_FIPS_ENDPOINT = 'true';
    expect(() => awsEndpoint(SM)).toThrow(ConfigError);
    delete process.env.AWS_USE_FIPS_ENDPOINT;
    process.env.AWS_USE_DUALSTACK_ENDPOINT = 'TRUE';
    expect(() => awsEndpoint(SM)).toThrow(/AWS_USE_DUALSTACK_ENDPOINT/);
    expect(() => regionalEndpoint(SM, 'us-iso-east-1')).toThrow(/AWS_REGION/);
    expect(() => regionalEndpoint(SM, 'evil.example.com/x')).toThrow(ConfigError);
    delete process.env.AWS_REGION;
    expect(() => awsRegion()).toThrow(/AWS_REGION/);
  });
});
