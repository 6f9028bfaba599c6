import { isUtf8 } from 'node:buffer';
import { parseMeta, type RecordPage, type StoredRecord } from './AuditStore.js';
import { CopiedRecords, utf8Text, type CopiedColumns, type CopiedPage } from './copiedRecords.js';
import { leafFacts, type LeafFacts } from './leafFacts.js';
import { readLeaf, type ReadLeaf } from './leafStorage.js';
import { leafHash, leafHashHex, leafHashHexOfBytes, perfectRoot } from './merkle.js';

/** What checking one page of records found: their leaf hashes, up to the first broken one. */
export interface CheckedRecords {
  /** The leaf hashes (32 bytes each, in order) of the records before the first problem, or of all. */
  hashes: Uint8Array;
  /** How many records passed: `hashes` holds this many. */
  passed: number;
  /** The first broken record of the page: its index in the log and what is wrong. */
  problem?: { index: number; message: string };
  /** A copied page's buffer, given back once checked (from a worker: moved back), for reuse. */
  copy?: Uint8Array;
  /**
   * When every record passed, the page holds a power of two of them (at least two) and starts at a
   * multiple of that: the root of their perfect subtree, which verify adds to its tree whole
   * (Frontier.pushSubtree), so that the thread reading the store hashes one node per page instead
   * of one per record.
   */
  root?: Uint8Array;
}

/** A record's query columns as verify compares them (subscriberIds null: not a one-dimensional array). */
type Columns = NonNullable<StoredRecord['index']> | CopiedColumns;

/** One stored record, from either form of page. */
interface RecordToCheck {
  seq: number;
  recordId: string | null;
  leafHash: string | null;
  /** The leaf as text, or its UTF-8 bytes (a copied page), or null. */
  body: string | Buffer | null;
  deflated: Uint8Array | null;
  columns: Columns;
}

/** The query columns of a stored record that no longer match its body, by name. */
function changedColumns(leaf: LeafFacts, index: Columns): string[] {
  const changed: string[] = [];
  if (typeof leaf.at !== 'string' || Date.parse(leaf.at) !== index.atMs) changed.push('at');
  if (leaf.purpose !== index.purpose) changed.push('purpose');
  if (leaf.callerSub !== index.callerSub) changed.push('callerSub');
  if (leaf.callerKind !== index.callerKind) changed.push('callerKind');
  if (leaf.rejectionCode !== index.rejectionCode) changed.push('rejectionCode');
  if (!sameSubscribers(leaf.subscriberIds, index.subscriberIds)) changed.push('subscriberIds');
  return changed;
}

/** Whether the `subscriber_ids` column holds exactly the distinct subscribers `ids` of the decisions. */
function sameSubscribers(ids: unknown[], column: ReadonlyArray<string | null> | null): boolean {
  if (column === null || ids.length !== column.length) return false;
  if (ids.length === 1) return ids[0] === column[0];
  // Both sides sorted alike; strict equality of every element, so a match is never wrongly found.
  const a = [...ids].sort();
  const b = [...column].sort();
  return a.every((id, i) => id === b[i]);
}

/**
 * Checks consecutive stored records of log `logId`, the first of which should be at index
 * `firstIndex`: each is at its position, is a JSON object naming this log, its position and its
 * record id, hashes to its stored leaf hash, and agrees with its query columns. Stops at the first
 * record that does not. Pure and synchronous: `audit verify` runs it on its own thread or in
 * worker threads, with the same result.
 */
export function checkRecords(page: RecordPage | CopiedPage, logId: string, firstIndex: number): CheckedRecords {
  const count = page.seq.length;
  const hashes = new Uint8Array(count * 32);
  const out = Buffer.from(hashes.buffer, hashes.byteOffset, hashes.byteLength);
  let passed = 0;
  const stop = (message: string, index = firstIndex + passed): CheckedRecords => ({ hashes: hashes.subarray(0, passed * 32), passed, problem: { index, message } });
  let copied: CopiedRecords | undefined;
  try {
    copied = 'copy' in page ? new CopiedRecords(page.copy) : undefined;
  } catch {
    return stop(`record ${firstIndex} is not a valid audit record`);
  }
  const rows = copied ? undefined : (page as RecordPage);
  for (let i = 0; i < count; i++) {
    const index = firstIndex + passed;
    try {
      const record: RecordToCheck | undefined = copied ? copied.next() : rowRecord(rows!, i);
      if (!record) return stop(`record ${index} is missing (the log ends before it)`);
      const problem = checkOne(record, index, logId, out, passed);
      if (problem) return stop(problem.message, problem.index ?? index);
    } catch {
      // A body built to break the checks themselves (members that are objects where strings
      // belong, with a poisoned toString) is a broken record like any other, never a crash.
      return stop(`record ${index} is not a valid audit record`);
    }
    passed++;
  }
  const perfect = count > 1 && (count & (count - 1)) === 0 && firstIndex % count === 0;
  return perfect ? { hashes, passed, root: perfectRoot(hashes, count) } : { hashes, passed };
}

/** Record `i` of a row page (its meta parsed here, on the checking thread). */
function rowRecord(rows: RecordPage, i: number): RecordToCheck {
  const meta = parseMeta(rows.meta[i]);
  return { seq: rows.seq[i], recordId: meta.recordId, leafHash: meta.leafHash, body: rows.body[i], deflated: rows.deflated[i], columns: meta.index };
}

/** How verify reports a record that does not hold exactly one readable leaf. */
const VERIFY_PROBLEMS: Record<Extract<ReadLeaf, { problem: unknown }>['problem'], string> = {
  'no content': 'it has no content',
  'both forms': 'it holds its content twice (as text and deflated)',
  damaged: 'its deflated content cannot be read',
};

/** Checks `record`, expected at `index`; on success writes its leaf hash at slot `slot` of `out`. */
function checkOne(record: RecordToCheck, index: number, logId: string, out: Buffer, slot: number): { message: string; index?: number } | undefined {
  if (record.seq !== index) {
    // Below the index (a position held twice, or a fractional one): a row added among the records.
    if (record.seq < index) return { message: `a record was inserted before record ${index}, at position ${record.seq}` };
    return { message: `record ${index} is missing (the next stored record is ${record.seq})` };
  }
  let body: string;
  let hash: string;
  if (typeof record.body === 'object' && record.body !== null && record.deflated === null) {
    // A copied page's text leaf: the stored bytes are what was hashed. PostgreSQL sends text as
    // UTF-8; bytes that are not (a database in another encoding) are not a leaf the writer made.
    if (!isUtf8(record.body)) return { message: `record ${index} was changed: its content is not valid UTF-8` };
    body = utf8Text(record.body, 0, record.body.length);
    hash = leafHashHexOfBytes(record.body);
  } else {
    const read = readLeaf(record.body === null ? null : String(record.body), record.deflated);
    if ('problem' in read) return { message: `record ${index} was changed: ${VERIFY_PROBLEMS[read.problem]}` };
    body = read.text;
    // The stored bytes are what was hashed: no re-canonicalisation, one hash of the body's UTF-8
    // (of the inflated bytes themselves, for a deflated leaf).
    hash = read.bytes ? leafHash(read.bytes).toString('hex') : leafHashHex(body);
  }
  const leaf = leafFacts(body);
  if (leaf === 'not JSON') return { message: `record ${index} is not valid JSON` };
  if (leaf === 'not an object') return { message: `record ${index} is not a JSON object` };
  if (leaf.logId !== logId || leaf.seq !== index || leaf.recordId !== record.recordId) {
    const claimed = typeof leaf.seq === 'number' ? leaf.seq : NaN;
    return {
      message: `index ${index} holds the record written as index ${claimed}${leaf.logId !== logId ? ` of log ${JSON.stringify(leaf.logId)}` : ''}: records were inserted, deleted or reordered`,
      index: claimed < index ? claimed : index,
    };
  }
  if (hash !== record.leafHash) return { message: `record ${index} was changed: its content no longer matches its leaf hash` };
  const changed = changedColumns(leaf, record.columns);
  if (changed.length > 0) return { message: `record ${index}'s query columns were changed (${changed.join(', ')}): they no longer match its content` };
  out.write(hash, slot * 32, 'hex');
  return undefined;
}
