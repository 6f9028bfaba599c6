import { readPolicyMap } from '../../directives/index.js';
import { composeSupergraph } from '../gateway/index.js';
import { maskFor, purposeAllows } from '../policy/index.js';
import type { PolicySources } from '../subgraphs/index.js';
import { createSubgraphSchemaCheck } from './schemaCheck.js';

/** One row of the purposes × fields matrix. */
export interface MatrixRow {
  coordinate: string;
  cells: Record<string, 'ALLOW' | 'DENY' | `MASK:${string}`>;
}

/**
 * Checks every subgraph's policy (a @subject field without @purpose throws, naming it), composes
 * them, and returns the composed policy as a purposes × fields matrix.
 */
export function policyMatrix(sources: PolicySources): { purposes: string[]; rows: MatrixRow[] } {
  createSubgraphSchemaCheck(sources);
  const supergraph = composeSupergraph(sources);
  const policy = readPolicyMap(supergraph.supergraphSdl, sources.registry);
  const purposes = [...sources.registry.keys()];
  const rows: MatrixRow[] = [];
  for (const type of [...policy.types.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    for (const field of type.fields.values()) {
      const cells: MatrixRow['cells'] = {};
      for (const p of purposes) {
        const mask = maskFor(sources.registry, field, p);
        cells[p] = !purposeAllows(sources.registry, field, p) ? 'DENY' : mask ? `MASK:${mask}` : 'ALLOW';
      }
      rows.push({ coordinate: field.coordinate, cells });
    }
  }
  return { purposes, rows };
}

/** The matrix as a markdown table. */
export function matrixMarkdown(m: { purposes: string[]; rows: MatrixRow[] }): string {
  const head = `| field | ${m.purposes.join(' | ')} |\n| --- |${m.purposes.map(() => ' :-: |').join('')}\n`;
  const body = m.rows
    .map((r) => `| ${r.coordinate} | ${m.purposes.map((p) => (r.cells[p] === 'ALLOW' ? 'yes' : r.cells[p] === 'DENY' ? '–' : r.cells[p].slice(5))).join(' | ')} |`)
    .join('\n');
  return head + body + '\n';
}
