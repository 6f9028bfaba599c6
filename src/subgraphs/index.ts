export { SUBGRAPH_NAMES, DEFAULT_SCHEMA_DIR, loadPolicySources, subgraphPolicyHash, type PolicySources, type SubgraphName } from './loadPolicySources.js';
export { createSubgraphSchema, type Subgraph } from './createSubgraphSchema.js';
export { SubgraphExecutor, type SubgraphResult } from './SubgraphExecutor.js';
export { createSubgraphService, sendJson, type SubgraphReport, type SubgraphServiceOptions } from './createSubgraphService.js';
export { closeGracefully, startSubgraphServer, type RunningSubgraph } from './startSubgraphServer.js';
export { readBody } from './readBody.js';
export { sanitizeError } from './sanitizeError.js';
