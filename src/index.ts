// The public API of purposegate as a library. Add exports here with intention: what is named
// here is what an operator's own code (a custom server, a test of their policy) may rely on.
export { parseConfig, mergeConfigSources, CONFIG_VARIABLES, ConfigError, type Config, type Limits } from './config.js';
export { ErrorCode, RequestRejection } from './errors.js';
export { startServer, createGateway, type RunningServer, type Gateway, type GatewayOptions, type RequestOutcome } from './gateway/index.js';
export { startSubgraphServer, loadPolicySources, SUBGRAPH_NAMES, type RunningSubgraph, type SubgraphName, type PolicySources } from './subgraphs/index.js';
export { decide, type Decision, type DecideInput, type Caller, type PurposeRegistry } from './policy/index.js';
export { mintToken, createTokenVerifier, type MintClaims, type VerifiedToken } from './auth/index.js';
