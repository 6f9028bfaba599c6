import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import DataLoader from 'dataloader';
import { decideFor, forbidden, loaderFor, type EnforcementContext } from '../../shield/index.js';
import { pageSize } from '../cursor.js';
import { DateTime } from '../DateTime.js';
import { subscriberReference } from '../entityReference.js';
import type { SubscriberCallDetailRecordsArgs } from '../../generated/types.js';
import type { SubgraphDeps } from '../SubgraphDeps.js';

interface CdrRow {
  id: string;
  subscriber_id: string;
  calling_number: string;
  called_number: string;
  started_at: Date | string;
  duration_seconds: number;
  direction: string;
  cell_id: string;
}

/** Resolvers of the `usage` subgraph (call detail records, newest first). */
export function usageResolvers(deps: SubgraphDeps): GraphQLResolverMap<EnforcementContext> {
  const { db, maxFirst, cursors, policy, sources } = deps;
  const startedAt = policy.field('CallDetailRecord', 'startedAt')!;
  return {
    DateTime,
    Subscriber: {
      __resolveReference: subscriberReference(deps),
      async callDetailRecords(parent: { id: string }, args: SubscriberCallDetailRecordsArgs, ctx: EnforcementContext) {
        if (deps.enforce && (args.since != null || args.until != null)) {
          // Filtering by time reads the start times: only for a purpose that may read them,
          // else the filter is an oracle for a denied value.
          const subject = ctx.subjects.peek(parent.id) ?? (await ctx.subjects.load(parent.id));
          const d = decideFor(sources.registry, ctx, startedAt, parent.id, subject);
          if (d.effect === 'DENY') throw forbidden(startedAt.coordinate, ctx.scope.purpose, d.reason);
        }
        const first = pageSize(args.first, 50, maxFirst);
        // Already parsed and normalised by the DateTime scalar.
        const since = args.since ?? null;
        const until = args.until ?? null;
        const [afterAt, afterId] = args.after ? cursors.open(args.after, 2) : [null, null];
        const rows =
          afterAt === null
            ? // First pages of every subscriber of this request with the same arguments: one query.
              await loaderFor(ctx, `cdrFirstPage|${first}|${since}|${until}`, () =>
                // Results in key order, same length as the keys.
                new DataLoader<string, CdrRow[]>(async (ids) => {
                  const { rows: all } = await db.query<CdrRow>(
                    `SELECT * FROM (
                       SELECT c.*, row_number() OVER (PARTITION BY subscriber_id ORDER BY started_at DESC, id DESC) AS rn
                         FROM call_detail_records c
                        WHERE subscriber_id = ANY($1::text[])
                          AND ($2::timestamptz IS NULL OR started_at >= $2::timestamptz)
                          AND ($3::timestamptz IS NULL OR started_at < $3::timestamptz)) p
                      WHERE rn <= $4
                      ORDER BY subscriber_id, started_at DESC, id DESC`,
                    [ids as string[], since, until, first + 1],
                  );
                  const groups = new Map<string, CdrRow[]>();
                  for (const r of all) (groups.get(r.subscriber_id) ?? groups.set(r.subscriber_id, []).get(r.subscriber_id)!).push(r);
                  return ids.map((id) => groups.get(id) ?? []);
                }),
              ).load(parent.id)
            : await pageAfter(parent.id, since, until, afterAt, afterId!, first);
        const page = rows.slice(0, first);
        const last = page[page.length - 1];
        return {
          nodes: page.map((r) => ({
            subscriberId: r.subscriber_id,
            id: r.id,
            callingNumber: r.calling_number,
            calledNumber: r.called_number,
            startedAt: new Date(r.started_at).toISOString(),
            durationSeconds: r.duration_seconds,
            direction: r.direction,
            cellId: r.cell_id,
          })),
          pageInfo: {
            endCursor: last ? cursors.seal([new Date(last.started_at).toISOString(), last.id]) : null,
            hasNextPage: rows.length > first,
          },
        };
      },
    },
  };

  /** A later page of one subscriber (after a cursor). */
  async function pageAfter(subscriberId: string, since: string | null, until: string | null, afterAt: string, afterId: string, first: number): Promise<CdrRow[]> {
    const { rows } = await db.query<CdrRow>(
      `SELECT * FROM call_detail_records
        WHERE subscriber_id = $1
          AND ($2::timestamptz IS NULL OR started_at >= $2::timestamptz)
          AND ($3::timestamptz IS NULL OR started_at < $3::timestamptz)
          AND (started_at, id) < ($4::timestamptz, $5::text)
        ORDER BY started_at DESC, id DESC
        LIMIT $6`,
      [subscriberId, since, until, afterAt, afterId, first + 1],
    );
    return rows;
  }
}
