import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runtimeVariables } from '#local/packaged/lambda-env';
import { packagedFunctions, readTemplate, TEMPLATE_FILE } from '#local/packaged/package';
import { type PackagedFunctions, startPackagedFunctions } from '#local/packaged/start';
import { PROJECT_ROOT } from '#local/routes';
import { PACKAGE_DIR } from '../support/global-setup.ts';

/**
 * The harness's own promises, checked with a probe function in place of svixLogout's bundle: the
 * function sees exactly the template's variables and the runtime's, and an invocation past the
 * template's Timeout fails as Lambda's does, the next one getting a fresh container.
 */

const PROBE = `let count = 0;
exports.handler = async (event) => {
  if (event.hang) return new Promise(() => {});
  count += 1;
  return { count, env: Object.keys(process.env).sort(), secretsSource: process.env.SECRETS_SOURCE ?? null };
};
`;

let packaged: PackagedFunctions;
let previousSecretsSource: string | undefined;
let dir = '';
const templateVariables = ['SVIX_API_URL', 'LOG_LEVEL', 'METRICS_NAMESPACE'];

beforeAll(async () => {
  const source = join(PROJECT_ROOT, PACKAGE_DIR);
  dir = mkdtempSync(join(tmpdir(), 'authgate-probe-package-'));
  writeFileSync(join(dir, 'svixLogout.zip'), zipSync({ 'functions/probe.cjs': Buffer.from(PROBE) }));
  copyFileSync(join(source, TEMPLATE_FILE), join(dir, TEMPLATE_FILE));
  const template = readTemplate(dir);
  for (const fn of packagedFunctions(dir, template)) {
    const props = template.Resources[fn.logicalId]!.Properties!;
    if (fn.name !== 'svixLogout') delete template.Resources[fn.logicalId];
    else Object.assign(props, { Handler: 'functions/probe.handler', Timeout: 1 });
  }
  // This process has the local-only variables set; none may reach a function.
  previousSecretsSource = process.env.SECRETS_SOURCE;
  process.env.SECRETS_SOURCE = 'file';
  packaged = await startPackagedFunctions({
    packageDir: dir,
    template,
    sandboxUrl: 'http://127.0.0.1:9',
    secretValues: { svix: 'k', nextauth: 'k' },
    onLog: () => undefined,
  });
});
afterAll(async () => {
  await packaged?.close();
  rmSync(dir, { recursive: true, force: true });
  if (previousSecretsSource === undefined) delete process.env.SECRETS_SOURCE;
  else process.env.SECRETS_SOURCE = previousSecretsSource;
});

describe('a packaged function’s runtime', () => {
  it('sees exactly the template’s variables, the runtime’s and the SDK endpoints, nothing of this process', async () => {
    const fn = packaged.functions.get('svixLogout')!;
    const out = (await packaged.invoke('svixLogout', {})) as { env: string[]; secretsSource: string | null };
    expect(Object.keys(fn.fn.environment).sort()).toEqual([...templateVariables].sort());
    expect(out.env).toEqual(
      [...templateVariables, ...Object.keys(runtimeVariables(fn.fn, '/var/task')), 'AWS_ENDPOINT_URL_SECRETS_MANAGER', 'AWS_ENDPOINT_URL_SQS'].sort(),
    );
    expect(out.secretsSource).toBeNull();
  });

  it('fails an invocation past the Timeout with Sandbox.Timedout, and runs the next in a fresh container', async () => {
    expect(await packaged.invoke('svixLogout', {})).toMatchObject({ count: 2 });
    await expect(packaged.invoke('svixLogout', { hang: true })).rejects.toThrow('svixLogout: Sandbox.Timedout: Task timed out after 1.00 seconds');
    expect(await packaged.invoke('svixLogout', {})).toMatchObject({ count: 1 });
  });
});
