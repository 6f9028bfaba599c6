import { randomBytes } from 'node:crypto';
import type { CopySettings, Db } from '../db/index.js';
import { COPIED_COLUMNS, COPIED_TYPES, CopiedRecords, type CopiedPage } from './copiedRecords.js';
import { liveLogIds, type LiveLogs } from './logLiveness.js';
import { deflatedBytes, LEAF_COLUMNS, leafText, type StoredLeaf } from './leafStorage.js';

/** A log as registered in the store. */
export interface StoredLog {
  logId: string;
  origin: string;
  keyName: string;
  /** base64 raw Ed25519 public key the gateway claimed at start (trust comes from the auditor's key). */
  publicKey: string;
}

/** A stored record: its position, claimed leaf hash and canonical body (read back as text, inflated if it was stored deflated). */
export interface StoredRecord {
  seq: number;
  recordId: string;
  leafHash: string;
  body: string;
  /** Copies of leaf fields kept as columns for queries; verify checks them against the body. */
  index?: {
    /** The `at` column, in milliseconds since the epoch. */
    atMs: number;
    purpose: string | null;
    callerSub: string | null;
    callerKind: string | null;
    rejectionCode: string | null;
    /** Null when the column is NULL (which the schema forbids). */
    subscriberIds: Array<string | null> | null;
  };
}

/**
 * Consecutive stored records, column by column (what `audit verify` reads where there is no COPY:
 * cheap to hand to a worker thread). `meta[i]` is the record's position, record id, leaf hash and
 * query columns as one JSON array text (see parseMeta): one value per record instead of nine
 * (PGlite spends 1-2 us in its WASM per value it sends, measured), parsed where it is checked.
 */
export interface RecordPage {
  /** Each record's seq, as its `meta` text begins with it. */
  seq: number[];
  meta: string[];
  /** The leaf as text, or null when it is stored deflated (or, in a damaged store, not at all). */
  body: Array<string | null>;
  /** The leaf deflated (leafStorage), or null when it is stored as text. */
  deflated: Array<Uint8Array | null>;
}

/** A record's row-page values, as its `meta` array holds them. */
export interface RecordMeta {
  recordId: string;
  leafHash: string;
  index: NonNullable<StoredRecord['index']>;
}

/**
 * The `meta` of a row page: `[seq, record_id, leaf_hash, at, purpose, caller_sub, caller_kind,
 * rejection_code, subscriber_ids]` as PostgreSQL's json_build_array writes it.
 */
const META = `json_build_array(seq, record_id, leaf_hash, at, purpose, caller_sub, caller_kind, rejection_code, subscriber_ids)::text AS meta`;

/**
 * The seq a `meta` text begins with (`[123, ...`), or NaN when it does not begin with a JSON
 * number (a column retyped to numeric gives `[44.4, ...`: read as JavaScript reads that number).
 */
export function seqOfMeta(meta: string): number {
  const end = meta.indexOf(',');
  const token = meta.slice(1, end);
  return end > 0 && meta.charCodeAt(0) === 0x5b && /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(token) ? Number(token) : NaN;
}

/** A record's values from its `meta` text (RecordPage.meta). */
export function parseMeta(text: string): RecordMeta {
  const [, recordId, leafHash, at, purpose, callerSub, callerKind, rejectionCode, subscriberIds] = JSON.parse(text) as [
    number,
    string,
    string,
    string,
    string | null,
    string | null,
    string | null,
    string | null,
    Array<string | null> | null,
  ];
  // A time finer than the millisecond is not one the writer stored (Date.parse would drop the
  // extra digits, hiding a column moved by microseconds).
  const atMs = typeof at === 'string' && /\.\d{4}/.test(at) ? NaN : Date.parse(at);
  // A NULL column (the schema forbids it) matches no record's subscribers, as in the binary form.
  return { recordId, leafHash, index: { atMs, purpose, callerSub, callerKind, rejectionCode, subscriberIds } };
}

/** Read access to the audit tables, page by page (verify streams 1,000,000 records this way). */
export interface AuditStore {
  logs(): Promise<StoredLog[]>;
  records(logId: string, fromSeq: number, limit: number): Promise<StoredRecord[]>;
  /**
   * The same records as records(), for `audit verify`: column by column with the query columns
   * unparsed, or, where the database has copyOut (PostgreSQL and PGlite), as one binary COPY output.
   */
  recordPage(logId: string, fromSeq: number, limit: number): Promise<RecordPage | CopiedPage>;
  /** Takes back the buffer of a copied page that has been checked, for a later page (optional). */
  recycle?(copy: Uint8Array): void;
  /** The stored leaf hashes (hex) of the first `limit` records from `fromSeq`, in order: proofs need no bodies. */
  leafHashes(logId: string, fromSeq: number, limit: number): Promise<string[]>;
  /** Records of every log whose decision time is in [since, until), oldest first. */
  recordsBetween(since: string | undefined, until: string | undefined, afterKey: { at: string; recordId: string } | undefined, limit: number): Promise<Array<StoredRecord & { at: string }>>;
  checkpoints(logId: string): Promise<Array<{ size: number; note: string }>>;
  /** The log's closure notes (closed by its writer, or sealed by a later process): none or one. */
  closures(logId: string): Promise<Array<{ size: number; note: string }>>;
  /** Which of these logs have a writer running now (logLiveness). */
  liveLogs(logIds: readonly string[]): Promise<LiveLogs>;
  /**
   * How many rows of the log are stored at positions below `size` (or at none: a NULL position),
   * and, when that is not `size`, the first of them out of sequence (null: a NULL position). Once
   * a log's first `size` records passed, verify asks this: a row stored where no page looks (a
   * negative or fractional position, or a position held twice) is found.
   */
  rowsBelow(logId: string, size: number): Promise<{ count: number; stray?: number | null }>;
}

/**
 * Copied pages' buffers kept for reuse. Verify may hold more pages at once (up to 2 per worker
 * and 9 more, see verifyLogs' READER_AHEAD), but in a steady run a page's buffer comes back as
 * soon as the page is added to the tree, so a few spares are enough to read without allocating.
 */
const SPARE_BUFFERS = 8;

/** The audit store over the database. */
export function dbAuditStore(db: Pick<Db, 'query' | 'copyOut'> & { kind?: Db['kind'] }): AuditStore {
  const rowPage = async (logId: string, fromSeq: number, limit: number): Promise<RecordPage> => {
    const columns = `${META}, ${LEAF_COLUMNS}`;
    type Row = { meta: string } & StoredLeaf;
    // The page's seq range alone first; a short page (the end of the log, or a gap) is read again,
    // whole, by the statement that also reads past the range, so it comes from one snapshot.
    // (A stored position is never asked for as it is: verify asks from the index it expects next.)
    if (!Number.isSafeInteger(fromSeq) || !Number.isSafeInteger(limit)) throw new RangeError(`audit records are read from an integer position, not ${fromSeq}`);
    const page: RecordPage = { seq: [], meta: [], body: [], deflated: [] };
    let { rows } = await db.query<Row>(pageOfRange(columns, ['$1', '$2', '$3']), [logId, fromSeq, limit]);
    if (rows.length < limit) ({ rows } = await db.query<Row>(pageOfLog(columns), [logId, fromSeq, limit]));
    const seqs = rows.map((r) => seqOfMeta(r.meta));
    for (const i of inSeqOrder(seqs, limit, fromSeq + limit)) {
      const r = rows[i];
      page.seq.push(seqs[i]);
      page.meta.push(r.meta);
      page.body.push(r.body);
      page.deflated.push(r.body_deflate == null ? null : deflatedBytes(r.body_deflate));
    }
    return page;
  };
  // Buffers of checked copied pages, for the next pages: a new one per page (a megabyte or so)
  // made V8 collect garbage for the memory outside its heap every few dozen pages (about 1 us
  // per record, measured).
  const spare: ArrayBuffer[] = [];
  let copyable: Promise<boolean> | undefined;
  const store: AuditStore = {
    async logs() {
      const { rows } = await db.query<{ log_id: string; origin: string; key_name: string; public_key: string }>(
        'SELECT log_id, origin, key_name, public_key FROM audit_logs ORDER BY created_at, log_id',
      );
      return rows.map((r) => ({ logId: r.log_id, origin: r.origin, keyName: r.key_name, publicKey: r.public_key }));
    },
    async records(logId, fromSeq, limit) {
      const page = await rowPage(logId, fromSeq, limit);
      return page.seq.map((seq, i) => ({
        seq,
        ...parseMeta(page.meta[i]),
        body: leafText({ body: page.body[i], body_deflate: page.deflated[i] }, `audit record ${seq} of log ${logId}`),
      }));
    },
    async recordPage(logId, fromSeq, limit) {
      if (!db.copyOut || !Number.isSafeInteger(fromSeq) || !Number.isSafeInteger(limit)) return rowPage(logId, fromSeq, limit);
      // The binary form is read as the schema's types: a table whose columns were given other
      // types (by whoever could also edit its rows) is read as rows, as text.
      copyable ??= db
        .query<{ attname: string; type: string }>(
          `SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute
            WHERE attrelid = 'audit_records'::regclass AND attnum > 0 AND NOT attisdropped`,
        )
        .then(({ rows }) => COPIED_TYPES.every(([column, type]) => rows.some((r) => r.attname === column && r.type === type)));
      if (!(await copyable)) return rowPage(logId, fromSeq, limit);
      // COPY takes no parameters: the log id as a dollar-quoted constant, the numbers checked to
      // be integers. The page's seq range alone first: a full page (all but a log's last) needs
      // nothing else. A short one (the end of the log, or a gap) is read again, whole, by the
      // statement that also reads past the range, so the page still comes from one snapshot.
      const params: [string, string, string] = [sqlConstant(logId), String(fromSeq), String(limit)];
      let copy = await db.copyOut(`COPY (${pageOfRange(COPIED_COLUMNS, params)}) TO STDOUT (FORMAT binary)`, spare.pop(), IN_KEY_ORDER);
      // One position more than the page: a row stored inside the range beside its records (a
      // position held twice) is handed over with them, and found, never dropped unread.
      let seq = CopiedRecords.positions(copy, limit + 1);
      if (!seq || seq.length < limit) {
        copy = await db.copyOut(`COPY (${pageOfLog(COPIED_COLUMNS, params)}) TO STDOUT (FORMAT binary)`, copy.buffer as ArrayBuffer, IN_KEY_ORDER);
        seq = CopiedRecords.positions(copy, limit);
      }
      // Out of order (never seen: a check, not an assumption): read as rows, which sorts them.
      return seq ? { copy, seq } : rowPage(logId, fromSeq, limit);
    },
    recycle(copy) {
      // (A buffer moved to another thread reads as empty here.)
      if (spare.length < SPARE_BUFFERS && copy.buffer instanceof ArrayBuffer && copy.buffer.byteLength > 0) spare.push(copy.buffer);
    },
    async leafHashes(logId, fromSeq, limit) {
      const { rows } = await db.query<{ seq: string | number; leaf_hash: string }>(pageOfLog('seq, leaf_hash'), [logId, fromSeq, limit]);
      return inSeqOrder(rows.map((r) => Number(r.seq)), limit).map((i) => rows[i].leaf_hash);
    },
    async recordsBetween(since, until, afterKey, limit) {
      const { rows } = await db.query<{ seq: string | number; record_id: string; leaf_hash: string; at: Date | string } & StoredLeaf>(
        `SELECT seq, record_id, leaf_hash, ${LEAF_COLUMNS}, at FROM audit_records
          WHERE ($1::timestamptz IS NULL OR at >= $1::timestamptz) AND ($2::timestamptz IS NULL OR at < $2::timestamptz)
            AND ($3::timestamptz IS NULL OR (at, record_id) > ($3::timestamptz, $4::text))
          ORDER BY at, record_id LIMIT $5`,
        [since ?? null, until ?? null, afterKey?.at ?? null, afterKey?.recordId ?? null, limit],
      );
      return rows.map((r) => ({ seq: Number(r.seq), recordId: r.record_id, leafHash: r.leaf_hash, body: leafText(r, `audit record ${r.record_id}`), at: new Date(r.at).toISOString() }));
    },
    async checkpoints(logId) {
      const { rows } = await db.query<{ tree_size: string | number; note: string }>(
        'SELECT tree_size, note FROM audit_checkpoints WHERE log_id = $1 ORDER BY tree_size',
        [logId],
      );
      return rows.map((r) => ({ size: Number(r.tree_size), note: r.note }));
    },
    async closures(logId) {
      const { rows } = await db.query<{ tree_size: string | number; note: string }>('SELECT tree_size, note FROM audit_log_closures WHERE log_id = $1 ORDER BY tree_size', [logId]);
      return rows.map((r) => ({ size: Number(r.tree_size), note: r.note }));
    },
    liveLogs: (logIds) => liveLogIds(db, logIds),
    async rowsBelow(logId, size) {
      // Along the primary key (log_id, seq); a NULL position is only possible in a table whose
      // key was dropped.
      const below = `FROM audit_records WHERE log_id = $1 AND (seq < $2::bigint OR seq IS NULL)`;
      const { rows } = await db.query<{ n: string | number }>(`SELECT count(*) AS n ${below}`, [logId, size]);
      const count = Number(rows[0].n);
      if (count === size) return { count };
      // The first row whose position is not its rank among them (ties and NULLs ordered first).
      const { rows: stray } = await db.query<{ seq: string | number | null }>(
        `SELECT seq FROM (SELECT seq, row_number() OVER (ORDER BY seq NULLS FIRST) - 1 AS rank ${below}) r
          WHERE seq IS NULL OR seq <> rank ORDER BY rank LIMIT 1`,
        [logId, size],
      );
      return { count, ...(stray.length > 0 ? { stray: stray[0].seq === null ? null : Number(stray[0].seq) } : {}) };
    },
  };
  return store;
}

/**
 * One statement (one snapshot, so a log being appended to is read without holes) that selects
 * `columns` (`seq` first) of the first $3 records of log $1 from seq $2; it may return up to
 * twice $3 rows, see inSeqOrder(). The bounded seq range reads only its own rows whatever the
 * planner believes about the table: with no statistics yet it would otherwise scan and sort the
 * whole rest of the log for every page. Only when the range is short (the end of the log, or a
 * gap) does the second branch run: its condition, a count of the range over the index, is a
 * one-time filter. (The range is not materialised to be counted: copying the rows into a
 * tuplestore cost PostgreSQL about 2 us more per 1.6 KB record, measured with its backend's CPU.)
 */
function pageOfLog(columns: string, [log, from, limit] = ['$1', '$2', '$3']): string {
  const range = seqRange(log, from, limit);
  return `SELECT * FROM (SELECT ${columns} FROM audit_records WHERE ${range} ORDER BY seq) r
          UNION ALL
          SELECT * FROM (SELECT ${columns} FROM audit_records
                          WHERE log_id = ${log} AND seq >= ${from}::bigint + ${limit}::bigint
                            AND (SELECT count(*) FROM audit_records WHERE ${range}) < ${limit}::bigint
                          ORDER BY seq LIMIT ${limit}::bigint) rest`;
}

/** The records of log `log` with seq in [from, from + limit). */
function seqRange(log: string, from: string, limit: string): string {
  return `log_id = ${log} AND seq >= ${from}::bigint AND seq < ${from}::bigint + ${limit}::bigint`;
}

/**
 * The records of the seq range [$2, $2 + $3) of log $1 alone, by seq: a full page when none is
 * missing. Up to one row more than the range can hold, so that a row stored inside it beside the
 * page's records (at a fractional position, or at one held twice) comes with them.
 */
function pageOfRange(columns: string, [log, from, limit]: [string, string, string]): string {
  return `SELECT ${columns} FROM audit_records WHERE ${seqRange(log, from, limit)} ORDER BY seq LIMIT ${limit}::bigint + 1`;
}

/**
 * The planner settings of a page's COPY (for it alone, see Db.copyOut): read the page along the
 * primary key, already in seq order. Without statistics (a log younger than autovacuum's first
 * ANALYZE) the planner believes a range holds a few rows and reads it with a bitmap scan, in the
 * heap's order, then sorts it: copying every body into the sort cost PostgreSQL 1.1 ms per
 * 500-record page against 0.34 ms along the index (EXPLAIN ANALYZE, 1.8 KB records).
 */
const IN_KEY_ORDER: CopySettings = [
  ['enable_sort', 'off'],
  ['enable_bitmapscan', 'off'],
];

/**
 * `text` as a dollar-quoted SQL string constant, with a tag it does not hold: nothing inside is
 * escaped or read as an escape, whatever `standard_conforming_strings` and `backslash_quote` say,
 * and no client encoding has `$` as part of a multibyte character. A constant, not an expression,
 * so the planner reads the page over the primary key (an expression that decoded hex here made it
 * scan the table for each page of a log that had no statistics yet: 10,000 leaves/s, measured).
 */
function sqlConstant(text: string): string {
  if (text.includes('\0')) throw new Error('a log id holds a NUL character');
  let tag: string;
  do tag = `$l${randomBytes(6).toString('hex')}$`;
  while (text.includes(tag));
  return `${tag}${text}${tag}`;
}

/**
 * The indexes of the first `limit` of `seqs` in seq order, and of any after them still below `end`
 * (rows inside the page's range beyond what it can hold: kept, for verify to find). They come in
 * order in practice; sorting here keeps that a check, not an assumption.
 */
function inSeqOrder(seqs: number[], limit: number, end = -Infinity): number[] {
  const order = seqs.map((_, i) => i);
  for (let i = 1; i < seqs.length; i++) {
    if (!(seqs[i - 1] < seqs[i])) {
      order.sort((a, b) => seqs[a] - seqs[b]);
      break;
    }
  }
  let keep = Math.min(limit, order.length);
  while (keep < order.length && seqs[order[keep]] < end) keep++;
  return order.slice(0, keep);
}
