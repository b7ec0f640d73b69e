import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The documentation is a README that links to rooms under docs/, and code comments that cite those
 * rooms. Every relative link (and its #anchor) must land on something in the repository, and every
 * docs/ path a comment cites must exist, so a moved or renamed page fails here and not in a reader's
 * browser.
 */

const ROOT = join(import.meta.dirname, '..', '..');

const pages = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`)
    .sort(),
];

/** Fenced blocks and inline code hold examples, not links. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, heading] of markdown.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = (heading as string)
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

function linksOf(page: string): string[] {
  const text = prose(readFileSync(join(ROOT, page), 'utf8'));
  return [...text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1] as string).filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** Problems with one link from `page`, or none. */
function problemOf(page: string, target: string): string | undefined {
  const [path = '', anchor] = target.split('#');
  const file = path === '' ? join(ROOT, page) : resolve(dirname(join(ROOT, page)), decodeURIComponent(path));
  const fromRoot = relative(ROOT, file);
  if (fromRoot.startsWith('..')) return `${target}: outside the repository`;
  if (!existsSync(file)) return `${target}: no such file (${fromRoot})`;
  if (anchor && statSync(file).isFile() && file.endsWith('.md') && !anchorsOf(readFileSync(file, 'utf8')).has(anchor)) {
    return `${target}: no heading #${anchor} in ${fromRoot}`;
  }
  return undefined;
}

/** This file names broken paths on purpose, to show the checks can fail. */
const SELF = 'test/infra/docs-links.test.ts';
const CODE_DIRS = ['functions', 'lib', 'local', 'scripts', 'test', 'resources'];
const CODE_FILE = /\.(ts|cjs|js|yml|sh|html)$/;

/** A docs/ path as code comments cite it, with its #anchor if any. */
const CITED = /(?<![\w/.])docs\/[\w-]+(?:[/.][\w-]+)*(?:#[\w-]+)?/g;

function codeFiles(dir: string): string[] {
  const full = join(ROOT, dir);
  if (!existsSync(full)) return [];
  return readdirSync(full, { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return codeFiles(path);
    return CODE_FILE.test(entry.name) ? [path] : [];
  });
}

describe('documentation links', () => {
  it('finds the README and its rooms', () => {
    expect(pages).toContain('README.md');
    expect(pages).toContain('docs/architecture.md');
    expect(pages).toContain('docs/upstream/svix-auth.md');
    expect(linksOf('README.md').length).toBeGreaterThan(10);
  });

  it.each(pages)('every relative link in %s resolves', (page) => {
    const problems = linksOf(page)
      .map((target) => problemOf(page, target))
      .filter(Boolean);
    expect(problems).toEqual([]);
  });

  it('catches a broken link and a broken anchor (the check can fail)', () => {
    expect(problemOf('README.md', 'docs/no-such-room.md')).toMatch(/no such file/);
    expect(problemOf('README.md', 'docs/architecture.md#no-such-heading')).toMatch(/no heading/);
    expect(problemOf('docs/local.md', '../../outside.md')).toMatch(/outside the repository/);
    expect(problemOf('docs/local.md', 'architecture.md')).toBeUndefined();
  });

  it('keeps the test line CI runs, in a code block of the README, and CI runs exactly that line', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/^```[a-z]*\n([\s\S]*?)^```/gm)].map((m) => m[1] as string);
    const line = blocks.flatMap((block) => block.split('\n')).find((l) => l.startsWith('npm ci && npm test'));
    expect(line).toBeDefined();
    const command = (line as string).replace(/\s+#.*$/, '').trim();
    const ci = readFileSync(join(ROOT, '.ci', 'run'), 'utf8').split('\n');
    expect(ci).toContain(command);
  });
});

describe('code comments cite what the repository holds', () => {
  const files = CODE_DIRS.flatMap(codeFiles)
    .concat('serverless.yml')
    .filter((file) => file !== SELF);

  it('scans the code', () => {
    expect(files).toContain('lib/http.ts');
    expect(files.length).toBeGreaterThan(50);
  });

  it('every cited docs/ path exists, and its #anchor if it names one', () => {
    const missing: string[] = [];
    for (const file of files) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const [cited] of text.matchAll(CITED)) {
        const problem = problemOf('README.md', cited);
        if (problem) missing.push(`${file}: ${problem}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('catches a cited anchor that is not there (the check can fail)', () => {
    const [cited] = 'see docs/jobs.md#no-such-heading.'.match(CITED) ?? [];
    expect(cited).toBe('docs/jobs.md#no-such-heading');
    expect(problemOf('README.md', cited as string)).toMatch(/no heading/);
  });

  it('points at README sections with links, not by name ("README, Jobs" cannot be checked)', () => {
    const byName = /\bREADME[,:]\s+[A-Z][a-z]+/;
    const offenders = [...files, ...pages].filter((file) => byName.test(readFileSync(join(ROOT, file), 'utf8')));
    expect(offenders).toEqual([]);
    expect(byName.test('see the README, Jobs')).toBe(true);
  });

  it('cites nothing outside it: no shared/ tree, no absolute paths, no tracker numbers', () => {
    const outside = /shared\/upstream|\.\.\/shared|\/work\/|\bissue \d+|(?<![\w&-])#\d{2,}\b/;
    const offenders = files.filter((file) => outside.test(readFileSync(join(ROOT, file), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
