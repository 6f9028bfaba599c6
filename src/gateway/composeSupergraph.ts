import { composeServices } from '@apollo/composition';
import { parse, printSchema } from 'graphql';
import type { PolicySources } from '../subgraphs/index.js';

/** The composed supergraph: core SDL (with the composed policy directives) and the API SDL. */
export interface Supergraph {
  supergraphSdl: string;
  apiSdl: string;
}

/**
 * Composes the subgraphs with @apollo/composition. Any composition error, and any hint about
 * inconsistent directive arguments (a policy that differs between subgraphs), is fatal.
 */
export function composeSupergraph(sources: PolicySources, urls: ReadonlyMap<string, string> = new Map()): Supergraph {
  const result = composeServices(
    [...sources.subgraphs].map(([name, sdl]) => ({
      name,
      typeDefs: parse(sdl),
      url: urls.get(name) ?? `in-process://${name}`,
    })),
  );
  if (result.errors) {
    throw new Error(`The subgraphs do not compose:\n  ${result.errors.map((e) => e.message).join('\n  ')}`);
  }
  const fatalHints = result.hints.filter((h) => /INCONSISTENT.*DIRECTIVE|DIRECTIVE.*INCONSISTENT|INCONSISTENT_NON_REPEATABLE/.test(h.definition.code));
  if (fatalHints.length > 0) {
    throw new Error(`The policy differs between subgraphs:\n  ${fatalHints.map((h) => h.message).join('\n  ')}`);
  }
  return { supergraphSdl: result.supergraphSdl, apiSdl: printSchema(result.schema.toAPISchema().toGraphQLJSSchema()) };
}
