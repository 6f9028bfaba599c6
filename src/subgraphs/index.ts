export { SUBGRAPH_NAMES, DEFAULT_SCHEMA_DIR, loadPolicySources, type PolicySources, type SubgraphName } from './loadPolicySources.js';
export { createSubgraphSchema, type Subgraph } from './createSubgraphSchema.js';
