import type { Db } from '../db/index.js';
import type { AuditLeaf } from './AuditRecord.js';
import { LEAF_COLUMNS, leafText, type StoredLeaf } from './leafStorage.js';

/** Filters of the access log query. */
export interface AccessLogQuery {
  subscriberId?: string;
  purpose?: string;
  callerSub?: string;
  since?: string;
  until?: string;
  rejected?: boolean;
  /** Leaves out records of these purposes (records without a purpose stay). */
  excludePurposes?: readonly string[];
  first: number;
  /** Cursor: the (at, recordId) of the last entry of the previous page. */
  after?: { at: string; recordId: string };
}

/** A page of the access log, newest first, as parsed leaves. */
export async function queryAccessLog(db: Pick<Db, 'query'>, q: AccessLogQuery): Promise<{ leaves: AuditLeaf[]; hasNextPage: boolean }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replaceAll('$?', `$${params.length}`));
  };
  if (q.subscriberId !== undefined) add('subscriber_ids @> ARRAY[$?]::text[]', q.subscriberId);
  if (q.purpose !== undefined) add('purpose = $?', q.purpose);
  if (q.callerSub !== undefined) add('caller_sub = $?', q.callerSub);
  if (q.since !== undefined) add('at >= $?::timestamptz', q.since);
  if (q.until !== undefined) add('at < $?::timestamptz', q.until);
  if (q.excludePurposes?.length) add('(purpose IS NULL OR purpose <> ALL($?::text[]))', [...q.excludePurposes]);
  if (q.rejected !== undefined) where.push(q.rejected ? 'rejection_code IS NOT NULL' : 'rejection_code IS NULL');
  if (q.after) {
    params.push(q.after.at, q.after.recordId);
    where.push(`(at, record_id) < ($${params.length - 1}::timestamptz, $${params.length})`);
  }
  params.push(q.first + 1);
  const { rows } = await db.query<StoredLeaf>(
    `SELECT ${LEAF_COLUMNS} FROM audit_records ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, record_id DESC LIMIT $${params.length}`,
    params,
  );
  const leaves = rows.slice(0, q.first).map((r) => JSON.parse(leafText(r)) as AuditLeaf);
  return { leaves, hasNextPage: rows.length > q.first };
}
