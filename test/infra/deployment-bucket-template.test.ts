import { describe, expect, it } from 'vitest';
import { packagedTemplate } from '../support/template.ts';

/** The bucket the framework deploys from (serverless.yml: provider.deploymentBucket and its extensions). */

const { Resources } = packagedTemplate();
const bucket = Resources.ServerlessDeploymentBucket!.Properties;
const policy = Resources.ServerlessDeploymentBucketPolicy!.Properties as { PolicyDocument: { Statement: Array<Record<string, unknown>> } };

describe('the deployment bucket', () => {
  it('can never be made public', () => {
    expect(bucket.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
  });

  it('is versioned, and old versions and unfinished uploads expire', () => {
    expect(bucket.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    const rules = (bucket.LifecycleConfiguration as { Rules: Array<Record<string, unknown>> }).Rules;
    expect(rules.every((r) => r.Status === 'Enabled')).toBe(true);
    expect(rules).toContainEqual(expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 30 } }));
    expect(rules).toContainEqual(expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }));
  });

  it('encrypts with KMS, through a bucket key', () => {
    expect(bucket.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' }, BucketKeyEnabled: true }],
    });
  });

  it('announces writes to EventBridge', () => {
    expect(bucket.NotificationConfiguration).toEqual({ EventBridgeConfiguration: { EventBridgeEnabled: true } });
  });

  it('refuses every request without TLS, and its policy says nothing else', () => {
    expect(policy.PolicyDocument.Statement).toEqual([
      {
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: [
          { 'Fn::GetAtt': ['ServerlessDeploymentBucket', 'Arn'] },
          { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['ServerlessDeploymentBucket', 'Arn'] }, '/*']] },
        ],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ]);
  });
});
