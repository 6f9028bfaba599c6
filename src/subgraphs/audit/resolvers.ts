import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { queryAccessLog, type AuditLeaf } from '../../audit/index.js';
import { purposeAllows } from '../../policy/index.js';
import { forbidden, type EnforcementContext } from '../../shield/index.js';
import { pageSize } from '../cursor.js';
import { DateTime } from '../DateTime.js';
import type { SubgraphDeps } from '../SubgraphDeps.js';

/**
 * Purposes whose accesses are never shown to their subject in `myAccessLog`: an operator may not
 * tip off the subject of a legal process (law-enforcement requests are disclosed "without notice",
 * seed 003). Auditors (`accessLog`) and the DPO's `audit report` still see them.
 */
const WITHHELD_FROM_SUBJECT: readonly string[] = ['LAW_ENFORCEMENT'];

function toEntry(leaf: AuditLeaf, forSubject?: string) {
  const decisions = forSubject === undefined ? leaf.decisions : leaf.decisions.filter((d) => d.subscriberId === forSubject);
  return {
    ...leaf,
    // Subscribers see who and why, not the case reference of an investigation.
    ref: forSubject === undefined ? leaf.ref : null,
    caller: leaf.caller && { sub: leaf.caller.sub, kind: leaf.caller.kind, agency: leaf.caller.agency ?? null, act: leaf.caller.act ? JSON.stringify(leaf.caller.act) : null },
    rejection: leaf.rejection?.code ?? null,
    decisions,
  };
}

/** Resolvers of the `audit` subgraph: the access log for auditors and for the subscriber. */
export function auditResolvers({ db, sources, policy, maxFirst, cursors }: SubgraphDeps): GraphQLResolverMap<EnforcementContext> {
  const guard = (ctx: EnforcementContext, field: 'accessLog' | 'myAccessLog', kind: 'auditor' | 'subscriber') => {
    const fieldPolicy = policy.field('Query', field)!;
    const { purpose, caller } = ctx.scope;
    if (!purposeAllows(sources.registry, fieldPolicy, purpose)) throw forbidden(fieldPolicy.coordinate, purpose, 'PURPOSE_NOT_ALLOWED');
    if (caller.kind !== kind) throw forbidden(fieldPolicy.coordinate, purpose, 'OUT_OF_SCOPE');
  };
  const page = async (ctx: EnforcementContext, args: { first?: number | null; after?: string | null }, filter: Record<string, unknown>, forSubject?: string) => {
    const first = pageSize(args.first, 50, maxFirst);
    const after = args.after ? cursors.open(args.after, 2) : undefined;
    const { leaves, hasNextPage } = await queryAccessLog(db, { ...filter, first, after: after && { at: after[0], recordId: after[1] } });
    const last = leaves[leaves.length - 1];
    return {
      nodes: leaves.map((l) => toEntry(l, forSubject)),
      pageInfo: { endCursor: last ? cursors.seal([last.at, last.recordId]) : null, hasNextPage },
    };
  };
  return {
    DateTime,
    Query: {
      async accessLog(_: unknown, args: { filter?: Record<string, unknown> | null; first?: number | null; after?: string | null }, ctx: EnforcementContext) {
        guard(ctx, 'accessLog', 'auditor');
        const f = args.filter ?? {};
        const filter: Record<string, unknown> = {};
        for (const k of ['subscriberId', 'purpose', 'callerSub', 'rejected'] as const) if (f[k] !== null && f[k] !== undefined) filter[k] = f[k];
        // Already parsed and normalised by the DateTime scalar.
        if (f.since) filter.since = f.since as string;
        if (f.until) filter.until = f.until as string;
        return page(ctx, args, filter);
      },
      async myAccessLog(_: unknown, args: { first?: number | null; after?: string | null }, ctx: EnforcementContext) {
        guard(ctx, 'myAccessLog', 'subscriber');
        // Withheld in the query itself, so pages stay full and hasNextPage says nothing about them.
        return page(ctx, args, { subscriberId: ctx.scope.caller.sub, excludePurposes: WITHHELD_FROM_SUBJECT }, ctx.scope.caller.sub);
      },
    },
  };
}
