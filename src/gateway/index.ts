export { createGateway, type Gateway, type GatewayOptions } from './createGateway.js';
export { createHttpServer, storeReadiness, type Readiness } from './createHttpServer.js';
export { composeSupergraph, type Supergraph } from './composeSupergraph.js';
export type { RequestOutcome, OutcomeSink } from './RequestOutcome.js';
export { startServer, seedOnFirstStart, type RunningServer } from './startServer.js';
