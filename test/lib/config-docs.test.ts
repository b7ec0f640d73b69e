import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as config from '#lib/config';

/**
 * lib/config.ts lists every variable the shipped code reads; docs/configuration.md's table is what an
 * operator reads. Both must name the same variables, and nothing shipped may read the environment
 * around the config module.
 */

const ROOT = join(import.meta.dirname, '..', '..');

/** The variables named in the first column of the table under "## Environment variables". */
function documentedVariables(): string[] {
  const page = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');
  const section = page.slice(page.indexOf('## Environment variables'));
  const lines = section.split('\n');
  const start = lines.findIndex((line) => line.startsWith('|'));
  const end = lines.findIndex((line, i) => i > start && !line.startsWith('|'));
  const rows = lines.slice(start + 2, end);
  return rows.flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`([A-Z0-9_]+)`/g)].map((m) => m[1] ?? ''));
}

/** The variables lib/config.ts exports, each under its own name. */
function moduleVariables(): string[] {
  return Object.entries(config).flatMap(([exported, value]) => {
    if (typeof value !== 'object' || value === null || !('parse' in value) || !('name' in value)) return [];
    expect(value.name, exported).toBe(exported);
    return [exported];
  });
}

/** The parameters named in the first column of the table under "## Stage parameters". */
function documentedParameters(): string[] {
  const page = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');
  const lines = page.slice(page.indexOf('## Stage parameters')).split('\n');
  const start = lines.findIndex((line) => line.startsWith('|'));
  const end = lines.findIndex((line, i) => i > start && !line.startsWith('|'));
  return lines.slice(start + 2, end).flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`(\w+)`/g)].map((m) => m[1] ?? ''));
}

/** Every stage parameter serverless.yml (and the resource files it includes) reads or defaults. */
function serverlessParameters(): string[] {
  const files = ['serverless.yml', ...readdirSync(join(ROOT, 'resources')).map((name) => join('resources', name))];
  const names = new Set<string>();
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const [, name] of text.matchAll(/(?:\$\{param:|resolveVariable\('param:)(\w+)/g)) names.add(name as string);
  }
  return [...names];
}

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => join(dir, name));
}

describe('configuration', () => {
  it('docs/configuration.md lists exactly the variables of lib/config.ts', () => {
    const documented = documentedVariables();

    expect(documented.length).toBeGreaterThan(0);
    expect([...documented].sort()).toEqual(moduleVariables().sort());
  });

  it('docs/configuration.md lists exactly the stage parameters serverless.yml reads (the one table of them)', () => {
    const read = serverlessParameters();
    expect(read).toContain('jwtIssuerUrl');
    expect([...new Set(documentedParameters())].sort()).toEqual(read.sort());
  });

  it('no shipped module but lib/config.ts reads process.env', () => {
    const readers = [...sources('lib'), ...sources('functions')].filter(
      (file) => file !== join('lib', 'config.ts') && readFileSync(join(ROOT, file), 'utf8').includes('process.env'),
    );

    expect(readers).toEqual([]);
  });
});
