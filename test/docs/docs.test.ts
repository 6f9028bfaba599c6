import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const SECURITY = readFileSync(join(ROOT, 'SECURITY.md'), 'utf8');

/** The text of a README section, from its heading to the next heading of the same level. */
function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`No section "${heading}".`);
  const level = heading.split(' ')[0]!;
  const next = markdown.indexOf(`\n${level} `, start + heading.length + 1);
  return markdown.slice(start, next < 0 ? undefined : next);
}

/** Every (test file, test name) the threat model of SECURITY.md cites. */
function citedTests(): Array<{ file: string; name: string }> {
  const out: Array<{ file: string; name: string }> = [];
  for (const row of SECURITY.split('\n').filter((l) => l.startsWith('| ') && l.includes(' › '))) {
    const cell = row.split(' | ').at(-1)!;
    // `file` › "name", "name" (notes) ; the next `file` starts another group.
    for (const group of cell.split(/(?=`[\w/]+\.test\.ts`)/)) {
      const file = /^`([\w/]+\.test\.ts)`/.exec(group)?.[1];
      if (!file) continue;
      const names = group.slice(group.indexOf('›') + 1);
      for (const m of names.matchAll(/"([^"]+)"/g)) out.push({ file, name: m[1]! });
    }
  }
  return out;
}

/** A test file's source with its string escapes resolved, so titles read as they print. */
function sourceOf(file: string): string {
  return readFileSync(join(ROOT, 'test', file), 'utf8')
    .replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)))
    .replace(/\\'/g, "'");
}

describe('README worked examples', () => {
  it.each(['internal', 'partner', 'agent', 'auditor', 'subscriber'])('show the %s caller kind', (kind) => {
    expect(section(README, '## Worked examples')).toContain(`--kind ${kind}`);
  });

  it('include an auditor reading accessLog under AUDIT', () => {
    const auditor = section(README, '### Auditor: the access log under AUDIT');
    expect(auditor).toContain('token mint --sub dpo --kind auditor --purposes AUDIT');
    expect(auditor).toMatch(/accessLog\(filter: \{subscriberId: \\"sub-000001\\"\}, first: 2\)/);
    expect(auditor).toContain('"pageInfo":{');
  });
});

describe('SECURITY.md', () => {
  it('no longer calls remote subgraphs unbuilt, and says what their context token does not cover', () => {
    expect(SECURITY).not.toMatch(/not built/);
    expect(SECURITY).toContain('purposegate-ctx+jwt');
    expect(SECURITY).toMatch(/replayed[\s\S]{0,200}same operation/);
    expect(SECURITY).toMatch(/over TLS/);
  });

  const cited = citedTests();
  it('cites tests', () => {
    expect(cited.length).toBeGreaterThan(40);
  });

  it.each(cited)('cites $file › "$name", which exists', ({ file, name }) => {
    expect(existsSync(join(ROOT, 'test', file)), file).toBe(true);
    const source = sourceOf(file);
    const prefix = name.endsWith(' …') ? name.slice(0, -2) : name;
    // A title rendered from a table ('%s → %i %s, audited') is cited as printed: its row label is in the source.
    const rowLabel = name.includes(' → ') ? `'${name.split(' → ')[0]}'` : undefined;
    expect(source.includes(prefix) || (rowLabel !== undefined && source.includes(rowLabel)), `${file} has no test "${name}"`).toBe(true);
  });
});
