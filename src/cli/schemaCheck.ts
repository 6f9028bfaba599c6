import { readPolicyMap } from '../../directives/index.js';
import type { PolicySources } from '../subgraphs/index.js';

/** Reads every subgraph's policy map, so an uncovered @subject field fails here as at start-up. */
export function createSubgraphSchemaCheck(sources: PolicySources): void {
  for (const sdl of sources.subgraphs.values()) readPolicyMap(sdl, sources.registry);
}
