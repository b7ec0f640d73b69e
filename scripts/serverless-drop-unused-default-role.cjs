'use strict';

/**
 * The framework always generates a default execution role (`IamRoleLambdaExecution`) with the
 * log and queue permissions of every function. With serverless-iam-roles-per-function each
 * function gets a role of its own and nothing references the default one, yet it would still be
 * created, holding permissions nobody should have. This removes it when, and only when, nothing
 * in the finished template (our `resources:` and their extensions merged in) names it.
 */
const DEFAULT_ROLE = 'IamRoleLambdaExecution';
const MENTION = new RegExp(`\\b${DEFAULT_ROLE}\\b`);

class DropUnusedDefaultRole {
  constructor(serverless) {
    this.serverless = serverless;
    // After the custom resources are merged, so a reference from them (a GetAtt, a Ref, a
    // `${IamRoleLambdaExecution.Arn}` inside a Fn::Sub) keeps the role.
    this.hooks = { 'after:aws:package:finalize:mergeCustomProviderResources': () => this.drop() };
  }

  drop() {
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const resources = template.Resources ?? {};
    if (!resources[DEFAULT_ROLE]) return;
    const { [DEFAULT_ROLE]: _role, ...others } = resources;
    const rest = JSON.stringify({ Resources: others, Outputs: template.Outputs ?? {}, Conditions: template.Conditions ?? {} });
    if (MENTION.test(rest)) return;
    delete resources[DEFAULT_ROLE];
  }
}

module.exports = DropUnusedDefaultRole;
