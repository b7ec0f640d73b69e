'use strict';

/**
 * Puts the stage's customer KMS key (`custom.logKmsKeyArn`, from the stage parameter
 * logKmsKeyArn) on every AWS::Logs::LogGroup of the finished template: the functions' groups,
 * which osls generates and offers no setting for, the HTTP API's access log group, and any group
 * added later, so none can be left out (Control Tower CT.CLOUDWATCH.PR.3). Empty = nothing set,
 * and CloudWatch Logs encrypts with keys of its own. A literal ARN rather than an Fn::If, so that
 * static checks of the template see the key.
 */
class LogGroupKms {
  constructor(serverless) {
    this.serverless = serverless;
    // After the custom resources are merged, so groups declared in `resources:` get the key too.
    this.hooks = { 'after:aws:package:finalize:mergeCustomProviderResources': () => this.encrypt() };
  }

  encrypt() {
    const key = this.serverless.service.custom?.logKmsKeyArn;
    if (typeof key !== 'string' || key === '') return;
    const resources = this.serverless.service.provider.compiledCloudFormationTemplate.Resources ?? {};
    for (const resource of Object.values(resources)) {
      if (resource.Type !== 'AWS::Logs::LogGroup') continue;
      resource.Properties = { ...resource.Properties, KmsKeyId: key };
    }
  }
}

module.exports = LogGroupKms;
