import type { AuditLeaf } from './AuditRecord.js';
import type { AuditStore, StoredLog } from './AuditStore.js';
import { openCheckpoint } from './checkpoint.js';
import { Frontier, leafHash } from './merkle.js';

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

const PAGE = 20_000;

async function verifyLog(store: AuditStore, log: StoredLog, trusted: readonly TrustedKey[], onLeaf?: () => void) {
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
  const frontier = new Frontier();
  let next = 0; // next checkpoint to compare
  let lastVerifiedSize = 0;
  let index = 0;
  for (;;) {
    const page = await store.records(log.logId, index, PAGE);
    for (const r of page) {
      if (r.seq !== index) return { records: index, checkpoints: checkpoints.length, problem: problem(index, `record ${index} is missing (the next stored record is ${r.seq})`) };
      let leaf: AuditLeaf;
      try {
        leaf = JSON.parse(r.body) as AuditLeaf;
      } catch {
        return { records: index, checkpoints: checkpoints.length, problem: problem(index, `record ${index} is not valid JSON`) };
      }
      if (leaf.logId !== log.logId || leaf.seq !== index || leaf.recordId !== r.recordId) {
        const claimed = typeof leaf.seq === 'number' ? leaf.seq : NaN;
        const at = claimed < index ? claimed : index;
        return {
          records: index,
          checkpoints: checkpoints.length,
          problem: problem(at, `index ${index} holds the record written as index ${claimed}${leaf.logId !== log.logId ? ` of log "${leaf.logId}"` : ''}: records were inserted, deleted or reordered`),
        };
      }
      const hash = leafHash(Buffer.from(r.body, 'utf8'));
      if (hash.toString('hex') !== r.leafHash) return { records: index, checkpoints: checkpoints.length, problem: problem(index, `record ${index} was changed: its content no longer matches its leaf hash`) };
      frontier.push(hash);
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
    if (page.length < PAGE) break;
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
export async function verifyLogs(store: AuditStore, trusted: readonly TrustedKey[], onLeaf?: () => void): Promise<VerifyReport> {
  const report: VerifyReport = { ok: true, logs: [], leaves: 0 };
  for (const log of await store.logs()) {
    const r = await verifyLog(store, log, trusted, onLeaf);
    report.logs.push({ logId: log.logId, records: r.records, checkpoints: r.checkpoints, ...(r.problem ? { problem: r.problem } : {}) });
    report.leaves += r.records;
    if (r.problem && !report.problem) report.problem = r.problem;
  }
  report.ok = report.problem === undefined;
  return report;
}
