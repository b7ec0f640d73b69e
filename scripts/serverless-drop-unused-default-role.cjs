'use strict';

/**
 * The framework always generates a default execution role (`IamRoleLambdaExecution`) with the
 * log and queue permissions of every function. With serverless-iam-roles-per-function each
 * function gets a role of its own and nothing references the default one, yet it would still be
 * created, holding permissions nobody should have. This removes it when, and only when, no
 * resource in the compiled template refers to it.
 */
const DEFAULT_ROLE = 'IamRoleLambdaExecution';

class DropUnusedDefaultRole {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:package:finalize': () => this.drop() };
  }

  drop() {
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const resources = template.Resources ?? {};
    if (!resources[DEFAULT_ROLE]) return;
    const others = { ...resources };
    delete others[DEFAULT_ROLE];
    const text = JSON.stringify({ Resources: others, Outputs: template.Outputs ?? {} });
    if (text.includes(`"${DEFAULT_ROLE}"`)) return;
    delete resources[DEFAULT_ROLE];
  }
}

module.exports = DropUnusedDefaultRole;
