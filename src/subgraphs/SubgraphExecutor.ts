import { execute, parse, validate, type DocumentNode, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import type { BoundOperation } from '../auth/index.js';
import type { EnforcementContext } from '../shield/index.js';

/** A subgraph's answer as JSON: what goes over HTTP, and what an in-process subgraph hands the gateway. */
export interface SubgraphResult {
  data?: Record<string, unknown> | null;
  errors?: GraphQLFormattedError[];
}

/**
 * Executes operations against one enforcing subgraph schema, parsing and validating each distinct
 * operation once (a gateway's query planner sends few shapes). Used in-process and over HTTP alike,
 * so a subgraph's rules run the same way wherever it is deployed.
 */
export class SubgraphExecutor {
  private readonly documents = new Map<string, DocumentNode>();

  constructor(private readonly schema: GraphQLSchema) {}

  private document(query: string): DocumentNode | GraphQLFormattedError[] {
    const cached = this.documents.get(query);
    if (cached) return cached;
    let doc: DocumentNode;
    try {
      doc = parse(query);
    } catch (err) {
      return [{ message: (err as Error).message, extensions: { code: 'GRAPHQL_PARSE_FAILED' } }];
    }
    const errors = validate(this.schema, doc);
    if (errors.length > 0) return errors.map((e) => ({ message: e.message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }));
    if (this.documents.size > 2000) this.documents.clear();
    this.documents.set(query, doc);
    return doc;
  }

  async execute(op: BoundOperation, ctx: EnforcementContext): Promise<SubgraphResult> {
    const doc = this.document(op.query);
    if (Array.isArray(doc)) return { errors: doc };
    const result = await execute({
      schema: this.schema,
      document: doc,
      variableValues: op.variables ?? undefined,
      operationName: op.operationName ?? undefined,
      contextValue: ctx,
    });
    // Errors as JSON, as from a remote subgraph: the gateway wraps each one, and a GraphQLError here
    // would make it format that error's stack, once per denied value.
    const out: SubgraphResult = { data: result.data as Record<string, unknown> | null | undefined };
    if (result.errors) out.errors = result.errors.map((e) => e.toJSON());
    return out;
  }
}
