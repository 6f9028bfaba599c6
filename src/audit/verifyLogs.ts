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

/** The index columns a record's body implies. */
function expectedIndex(leaf: AuditLeaf) {
  return {
    at: new Date(leaf.at).toISOString(),
    purpose: leaf.purpose,
    callerSub: leaf.caller?.sub ?? null,
    callerKind: leaf.caller?.kind ?? null,
    rejectionCode: leaf.rejection?.code ?? null,
    subscriberIds: [...new Set(leaf.decisions.map((d) => d.subscriberId))].sort(),
  };
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
      if (r.index) {
        const want = expectedIndex(leaf);
        const got = { ...r.index, subscriberIds: [...r.index.subscriberIds].sort() };
        const changed = (Object.keys(want) as Array<keyof typeof want>).filter((k) => JSON.stringify(want[k]) !== JSON.stringify(got[k]));
        if (changed.length > 0) {
          return { records: index, checkpoints: checkpoints.length, problem: problem(index, `record ${index}'s query columns were changed (${changed.join(', ')}): they no longer match its content`) };
        }
      }
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
