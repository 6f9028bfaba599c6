import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { PolicyError } from '../../directives/index.js';
import { loadPolicySources } from '../subgraphs/index.js';
import { CliError } from './fail.js';
import { matrixMarkdown, policyMatrix } from './policyMatrix.js';

function load(dir: string | undefined) {
  try {
    const sources = loadPolicySources(dir ?? process.env.SCHEMA_DIR);
    return policyMatrix(sources);
  } catch (err) {
    if (err instanceof PolicyError) throw new CliError(`Policy check failed: ${err.message}`);
    throw new CliError((err as Error).message.split('\n').join(' '));
  }
}

/** `purposegate schema check|matrix`: the fail-closed policy check and the purposes × fields matrix. */
export function schemaCommand(program: Command): void {
  const schema = program.command('schema').description('check and show the policy encoded in the SDL');
  schema
    .command('check')
    .description('check every @subject field is covered by @purpose, the subgraphs compose, and summarise')
    .option('--schema <dir>', 'policy SDL folder (default: SCHEMA_DIR or the bundled schema/)')
    .action((opts: { schema?: string }) => {
      const m = load(opts.schema);
      const lines = [`policy OK: ${m.rows.length} protected fields, ${m.purposes.length} purposes`, ''];
      lines.push(`${'purpose'.padEnd(20)} ${'allowed'.padStart(7)} ${'masked'.padStart(7)} ${'denied'.padStart(7)}`);
      for (const p of m.purposes) {
        const cells = m.rows.map((r) => r.cells[p]);
        const allow = cells.filter((c) => c === 'ALLOW').length;
        const mask = cells.filter((c) => c.startsWith('MASK')).length;
        lines.push(`${p.padEnd(20)} ${String(allow).padStart(7)} ${String(mask).padStart(7)} ${String(cells.length - allow - mask).padStart(7)}`);
      }
      process.stdout.write(lines.join('\n') + '\n');
    });
  schema
    .command('matrix')
    .description('print the purposes × fields matrix as markdown')
    .option('--schema <dir>', 'policy SDL folder')
    .option('--out <file>', 'write to a file instead of stdout')
    .action((opts: { schema?: string; out?: string }) => {
      const text = matrixMarkdown(load(opts.schema));
      if (opts.out) writeFileSync(opts.out, text);
      else process.stdout.write(text);
    });
}
