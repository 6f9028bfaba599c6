import { parseColumns, type RecordPage, type StoredRecord } from './AuditStore.js';
import { leafFacts, type LeafFacts } from './leafFacts.js';
import { readLeaf, type ReadLeaf } from './leafStorage.js';
import { leafHash, leafHashHex } from './merkle.js';

/** What checking one page of records found: their leaf hashes, up to the first broken one. */
export interface CheckedRecords {
  /** The leaf hashes (32 bytes each, in order) of the records before the first problem, or of all. */
  hashes: Uint8Array;
  /** How many records passed: `hashes` holds this many. */
  passed: number;
  /** The first broken record of the page: its index in the log and what is wrong. */
  problem?: { index: number; message: string };
}

/** The query columns of a stored record that no longer match its body, by name. */
function changedColumns(leaf: LeafFacts, index: NonNullable<StoredRecord['index']>): string[] {
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
function sameSubscribers(ids: unknown[], column: ReadonlyArray<string | null>): boolean {
  if (ids.length !== column.length) return false;
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
export function checkRecords(page: RecordPage, logId: string, firstIndex: number): CheckedRecords {
  const count = page.seq.length;
  const hashes = new Uint8Array(count * 32);
  const out = Buffer.from(hashes.buffer, hashes.byteOffset, hashes.byteLength);
  let passed = 0;
  const stop = (message: string, index = firstIndex + passed): CheckedRecords => ({ hashes: hashes.subarray(0, passed * 32), passed, problem: { index, message } });
  for (let i = 0; i < count; i++) {
    const index = firstIndex + passed;
    try {
      const problem = checkOne(page, i, index, logId, out, passed);
      if (problem) return stop(problem.message, problem.index ?? index);
    } catch {
      // A body built to break the checks themselves (members that are objects where strings
      // belong, with a poisoned toString) is a broken record like any other, never a crash.
      return stop(`record ${index} is not a valid audit record`);
    }
    passed++;
  }
  return { hashes, passed };
}

/** How verify reports a record that does not hold exactly one readable leaf. */
const VERIFY_PROBLEMS: Record<Extract<ReadLeaf, { problem: unknown }>['problem'], string> = {
  'no content': 'it has no content',
  'both forms': 'it holds its content twice (as text and deflated)',
  damaged: 'its deflated content cannot be read',
};

/** Checks record `i` of `page`, expected at `index`; on success writes its leaf hash at slot `slot` of `out`. */
function checkOne(page: RecordPage, i: number, index: number, logId: string, out: Buffer, slot: number): { message: string; index?: number } | undefined {
  if (page.seq[i] !== index) return { message: `record ${index} is missing (the next stored record is ${page.seq[i]})` };
  const read = readLeaf(page.body[i], page.deflated[i]);
  if ('problem' in read) return { message: `record ${index} was changed: ${VERIFY_PROBLEMS[read.problem]}` };
  const body = read.text;
  const leaf = leafFacts(body);
  if (leaf === 'not JSON') return { message: `record ${index} is not valid JSON` };
  if (leaf === 'not an object') return { message: `record ${index} is not a JSON object` };
  if (leaf.logId !== logId || leaf.seq !== index || leaf.recordId !== page.recordId[i]) {
    const claimed = typeof leaf.seq === 'number' ? leaf.seq : NaN;
    return {
      message: `index ${index} holds the record written as index ${claimed}${leaf.logId !== logId ? ` of log ${JSON.stringify(leaf.logId)}` : ''}: records were inserted, deleted or reordered`,
      index: claimed < index ? claimed : index,
    };
  }
  // The stored bytes are what was hashed: no re-canonicalisation, one hash of the body's UTF-8
  // (of the inflated bytes themselves, for a deflated leaf).
  const hash = read.bytes ? leafHash(read.bytes).toString('hex') : leafHashHex(body);
  if (hash !== page.leafHash[i]) return { message: `record ${index} was changed: its content no longer matches its leaf hash` };
  const changed = changedColumns(leaf, parseColumns(page.columns[i]));
  if (changed.length > 0) return { message: `record ${index}'s query columns were changed (${changed.join(', ')}): they no longer match its content` };
  out.write(hash, slot * 32, 'hex');
  return undefined;
}
