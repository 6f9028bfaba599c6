import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import type { GraphQLSchema } from 'graphql';
import type { Db } from '../db/index.js';
import { SubjectLoader } from '../consent/index.js';
import type { EnforcementContext, RequestScope } from '../shield/index.js';
import { SubgraphExecutor } from '../subgraphs/index.js';
import { locateDenials, type DenialSink } from './locateDenials.js';
import { suppressStacksThisTurn } from './suppressStacksThisTurn.js';

/** What the gateway's context holds for the subgraphs. */
export interface GatewayContext {
  scope: RequestScope;
  /** Records the request's outcome in the audit log; set by the gateway, called once. */
  audit?: (decisions: RequestScope['decisions']) => Promise<{ recordId: string } | undefined>;
  /** Enforcement contexts of this request by subgraph. */
  subgraphContexts: Map<string, EnforcementContext>;
  /**
   * The request's subject loader, shared by the in-process subgraphs: same store, same decision
   * time, so one consent query serves them all (a remote subgraph has its own).
   */
  subjects?: SubjectLoader;
  /**
   * Where the subgraphs' field denials are located in the response and kept until it is sent;
   * without it every denial goes through Apollo Gateway's error path (same response, slower).
   */
  denialSink?: DenialSink;
}

/**
 * Runs a subgraph in the gateway's process: no HTTP, the request scope passed as context, and
 * each distinct subgraph operation parsed and validated once (the planner sends few shapes).
 */
export class InProcessDataSource implements GraphQLDataSource {
  private readonly executor: SubgraphExecutor;

  constructor(
    private readonly name: string,
    schema: GraphQLSchema,
    private readonly db: Db,
    private readonly options: { consentTimeoutMs: number; onConsentQuery?: (subgraph: string) => void },
  ) {
    this.executor = new SubgraphExecutor(schema);
  }

  async process(options: GraphQLDataSourceProcessOptions<Record<string, unknown>>): Promise<GatewayGraphQLResponse> {
    const { request, context } = options;
    const gatewayContext = context as unknown as GatewayContext;
    let ctx = gatewayContext.subgraphContexts.get(this.name);
    if (!ctx) {
      gatewayContext.subjects ??= new SubjectLoader(this.db, {
        // Consent as of the decision time: exactly what `audit replay` will read for this record.
        asOf: gatewayContext.scope.at,
        timeoutMs: this.options.consentTimeoutMs,
        onQuery: () => this.options.onConsentQuery?.(this.name),
      });
      ctx = { scope: gatewayContext.scope, subgraph: this.name, subjects: gatewayContext.subjects, loaders: new Map() };
      gatewayContext.subgraphContexts.set(this.name, ctx);
    }
    let result = await this.executor.execute(
      { query: request.query!, variables: request.variables ?? null, operationName: request.operationName ?? null },
      ctx,
    );
    if (gatewayContext.denialSink) {
      const cursor = 'pathInIncomingRequest' in options ? options.pathInIncomingRequest : undefined;
      result = locateDenials(result, request.variables, cursor, gatewayContext.denialSink);
    }
    if (result.errors?.length) suppressStacksThisTurn(); // the gateway wraps each one next
    return result as GatewayGraphQLResponse;
  }
}
