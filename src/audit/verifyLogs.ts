import type { AuditLeaf } from './AuditRecord.js';
import type { AuditStore, StoredLog, StoredRecord } from './AuditStore.js';
import { openCheckpoint } from './checkpoint.js';
import { Frontier, leafHashHex } from './merkle.js';

/** The first break found in one log. */
export interface LogProblem {
  logId: string;
  /** Index (sequence number) of the first broken record. */
  index: number;
  message: string;
}

/** What `audit verify` found. */
export interface VerifyReport {
  ok: boolean;
  logs: Array<{ logId: string; records: number; checkpoints: number; problem?: LogProblem }>;
  leaves: number;
  /** The first problem, by log then index. */
  problem?: LogProblem;
}

/** A key an auditor trusts to sign checkpoints. */
export interface TrustedKey {
  name: string;
  publicKey: Buffer;
}

/** Records per read; the next page is read while this one is checked. */
const PAGE = 500;

/** The query columns of a stored record that no longer match its body, by name. */
function changedColumns(leaf: AuditLeaf, index: NonNullable<StoredRecord['index']>): string[] {
  const changed: string[] = [];
  if (typeof leaf.at !== 'string' || Date.parse(leaf.at) !== index.atMs) changed.push('at');
  if (leaf.purpose !== index.purpose) changed.push('purpose');
  if ((leaf.caller?.sub ?? null) !== index.callerSub) changed.push('callerSub');
  if ((leaf.caller?.kind ?? null) !== index.callerKind) changed.push('callerKind');
  if ((leaf.rejection?.code ?? null) !== index.rejectionCode) changed.push('rejectionCode');
  if (!sameSubscribers(leaf.decisions, index.subscriberIds)) changed.push('subscriberIds');
  return changed;
}

/** Whether the `subscriber_ids` column holds exactly the distinct subscribers of the decisions. */
function sameSubscribers(decisions: AuditLeaf['decisions'], column: ReadonlyArray<string | null>): boolean {
  const ids: unknown[] = [];
  if (Array.isArray(decisions)) {
    // Most records name one subscriber or a few: a linear scan beats a Set there.
    const seen = decisions.length > 16 ? new Set<unknown>() : undefined;
    for (const d of decisions) {
      const id: unknown = d?.subscriberId;
      if (seen ? seen.has(id) : ids.includes(id)) continue;
      seen?.add(id);
      ids.push(id);
    }
  }
  if (ids.length !== column.length) return false;
  if (ids.length === 1) return ids[0] === column[0];
  // Both sides sorted alike; strict equality of every element, so a match is never wrongly found.
  const a = ids.sort();
  const b = [...column].sort();
  return a.every((id, i) => id === b[i]);
}

async function verifyLog(store: AuditStore, log: StoredLog, trusted: readonly TrustedKey[], witnessed: ReadonlyArray<{ size: number; root: Buffer }>, onLeaf?: () => void) {
  const problem = (index: number, message: string): LogProblem => ({ logId: log.logId, index, message });
  const key = trusted.find((k) => k.name === log.keyName && k.publicKey.toString('base64') === log.publicKey);
  const checkpointRows = await store.checkpoints(log.logId);
  if (!key) {
    return { records: 0, checkpoints: checkpointRows.length, problem: problem(0, `log "${log.logId}" claims a signing key the auditor does not trust`) };
  }
  const checkpoints: Array<{ size: number; root: Buffer }> = [];
  for (const c of checkpointRows) {
    try {
      const cp = openCheckpoint(c.note, key);
      if (cp.origin !== log.origin) return { records: 0, checkpoints: checkpointRows.length, problem: problem(c.size, `checkpoint of size ${c.size} names origin "${cp.origin}", not "${log.origin}"`) };
      if (cp.size !== c.size) return { records: 0, checkpoints: checkpointRows.length, problem: problem(c.size, `checkpoint stored as size ${c.size} signs size ${cp.size}`) };
      checkpoints.push(cp);
    } catch (err) {
      return { records: 0, checkpoints: checkpointRows.length, problem: problem(c.size, `checkpoint of size ${c.size} is forged: ${(err as Error).message}`) };
    }
  }
  for (const w of witnessed) {
    const stored = checkpoints.find((c) => c.size === w.size);
    if (stored && !stored.root.equals(w.root)) {
      return { records: 0, checkpoints: checkpoints.length, problem: problem(w.size, `the checkpoint of size ${w.size} in the store differs from the one a witness holds`) };
    }
    if (!stored) checkpoints.push(w);
  }
  checkpoints.sort((a, b) => a.size - b.size);
  const frontier = new Frontier();
  let next = 0; // next checkpoint to compare
  let lastVerifiedSize = 0;
  let index = 0;
  // The next page is read while this one is hashed (PostgreSQL then works in parallel).
  let reading: Promise<StoredRecord[]> | undefined = store.records(log.logId, 0, PAGE);
  try {
    while (reading) {
      const page: StoredRecord[] = await reading;
      reading = page.length === PAGE ? store.records(log.logId, page[page.length - 1].seq + 1, PAGE) : undefined;
      reading?.catch(() => undefined); // awaited on the next turn, or in finally
      for (const r of page) {
        if (r.seq !== index) return { records: index, checkpoints: checkpoints.length, problem: problem(index, `record ${index} is missing (the next stored record is ${r.seq})`) };
        let leaf: AuditLeaf;
        try {
          leaf = JSON.parse(r.body) as AuditLeaf;
        } catch {
          return { records: index, checkpoints: checkpoints.length, problem: problem(index, `record ${index} is not valid JSON`) };
        }
        if (typeof leaf !== 'object' || leaf === null) return { records: index, checkpoints: checkpoints.length, problem: problem(index, `record ${index} is not a JSON object`) };
        if (leaf.logId !== log.logId || leaf.seq !== index || leaf.recordId !== r.recordId) {
          const claimed = typeof leaf.seq === 'number' ? leaf.seq : NaN;
          const at = claimed < index ? claimed : index;
          return {
            records: index,
            checkpoints: checkpoints.length,
            problem: problem(at, `index ${index} holds the record written as index ${claimed}${leaf.logId !== log.logId ? ` of log "${leaf.logId}"` : ''}: records were inserted, deleted or reordered`),
          };
        }
        // The stored bytes are what was hashed: no re-canonicalisation, one hash of the body's UTF-8.
        const hash = leafHashHex(r.body);
        if (hash !== r.leafHash) return { records: index, checkpoints: checkpoints.length, problem: problem(index, `record ${index} was changed: its content no longer matches its leaf hash`) };
        if (r.index) {
          const changed = changedColumns(leaf, r.index);
          if (changed.length > 0) {
            return { records: index, checkpoints: checkpoints.length, problem: problem(index, `record ${index}'s query columns were changed (${changed.join(', ')}): they no longer match its content`) };
          }
        }
        frontier.push(Buffer.from(hash, 'hex'));
        onLeaf?.();
        index++;
        while (next < checkpoints.length && checkpoints[next].size === frontier.size) {
          if (!frontier.root().equals(checkpoints[next].root)) {
            return {
              records: index,
              checkpoints: checkpoints.length,
              problem: problem(lastVerifiedSize, `the records from index ${lastVerifiedSize} to ${frontier.size - 1} do not match the checkpoint signed at size ${frontier.size}: one of them was changed`),
            };
          }
          lastVerifiedSize = frontier.size;
          next++;
        }
      }
    }
  } finally {
    // Returning early on a problem: let the page being read finish before the caller moves on.
    await reading?.catch(() => undefined);
  }
  if (next < checkpoints.length) {
    const signed = checkpoints[checkpoints.length - 1].size;
    return { records: index, checkpoints: checkpoints.length, problem: problem(index, `the log ends at ${index} records but a checkpoint signed ${signed}: its tail was cut`) };
  }
  return { records: index, checkpoints: checkpoints.length };
}

/**
 * Verifies every log: each record's position and leaf hash, every checkpoint's signature by a
 * trusted key, and every signed root against the recomputed tree. Consecutive checkpoints of a
 * log are checked against the same recomputed tree, which is their consistency. Deletion, edit,
 * insertion, reordering, tail truncation and forged checkpoints all break it.
 */
export async function verifyLogs(
  store: AuditStore,
  trusted: readonly TrustedKey[],
  options: { /** Checkpoint notes held outside the store (witness files, an auditor's copies). */ witnesses?: readonly string[]; onLeaf?: () => void } = {},
): Promise<VerifyReport> {
  const report: VerifyReport = { ok: true, logs: [], leaves: 0 };
  const logs = await store.logs();
  // Witnessed checkpoints, by origin: each must match the store, and its log must still exist.
  const witnessed = new Map<string, Array<{ size: number; root: Buffer }>>();
  for (const note of options.witnesses ?? []) {
    const cp = trusted.map((k) => { try { return openCheckpoint(note, k); } catch { return undefined; } }).find((c) => c !== undefined);
    if (!cp) {
      report.problem ??= { logId: '(witness)', index: 0, message: 'a witnessed checkpoint is not signed by a trusted key' };
      continue;
    }
    const list = witnessed.get(cp.origin) ?? [];
    list.push({ size: cp.size, root: cp.root });
    witnessed.set(cp.origin, list);
  }
  for (const [origin, list] of witnessed) {
    if (!logs.some((l) => l.origin === origin)) {
      const logId = origin.replace(/^purposegate\.audit\//, '');
      report.problem ??= { logId, index: 0, message: `log "${logId}" is missing from the store, though a witness holds its checkpoint of size ${Math.max(...list.map((c) => c.size))}` };
    }
  }
  for (const log of logs) {
    const r = await verifyLog(store, log, trusted, witnessed.get(log.origin) ?? [], options.onLeaf);
    report.logs.push({ logId: log.logId, records: r.records, checkpoints: r.checkpoints, ...(r.problem ? { problem: r.problem } : {}) });
    report.leaves += r.records;
    if (r.problem && !report.problem) report.problem = r.problem;
  }
  report.ok = report.problem === undefined;
  return report;
}
