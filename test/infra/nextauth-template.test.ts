import { describe, expect, it } from 'vitest';
import { actionsOf, packagedTemplate, roleOf, statementsOf } from '../support/template.ts';

const template = packagedTemplate();
const NEXTAUTH_FUNCTIONS = [
  'NextauthGetQrLoginLambdaFunction',
  'NextauthGetSessionLambdaFunction',
  'NextauthLogoutLambdaFunction',
  'NextauthProvokeLoginLambdaFunction',
  'NextauthProvokeLoginOnAccountLambdaFunction',
  'NextauthProvokeLoginOnUserLambdaFunction',
];

describe('packaged template: nextAuth functions', () => {
  it.each(NEXTAUTH_FUNCTIONS)('%s may read only the nextAuth secret', (id) => {
    const secretStatements = statementsOf(roleOf(template, id)[1]).filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')));
    expect(secretStatements).toHaveLength(1);
    expect(actionsOf(secretStatements[0]!)).toEqual(['secretsmanager:GetSecretValue']);
    expect(secretStatements[0]!.Resource).toEqual({
      'Fn::Sub': 'arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:authgate/test/nextauth-??????',
    });
    const env = (template.Resources[id]!.Properties.Environment as { Variables: Record<string, string> }).Variables;
    expect(env.NEXTAUTH_SECRET_ID).toBe('authgate/test/nextauth');
    expect(env.SVIX_SECRET_ID).toBeUndefined();
  });

  it('gives the six a role each', () => {
    expect(new Set(NEXTAUTH_FUNCTIONS.map((id) => roleOf(template, id)[0])).size).toBe(6);
  });
});
