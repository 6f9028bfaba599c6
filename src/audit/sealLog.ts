import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../db/index.js';
import { SEALED_EXTENSION, signCheckpoint, type AuditSigner, type Checkpoint } from './checkpoint.js';
import { Frontier } from './merkle.js';

/** Writes a signed note to `<witnessDir>/<logId>.checkpoint`, atomically (a witness outside the database). */
export function writeWitness(witnessDir: string | undefined, logId: string, note: string): void {
  if (!witnessDir) return;
  mkdirSync(witnessDir, { recursive: true });
  const file = join(witnessDir, `${logId}.checkpoint`);
  writeFileSync(`${file}.tmp`, note);
  renameSync(`${file}.tmp`, file);
}

/** Signs and stores a log's closure: a checkpoint with one extension line (closed, or sealed by). */
export async function storeClosure(db: Pick<Db, 'query'>, signer: AuditSigner, c: Checkpoint & { logId: string }, extension: string, witnessDir?: string): Promise<string> {
  const note = signCheckpoint({ origin: c.origin, size: c.size, root: c.root, extensions: [extension] }, signer);
  await db.query('INSERT INTO audit_log_closures (log_id, tree_size, note) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [c.logId, c.size, note]);
  writeWitness(witnessDir, c.logId, note);
  return note;
}

/**
 * Seals a log whose writer stopped without closing it: signs a checkpoint of the records it holds
 * (in order, up to the first gap: a gap is verify's to report), with the extension line naming who
 * sealed it. The caller makes sure the writer is gone (PGlite: this process holds the DATA_DIR;
 * PostgreSQL: it holds the log's lock). Returns the size sealed, and the size of the log's last
 * checkpoint (the records between were under no signature until now).
 */
export async function sealLog(
  db: Pick<Db, 'transaction'>,
  signer: AuditSigner,
  log: { logId: string; origin: string },
  sealedBy: string,
  witnessDir?: string,
): Promise<{ size: number; lastCheckpoint: number }> {
  // One transaction holding the log's row FOR UPDATE: a writer still appending (unaware) waits,
  // and after the commit its insert sees the closure and fails (migration 006's trigger). Its
  // records committed before are read here, and sealed.
  const sealed = await db.transaction(async (tx) => {
    // Each statement below must see what committed before it (after the lock's wait): READ
    // COMMITTED, whatever default_transaction_isolation says.
    await tx.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
    const { rows: locked } = await tx.query('SELECT 1 FROM audit_logs WHERE log_id = $1 FOR UPDATE', [log.logId]);
    if (locked.length === 0) throw new Error(`No log "${log.logId}" in the store.`);
    const { rows: closed } = await tx.query('SELECT 1 FROM audit_log_closures WHERE log_id = $1', [log.logId]);
    if (closed.length > 0) throw new AlreadyClosedError(log.logId);
    const frontier = new Frontier();
    for (;;) {
      const page = await tx.query<{ seq: string | number; leaf_hash: string }>(
        'SELECT seq, leaf_hash FROM audit_records WHERE log_id = $1 AND seq >= $2 ORDER BY seq LIMIT 10000',
        [log.logId, frontier.size],
      );
      let contiguous = true;
      for (const r of page.rows) {
        if (Number(r.seq) !== frontier.size || !/^[0-9a-f]{64}$/.test(r.leaf_hash)) {
          contiguous = false;
          break;
        }
        frontier.push(Buffer.from(r.leaf_hash, 'hex'));
      }
      if (!contiguous || page.rows.length < 10000) break;
    }
    const { rows } = await tx.query<{ n: string | number | null }>('SELECT max(tree_size) AS n FROM audit_checkpoints WHERE log_id = $1', [log.logId]);
    const note = signCheckpoint({ origin: log.origin, size: frontier.size, root: frontier.root(), extensions: [`${SEALED_EXTENSION} ${sealedBy}`] }, signer);
    await tx.query('INSERT INTO audit_log_closures (log_id, tree_size, note) VALUES ($1, $2, $3)', [log.logId, frontier.size, note]);
    return { size: frontier.size, lastCheckpoint: Number(rows[0]?.n ?? 0), note };
  });
  writeWitness(witnessDir, log.logId, sealed.note);
  return { size: sealed.size, lastCheckpoint: sealed.lastCheckpoint };
}

/** The log already has a closure (closed by its writer, or sealed). */
export class AlreadyClosedError extends Error {
  constructor(readonly logId: string) {
    super(`Log "${logId}" is already closed or sealed.`);
    this.name = 'AlreadyClosedError';
  }
}
