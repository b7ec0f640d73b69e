import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '#local/routes';

/**
 * docs/audit.md's Logs Insights queries name only fields some record writes: the functions' audit
 * records (lib/audit.ts, the caller of lib/caller.ts, a job's target of lib/jobs/targets.ts, and
 * what lib/log.ts puts on every line) or the HTTP API's access log (resources/access-log.cjs). A
 * query over a field nobody writes finds nothing and says nothing about it.
 */

const source = (path: string) => readFileSync(join(PROJECT_ROOT, path), 'utf8');

/** The member names of a TypeScript type literal or interface body. */
const membersOf = (body: string) => [...body.matchAll(/^\s*(?:readonly\s+)?(\w+)\??:/gm)].map((m) => m[1]!);
const interfaceBody = (text: string, name: string) => {
  const found = text.match(new RegExp(`interface ${name} \\{([\\s\\S]*?)\\n\\}`));
  if (!found) throw new Error(`interface ${name} not found`);
  return found[1]!;
};

function functionRecordFields(): Set<string> {
  const audit = source('lib/audit.ts');
  const jobTarget = source('lib/jobs/targets.ts').match(/AuditTarget & \{([^}]*)\}/)?.[1] ?? '';
  const fields = new Set(['level', 'time', 'msg', 'family', ...membersOf(interfaceBody(audit, 'AuditRecord'))]);
  for (const member of membersOf(interfaceBody(source('lib/caller.ts'), 'Caller'))) fields.add(`caller.${member}`);
  for (const member of [...membersOf(interfaceBody(audit, 'AuditTarget')), ...[...jobTarget.matchAll(/(\w+)\??:/g)].map((m) => m[1]!)]) {
    fields.add(`target.${member}`);
  }
  return fields;
}

function accessLogFields(): Set<string> {
  const { FIELDS } = createRequire(import.meta.url)('../../resources/access-log.cjs') as { FIELDS: Record<string, unknown> };
  const paths = (object: Record<string, unknown>, prefix = ''): string[] =>
    Object.entries(object).flatMap(([name, value]) =>
      typeof value === 'object' && value !== null && !('text' in value) && !('number' in value)
        ? paths(value as Record<string, unknown>, `${prefix}${name}.`)
        : [`${prefix}${name}`],
    );
  return new Set(paths(FIELDS));
}

const KEYWORDS = new Set(['fields', 'filter', 'stats', 'sort', 'by', 'as', 'and', 'or', 'not', 'in', 'like', 'asc', 'desc', 'limit', 'display', 'dedup']);

/** The field names a query reads: identifiers that are not keywords, functions, aliases, @-fields, literals or durations. */
function fieldsOf(query: string): string[] {
  const text = query
    .replace(/"[^"]*"/g, '""')
    .replace(/\/[^/\n]*\//g, '//')
    .replace(/\b\d+[a-z]*\b/g, '0');
  const aliases = new Set([...text.matchAll(/\bas\s+(\w+)/g)].map((m) => m[1]!));
  return [...text.matchAll(/@?[A-Za-z_][\w.]*(\s*\()?/g)]
    .filter((m) => !m[0].startsWith('@') && !m[1])
    .map((m) => m[0].trim())
    .filter((word) => !KEYWORDS.has(word) && !aliases.has(word));
}

/** The code blocks without a language: the queries (the records are `json` blocks). */
const queries = [...source('docs/audit.md').matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].filter((m) => m[1] === '').map((m) => m[2]!);

describe('docs/audit.md queries', () => {
  const known = new Set([...functionRecordFields(), ...accessLogFields()]);

  it('are there, over both sources', () => {
    expect(queries.length).toBeGreaterThanOrEqual(6);
    expect(queries.some((q) => q.includes('msg = "access"'))).toBe(true);
  });

  it.each(queries.map((q) => [q.split('\n')[0]!, q]))('name only fields a record writes: %s', (_, query) => {
    expect(fieldsOf(query).filter((field) => !known.has(field))).toEqual([]);
  });

  it('the check itself catches a field nobody writes', () => {
    expect(fieldsOf('filter msg = "audit" and callerId = "x" | stats count(*) as n by place').filter((f) => !known.has(f))).toEqual(['callerId', 'place']);
  });
});
