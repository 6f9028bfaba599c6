import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import { GraphQLError } from 'graphql';
import { CONTEXT_HEADER, mintContextToken, type IssuerKey } from '../auth/index.js';
import type { Logger } from '../logger.js';
import type { SubgraphReport } from '../subgraphs/index.js';
import type { GatewayContext } from './InProcessDataSource.js';
import { isDecisionEntry } from '../shield/index.js';
import { locateDenials } from './locateDenials.js';
import { suppressStacksThisTurn } from './suppressStacksThisTurn.js';

/** A subgraph failed to answer: its fields fail, the rest of the response is served. */
function unavailable(): GraphQLError {
  return new GraphQLError('A data source did not answer; its fields are not available.', { extensions: { code: 'SUBGRAPH_UNAVAILABLE' } });
}

/**
 * Fetches from a subgraph served by another process (`purposegate subgraph NAME`). Each fetch
 * carries a context token the gateway signs for that subgraph and that operation only; the
 * subgraph's decisions come back in `extensions.purposegate` and join the request's audit record.
 * An answer decided under another policy than the gateway's, or without a report, is refused.
 */
export class RemoteSubgraphDataSource extends RemoteGraphQLDataSource<Record<string, unknown>> {
  constructor(
    private readonly subgraph: string,
    url: string,
    private readonly options: { key: IssuerKey; policyHash: string; timeoutMs: number; logger: Logger; onConsentQueries?: (subgraph: string, n: number) => void },
  ) {
    super({
      url,
      // Node's fetch (undici, keep-alive) with a deadline: a hung subgraph fails its fields.
      fetcher: ((input: string, init: RequestInit) => fetch(input, { ...init, signal: AbortSignal.timeout(options.timeoutMs) })) as never,
    });
  }

  override async process(options: GraphQLDataSourceProcessOptions<Record<string, unknown>>): Promise<GatewayGraphQLResponse> {
    const response = await super.process(options);
    // Only an incoming operation's context carries a sink (health checks and schema loads do not).
    const sink = (options.context as Partial<GatewayContext>).denialSink;
    const cursor = 'pathInIncomingRequest' in options ? options.pathInIncomingRequest : undefined;
    return sink ? locateDenials(response, options.request.variables, cursor, sink) : response;
  }

  override async willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<Record<string, unknown>>): Promise<void> {
    const { scope } = context as unknown as GatewayContext;
    const token = await mintContextToken(
      this.options.key,
      { requestId: scope.requestId, caller: scope.caller, purpose: scope.purpose, at: scope.at, ...(scope.ref !== undefined ? { ref: scope.ref } : {}), ...(scope.actChain !== undefined ? { act: scope.actChain } : {}) },
      this.subgraph,
      { query: request.query!, variables: request.variables ?? null, operationName: request.operationName ?? null },
    );
    request.http!.headers.set(CONTEXT_HEADER, token);
  }

  override async didReceiveResponse({ response, context }: { response: GatewayGraphQLResponse; context: Record<string, unknown> }): Promise<GatewayGraphQLResponse> {
    const { scope } = context as unknown as GatewayContext;
    const report = (response.extensions as { purposegate?: SubgraphReport } | undefined)?.purposegate;
    if (!report || report.policy !== this.options.policyHash || !Array.isArray(report.decisions)) {
      this.options.logger.error({ subgraph: this.subgraph, requestId: scope.requestId, policy: report?.policy ?? null, expected: this.options.policyHash }, 'subgraph answered under another policy (or without a report): its data is refused');
      throw unavailable();
    }
    if (!report.decisions.every(isDecisionEntry) || !Number.isSafeInteger(report.consentQueries) || report.consentQueries < 0) {
      this.options.logger.error({ subgraph: this.subgraph, requestId: scope.requestId }, 'subgraph reported a malformed decision: its data is refused');
      throw unavailable();
    }
    scope.decisions.merge(report.decisions);
    if (response.errors?.length) suppressStacksThisTurn(); // the gateway wraps each one next
    if (report.consentQueries > 0) this.options.onConsentQueries?.(this.subgraph, report.consentQueries);
    const { purposegate: _report, ...rest } = response.extensions as Record<string, unknown>;
    return { ...response, extensions: rest };
  }

  override didEncounterError(error: Error): void {
    this.options.logger.warn({ subgraph: this.subgraph, err: error.message }, 'subgraph fetch failed');
    throw unavailable();
  }
}
