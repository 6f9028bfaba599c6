import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The gateway's Prometheus metrics, in a registry of its own. */
export interface GatewayMetrics {
  registry: Registry;
  requests: Counter<'purpose' | 'status'>;
  latency: Histogram<'purpose'>;
  decisions: Counter<'purpose' | 'effect' | 'reason'>;
  consentQueries: Counter<'subgraph'>;
  inFlight: Gauge;
}

/** Creates the metrics: requests, latency, decisions by purpose/effect/reason, consent queries. */
export function createMetrics(): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'purposegate_' });
  return {
    registry,
    requests: new Counter({
      name: 'purposegate_requests_total',
      help: 'GraphQL requests by declared purpose and HTTP status.',
      labelNames: ['purpose', 'status'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'purposegate_request_duration_seconds',
      help: 'Time from request to response.',
      labelNames: ['purpose'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    decisions: new Counter({
      name: 'purposegate_decisions_total',
      help: 'Field decisions by purpose, effect and reason.',
      labelNames: ['purpose', 'effect', 'reason'],
      registers: [registry],
    }),
    inFlight: new Gauge({ name: 'purposegate_requests_in_flight', help: 'GraphQL requests being processed.', registers: [registry] }),
    consentQueries: new Counter({
      name: 'purposegate_consent_queries_total',
      help: 'Consent store queries by subgraph (one per subgraph per request at most).',
      labelNames: ['subgraph'],
      registers: [registry],
    }),
  };
}
