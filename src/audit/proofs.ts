import type { AuditLeaf } from './AuditRecord.js';
import type { AuditStore } from './AuditStore.js';
import { finality, openCheckpoint } from './checkpoint.js';
import { consistencyProof, inclusionProof, leafHash, verifyConsistency, verifyInclusion } from './merkle.js';
import type { TrustedKey } from './verifyLogs.js';

/** An inclusion proof: one record, a signed checkpoint covering it, and the audit path. */
export interface InclusionProof {
  kind: 'inclusion';
  logId: string;
  index: number;
  /** The record's canonical JSON, exactly as hashed. */
  leaf: string;
  checkpoint: string;
  proof: string[];
}

/** A consistency proof between two signed checkpoints of one log. */
export interface ConsistencyProof {
  kind: 'consistency';
  logId: string;
  old: string;
  new: string;
  proof: string[];
}

async function leafHashes(store: AuditStore, logId: string, size: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  while (out.length < size) {
    const page = await store.leafHashes(logId, out.length, Math.min(50_000, size - out.length));
    if (page.length === 0) throw new Error(`Log "${logId}" has only ${out.length} records.`);
    for (const hash of page) out.push(Buffer.from(hash, 'hex'));
  }
  return out;
}

/** A log's signed notes by size: its checkpoints, then its closure or seal (which may be the only note covering its last records). */
async function signedNotes(store: AuditStore, logId: string): Promise<Array<{ size: number; note: string }>> {
  return [...(await store.checkpoints(logId)), ...(await store.closures(logId))].sort((a, b) => a.size - b.size);
}

/** Builds the inclusion proof of a record against the newest checkpoint that covers it. */
export async function proveRecord(store: AuditStore, recordId: string): Promise<InclusionProof> {
  const m = /^(.*)-(\d+)$/.exec(recordId);
  if (!m) throw new Error(`"${recordId}" is not a record id (log-id-index).`);
  const [, logId, indexText] = m;
  const index = Number(indexText);
  if (!Number.isSafeInteger(index)) throw new Error(`Record "${recordId}" is not in the log.`);
  const [record] = await store.records(logId, index, 1);
  if (!record || record.seq !== index || record.recordId !== recordId) throw new Error(`Record "${recordId}" is not in the log.`);
  const checkpoints = (await signedNotes(store, logId)).filter((c) => c.size > index);
  const cp = checkpoints[checkpoints.length - 1];
  if (!cp) throw new Error(`No checkpoint covers record "${recordId}" yet; wait for the next one (at most 10 s) and retry.`);
  const leaves = await leafHashes(store, logId, cp.size);
  return { kind: 'inclusion', logId, index, leaf: record.body, checkpoint: cp.note, proof: inclusionProof(index, leaves).map((b) => b.toString('base64')) };
}

/** Builds a consistency proof from the checkpoint of size `oldSize` to the newest one. */
export async function proveConsistency(store: AuditStore, logId: string, oldSize: number): Promise<ConsistencyProof> {
  const checkpoints = await signedNotes(store, logId);
  const old = checkpoints.find((c) => c.size === oldSize);
  if (!old) throw new Error(`Log "${logId}" has no checkpoint of size ${oldSize}.`);
  const latest = checkpoints[checkpoints.length - 1];
  const leaves = await leafHashes(store, logId, latest.size);
  return { kind: 'consistency', logId, old: old.note, new: latest.note, proof: consistencyProof(oldSize, leaves).map((b) => b.toString('base64')) };
}

/**
 * Checks a proof offline, with nothing but the proof and the auditor's key: the checkpoints'
 * signatures, and the Merkle path. Returns a one-line description; throws when it fails.
 */
export function checkProof(proof: InclusionProof | ConsistencyProof, key: TrustedKey): string {
  if (proof.kind === 'inclusion') {
    const cp = openCheckpoint(proof.checkpoint, key);
    const leaf = JSON.parse(proof.leaf) as AuditLeaf;
    if (leaf.seq !== proof.index || cp.origin !== `purposegate.audit/${leaf.logId}`) throw new Error('The record does not claim this position in this log.');
    const ok = verifyInclusion(proof.index, cp.size, leafHash(Buffer.from(proof.leaf, 'utf8')), proof.proof.map((p) => Buffer.from(p, 'base64')), cp.root);
    if (!ok) throw new Error(`Record ${proof.index} is NOT included in the checkpoint of size ${cp.size}.`);
    const f = finality(cp);
    const by = f?.kind === 'closed' ? ' (its closing checkpoint)' : f?.kind === 'sealed' ? ` (a seal signed by ${f.by} after its writer stopped)` : '';
    return `record ${leaf.recordId} (index ${proof.index}) is included in ${cp.origin} at size ${cp.size}${by}`;
  }
  const a = openCheckpoint(proof.old, key);
  const b = openCheckpoint(proof.new, key);
  if (a.origin !== b.origin) throw new Error('The two checkpoints belong to different logs.');
  if (!verifyConsistency(a.size, b.size, a.root, b.root, proof.proof.map((p) => Buffer.from(p, 'base64')))) {
    throw new Error(`The checkpoint of size ${b.size} is NOT consistent with the one of size ${a.size}.`);
  }
  return `${b.origin}: checkpoint of size ${b.size} is consistent with size ${a.size}`;
}
