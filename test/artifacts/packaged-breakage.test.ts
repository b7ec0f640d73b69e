import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { afterEach, describe, expect, it } from 'vitest';
import { type CfnTemplate, packagedFunctions, readTemplate, TEMPLATE_FILE } from '#local/packaged/package';
import { PROJECT_ROOT } from '#local/routes';
import { PACKAGE_DIR } from '../support/global-setup.ts';
import { type PackagedStack, startPackagedStack } from '../support/packaged-stack.ts';

/**
 * The harness must catch what would break in AWS and pass everywhere else: a wrong Handler, a
 * module the zip lacks, a variable the template does not set. Each case runs a deliberately broken
 * copy of the packaged template (or zip) and expects the failure, named as Lambda names it.
 */

const packageDir = join(PROJECT_ROOT, PACKAGE_DIR);
let stack: PackagedStack | undefined;
const tempDirs: string[] = [];
afterEach(async () => {
  await stack?.close();
  stack = undefined;
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** The packaged template with only `keep` of its functions (fewer runtimes to start), changed by `change`. */
function brokenTemplate(keep: string, change: (fn: Record<string, unknown>) => void): CfnTemplate {
  const template = structuredClone(readTemplate(packageDir));
  for (const fn of packagedFunctions(packageDir, template)) {
    if (fn.name === keep) change(template.Resources[fn.logicalId]!.Properties!);
    else delete template.Resources[fn.logicalId];
  }
  return template;
}

const logoutAs = (token: string) => fetch(`${stack!.api.url}/api/v1/auth/logout/`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });

describe('a broken artifact fails the suite, clearly', () => {
  it('a Handler naming an export the module lacks: Runtime.HandlerNotFound, and API Gateway’s 500', async () => {
    stack = await startPackagedStack({ template: brokenTemplate('svixLogout', (p) => Object.assign(p, { Handler: 'functions/svix-logout.handlr' })) });
    await expect(stack.packaged.functions.get('svixLogout')!.ready).rejects.toThrow(
      'svixLogout: Runtime.HandlerNotFound: functions/svix-logout.handlr is undefined or not exported',
    );
    const res = await logoutAs('appsk_whatever');
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ message: 'Internal Server Error' });
  });

  it('a Handler naming a file the zip lacks: Runtime.ImportModuleError', async () => {
    stack = await startPackagedStack({ template: brokenTemplate('svixLogout', (p) => Object.assign(p, { Handler: 'functions/svix-log-out.handler' })) });
    await expect(stack.packaged.functions.get('svixLogout')!.ready).rejects.toThrow(
      /svixLogout: Runtime\.ImportModuleError: Error: Cannot find module 'svix-log-out'/,
    );
  });

  it('a module the bundle requires but the zip lacks (here @middy/core, which this project has): Runtime.ImportModuleError', async () => {
    // As if esbuild had left @middy/core external: the zip's code requires it, the zip does not hold it.
    const dir = mkdtempSync(join(tmpdir(), 'authgate-broken-package-'));
    tempDirs.push(dir);
    const files = unzipSync(readFileSync(join(packageDir, 'svixLogout.zip')));
    const entry = 'functions/svix-logout.cjs';
    files[entry] = Buffer.concat([Buffer.from('require("@middy/core");\n'), Buffer.from(files[entry]!)]);
    writeFileSync(join(dir, 'svixLogout.zip'), zipSync(files));
    copyFileSync(join(packageDir, TEMPLATE_FILE), join(dir, TEMPLATE_FILE));
    expect(existsSync(join(PROJECT_ROOT, 'node_modules', '@middy', 'core', 'package.json'))).toBe(true);

    stack = await startPackagedStack({ packageDir: dir, template: brokenTemplate('svixLogout', () => undefined) });
    await expect(stack.packaged.functions.get('svixLogout')!.ready).rejects.toThrow(/Runtime\.ImportModuleError: Error: Cannot find module '@middy\/core'/);
    expect((await logoutAs('appsk_whatever')).status).toBe(500);
  });

  it('a variable the template does not set: the function answers 500 and logs which one', async () => {
    stack = await startPackagedStack({
      template: brokenTemplate('svixAppPortalAccess', (p) => {
        delete (p.Environment as { Variables: Record<string, unknown> }).Variables.SVIX_SECRET_ID;
      }),
    });
    await stack.packaged.functions.get('svixAppPortalAccess')!.ready;
    const res = await fetch(`${stack.api.url}/api/v1/auth/app-portal-access/app_demo/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.devToken}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ code: 'internal_server_error', detail: 'Internal server error.' });
    const line = stack.logs.find((l) => l.includes('configuration error'));
    expect(line).toContain('"variable":"SVIX_SECRET_ID"');
    expect(stack.packaged.fakeAws.secretReads).toEqual([]);
  });

  it('a secret the function’s role may not read: AccessDenied from Secrets Manager, and a 503', async () => {
    const template = brokenTemplate('svixAppPortalAccess', () => undefined);
    // The role grants the secret of another stage: the name the function reads is not covered.
    const statements = (
      template.Resources.SvixAppPortalAccessIamRoleLambdaExecution!.Properties!.Policies as Array<{ PolicyDocument: { Statement: unknown[] } }>
    )[0]!.PolicyDocument.Statement as Array<{ Action: string[]; Resource: { 'Fn::Sub': string } }>;
    const read = statements.find((s) => s.Action.includes('secretsmanager:GetSecretValue'))!;
    read.Resource = { 'Fn::Sub': read.Resource['Fn::Sub'].replace('authgate/test/', 'authgate/prod/') };
    stack = await startPackagedStack({ template });
    const res = await fetch(`${stack.api.url}/api/v1/auth/app-portal-access/app_demo/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.devToken}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(503);
    expect(stack.packaged.fakeAws.secretReads).toContain('authgate/test/svix');
    expect(stack.logs.find((l) => l.includes('secret unavailable'))).toContain('AccessDeniedException');
  });

  it('a variable the harness cannot resolve locally is refused at start, naming it', async () => {
    const template = brokenTemplate('jobLogout', (p) => {
      (p.Environment as { Variables: Record<string, unknown> }).Variables.DLQ_URL = { 'Fn::GetAtt': ['LogoutDeadLetterQueue', 'Arn'] };
    });
    await expect(startPackagedStack({ template })).rejects.toThrow(
      'jobLogout: cannot resolve DLQ_URL = {"Fn::GetAtt":["LogoutDeadLetterQueue","Arn"]} locally',
    );
  });
});
