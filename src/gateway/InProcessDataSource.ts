import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import { execute, parse, validate, type DocumentNode, type GraphQLSchema } from 'graphql';
import type { Db } from '../db/index.js';
import { SubjectLoader } from '../consent/index.js';
import type { EnforcementContext, RequestScope } from '../shield/index.js';

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
}

/**
 * Runs a subgraph in the gateway's process: no HTTP, the request scope passed as context, and
 * each distinct subgraph operation parsed and validated once (the planner sends few shapes).
 */
export class InProcessDataSource implements GraphQLDataSource {
  private readonly documents = new Map<string, DocumentNode>();

  constructor(
    private readonly name: string,
    private readonly schema: GraphQLSchema,
    private readonly db: Db,
    private readonly options: { consentTimeoutMs: number; onConsentQuery?: (subgraph: string) => void },
  ) {}

  private document(query: string): DocumentNode | readonly Error[] {
    const cached = this.documents.get(query);
    if (cached) return cached;
    const doc = parse(query);
    const errors = validate(this.schema, doc);
    if (errors.length > 0) return errors;
    if (this.documents.size > 2000) this.documents.clear();
    this.documents.set(query, doc);
    return doc;
  }

  async process({ request, context }: GraphQLDataSourceProcessOptions<Record<string, unknown>>): Promise<GatewayGraphQLResponse> {
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
    const doc = this.document(request.query!);
    if (Array.isArray(doc)) return { errors: (doc as Error[]).map((e) => ({ message: e.message })) } as GatewayGraphQLResponse;
    const result = await execute({
      schema: this.schema,
      document: doc as DocumentNode,
      variableValues: request.variables,
      operationName: request.operationName,
      contextValue: ctx,
    });
    // Errors go to the gateway as JSON, as from a remote subgraph: the gateway wraps each one, and
    // a GraphQLError here would make it format that error's stack, once per denied value.
    return (result.errors ? { ...result, errors: result.errors.map((e) => e.toJSON()) } : result) as GatewayGraphQLResponse;
  }
}
