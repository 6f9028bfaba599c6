import DataLoader from 'dataloader';
import type { Db } from '../db/index.js';
import { loaderFor, type EnforcementContext } from '../shield/index.js';

/**
 * A per-request loader of rows grouped by subscriber_id: one query for every subscriber the
 * request touches. `sql` selects from a table filtered by `subscriber_id = ANY($1)`.
 */
export function batchBySubscriber<R extends { subscriber_id: string }>(
  ctx: EnforcementContext,
  name: string,
  db: Db,
  sql: string,
): DataLoader<string, R[]> {
  return loaderFor(ctx, name, () =>
    // Results in key order, same length as the keys (an empty list when a subscriber has none).
    new DataLoader<string, R[]>(async (ids) => {
      const { rows } = await db.query<R>(sql, [ids as string[]]);
      const groups = new Map<string, R[]>();
      for (const r of rows) {
        const list = groups.get(r.subscriber_id);
        if (list) list.push(r);
        else groups.set(r.subscriber_id, [r]);
      }
      return ids.map((id) => groups.get(id) ?? []);
    }),
  );
}
