import { randomBytes } from 'node:crypto';
import type { Db } from '../db/index.js';
import { recordIdOf, type AuditEntry, type AuditLeaf } from './AuditRecord.js';
import { canonicalLeafBytes } from './canonicalJson.js';
import { CLOSED_EXTENSION, signCheckpoint, type AuditSigner } from './checkpoint.js';
import { isOpenHere, LogLease, markOpenHere } from './logLiveness.js';
import { sealLog, storeClosure, writeWitness } from './sealLog.js';
import { Frontier, leafHash } from './merkle.js';
import { deflatedLeaf } from './leafStorage.js';

/** Options of an audit writer. */
export interface AuditWriterOptions {
  policyVersion: string;
  signer: AuditSigner;
  /** Sign a checkpoint this often while records arrive. @default 10000 */
  checkpointIntervalMs?: number;
  /** Records per write transaction at most. @default 500 */
  maxBatch?: number;
  /** Log id; a fresh one per process by default. */
  logId?: string;
  /** A folder outside the database where each signed checkpoint is also written (a witness). */
  witnessDir?: string;
}

interface Pending {
  entry: AuditEntry;
  resolve: (v: { recordId: string; seq: number }) => void;
  reject: (e: Error) => void;
}

/** Batches of up to this many records are inserted with a prepared statement (one per size). */
const PREPARED_BATCH_ROWS = 32;

/**
 * The single sequencer of one Merkle log (one per gateway process). append() resolves once the
 * record is committed; records of concurrent requests share one INSERT (group commit). A failed
 * write rejects every record of its batch and consumes no sequence number, unless it committed
 * after all (its re-read of the log then takes the records in). Checkpoints
 * are signed from the same in-memory frontier the appends extend, so a checkpoint can never be
 * inconsistent with an earlier one of the same log.
 */
export class AuditWriter {
  readonly logId: string;
  readonly origin: string;
  private readonly frontier = new Frontier();
  private readonly queue: Pending[] = [];
  /** Whether a flush loop is running; cleared in the same tick the loop sees an empty queue. */
  private running = false;
  private flushing: Promise<void> = Promise.resolve();
  private lastCheckpointSize = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly lease: LogLease;
  /** Logs of earlier processes this writer sealed when it opened (their writers had stopped without closing them). */
  sealed: Array<{ logId: string; size: number }> = [];
  /** Records written and batches committed, for metrics and benchmarks. */
  readonly stats = { records: 0, batches: 0, failures: 0, checkpointFailures: 0 };

  private constructor(
    private readonly db: Db,
    private readonly options: AuditWriterOptions,
    logId: string,
  ) {
    this.logId = logId;
    this.origin = `purposegate.audit/${logId}`;
    this.lease = new LogLease(db, logId);
  }

  /** Registers a new log in the store and starts its checkpoint timer. */
  static async open(db: Db, options: AuditWriterOptions): Promise<AuditWriter> {
    const logId = options.logId ?? `gw-${new Date().toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(5).toString('hex')}`;
    const writer = new AuditWriter(db, options, logId);
    // The lease first: from the moment its row exists, the log is seen as live (`audit seal`
    // refuses it, verify waits for its checkpoints).
    if (!(await writer.lease.take())) throw new Error(`The lock of the new audit log ${logId} is held by another session.`);
    markOpenHere(logId, true);
    try {
      writer.sealed = await writer.sealStoppedLogs();
      await db.query('INSERT INTO audit_logs (log_id, origin, key_name, public_key) VALUES ($1, $2, $3, $4)', [
        logId,
        writer.origin,
        options.signer.name,
        options.signer.publicKey.toString('base64'),
      ]);
    } catch (err) {
      markOpenHere(logId, false);
      await writer.lease.release();
      throw err;
    }
    writer.timer = setInterval(() => {
      writer.checkpoint().catch(() => {
        writer.stats.checkpointFailures++;
      });
      writer.keepLease().catch(() => undefined); // tried again on the next tick
    }, options.checkpointIntervalMs ?? 10_000);
    writer.timer.unref();
    return writer;
  }

  /** False while the last write failed (until one succeeds): the gateway starts no mutation then. */
  get healthy(): boolean {
    return !this.closed && !this.lastWriteFailed && !this.lost;
  }
  /** Set when the log's lease was lost and another session took it, or the log was sealed: nothing more is written to it. */
  private lost: string | undefined;

  /** Why this writer stopped writing (its log was sealed or its lease taken), if it did. */
  get lostReason(): string | undefined {
    return this.lost;
  }

  /**
   * Renews the PostgreSQL lease; fails closed (no more appends, readiness 503) when it was lost
   * to another session or the log was sealed meanwhile: records written after a seal would show
   * as added to a sealed log.
   */
  private async keepLease(): Promise<void> {
    if (this.closed || this.lost || this.db.kind !== 'postgres') return;
    // The closure is checked even when the lock cannot be renewed now (the database refuses
    // writes after a seal in any case: migration 006).
    const held = await this.lease.renew().catch(() => true);
    const { rows } = await this.db.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_log_closures WHERE log_id = $1', [this.logId]);
    if (rows[0]?.n !== '0') this.lost = this.sealedAway();
    else if (!held) this.lost = `the lock of the audit log ${this.logId} was lost and another session holds it; restart this gateway to open a new log`;
  }
  private lastWriteFailed = false;

  /** Records in the log so far (committed). */
  get size(): number {
    return this.frontier.size;
  }

  /** Appends one record; resolves when it is durably committed. */
  append(entry: AuditEntry): Promise<{ recordId: string; seq: number }> {
    if (this.closed) return Promise.reject(new Error('The audit log is closed.'));
    if (this.lost) return Promise.reject(new Error(`The audit log cannot be written: ${this.lost}.`));
    return new Promise((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      if (!this.running) {
        this.running = true;
        this.flushing = this.flush();
      }
    });
  }

  private async flush(): Promise<void> {
    try {
      // Let the requests that finish in this tick join the batch.
      await new Promise((r) => setImmediate(r));
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.options.maxBatch ?? 500);
        const retry = await this.write(batch);
        // The store refused the data of the batch (not its connection): one record may be what
        // it cannot take. Write them one by one, so such a record fails alone.
        for (const p of retry) await this.write([p]);
      }
    } catch (err) {
      // write() settles every record it is given; this is a last guard so that nothing here can
      // end the process with an unhandled rejection.
      for (const p of this.queue.splice(0)) p.reject(new Error(`The audit log could not be written: ${(err as Error).message}`));
    } finally {
      // Same synchronous segment as the loop's last empty-queue check: no append can slip in
      // between (an await here, or a second async function, would let one in and strand it).
      this.running = false;
    }
  }

  /**
   * Writes `batch` in one transaction at the next positions of the log. On success every record
   * is resolved. A record that cannot be canonicalised is rejected on its own. When the store
   * refuses the batch, its records are returned, still pending, if the refusal was about the data
   * (SQLSTATE classes 22 and 23: to be written one by one), and are rejected otherwise.
   */
  private async write(batch: Pending[]): Promise<Pending[]> {
    const start = this.frontier.size;
    const rows: Array<{ pending: Pending; leaf: AuditLeaf; text: string | Buffer | null; deflated: Buffer | string | null; hash: Buffer }> = [];
    for (const p of batch) {
      const seq = start + rows.length;
      const leaf: AuditLeaf = { v: 1, logId: this.logId, seq, recordId: recordIdOf(this.logId, seq), policyVersion: this.options.policyVersion, ...p.entry };
      try {
        // The UTF-8 bytes are hashed. A large leaf is stored as those bytes deflated
        // (leafStorage). A smaller one as text: PostgreSQL is given the same bytes, a bound
        // parameter in binary format, read into the text column as it is (the encoding checked),
        // so `pg` does not encode the leaf again. PGlite turns every parameter of a text column
        // into a string first (its serializer), so it is given the string (decoded from the
        // bytes: one byte per character when it is ASCII), which it measures and encodes itself.
        const bytes = canonicalLeafBytes(leaf);
        const deflated = deflatedLeaf(bytes);
        const text = deflated ? null : this.db.kind === 'pglite' ? bytes.toString('utf8') : bytes;
        // PGlite writes a bytea parameter out as hex one byte at a time in JavaScript: it is given
        // base64 text, decoded by the database (~0.45 ms against ~0.85 ms per 6 KB leaf, measured).
        const stored = deflated && this.db.kind === 'pglite' ? deflated.toString('base64') : (deflated ?? null);
        rows.push({ pending: p, leaf, text, deflated: stored, hash: leafHash(bytes) });
      } catch (err) {
        // Settled here, alone: a record taken off the queue must never be left waiting.
        this.stats.failures++;
        p.reject(new Error(`The audit record cannot be written: ${(err as Error).message}`));
      }
    }
    if (rows.length === 0) return [];
    const params: unknown[] = [];
    const deflatedParam = this.db.kind === 'pglite' ? (n: number) => `decode($${n}::text, 'base64')` : (n: number) => `$${n}::bytea`;
    const values = rows.map((r) => {
      const l = r.leaf;
      const subjects = [...new Set(l.decisions.map((d) => d.subscriberId))];
      params.push(l.logId, l.seq, l.recordId, l.at, r.hash.toString('hex'), r.text, r.deflated, l.purpose, l.caller?.sub ?? null, l.caller?.kind ?? null, l.rejection?.code ?? null, subjects);
      const b = params.length - 12;
      return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, ${deflatedParam(b + 7)}, $${b + 8}, $${b + 9}, $${b + 10}, $${b + 11}, $${b + 12}::text[])`;
    });
    try {
      // One statement, atomic on its own: one round trip per batch. When it fails, the log is
      // re-read on the same connection, so the re-read runs only after the INSERT has ended on
      // the server: an INSERT that timed out on the client but then committed is taken into the
      // tree, not collided with. (Should a connection break while the server still commits, the
      // primary key (log_id, seq) refuses the next batch at those positions and its re-read takes
      // them in: the log never forks, and a record the gateway reported as failed may be in it.)
      await this.db.session(async (conn) => {
        try {
          await conn.query(
            `INSERT INTO audit_records (log_id, seq, record_id, at, leaf_hash, body, body_deflate, purpose, caller_sub, caller_kind, rejection_code, subscriber_ids)
             VALUES ${values.join(', ')}`,
            params,
            // Its text depends only on the batch's size: prepared for the sizes group commit makes
            // under load, so the server parses and plans each size once per connection.
            { prepared: rows.length <= PREPARED_BATCH_ROWS },
          );
        } catch (err) {
          // The same connection first; should it be broken, any other (as good as can be known).
          if (!(await this.resync(conn))) await this.resync();
          throw err;
        }
      });
    } catch (err) {
      this.stats.failures++;
      this.lastWriteFailed = true;
      this.noteClosure(err);
      const code = String((err as { code?: unknown }).code ?? '');
      // Refused for its data (one record may be what the store cannot take): one by one. Refused
      // because its positions were taken by an earlier write that committed after all (the
      // re-read took those in): again, at the next positions.
      const dataRefused = (code.startsWith('22') || code.startsWith('23')) && this.frontier.size === start;
      const positionsTaken = code === '23505' && this.frontier.size > start;
      if (rows.length > 1 && (dataRefused || positionsTaken)) return rows.map((r) => r.pending);
      const error = new Error(`The audit log could not be written: ${(err as Error).message}`);
      for (const r of rows) r.pending.reject(error);
      return [];
    }
    this.lastWriteFailed = false;
    // Only positions the tree does not hold yet: a probe's re-read may already have taken this
    // committed batch in while its acknowledgement was on its way.
    rows.forEach((r, i) => {
      if (start + i === this.frontier.size) this.frontier.push(r.hash);
    });
    this.stats.records += rows.length;
    this.stats.batches++;
    for (const r of rows) r.pending.resolve({ recordId: r.leaf.recordId, seq: r.leaf.seq });
    return [];
  }

  /**
   * After a failed write, re-reads the log: a commit whose acknowledgement was lost did land, and
   * the in-memory tree must then take those records in, or every later write would collide.
   */
  private async resync(conn: Pick<Db, 'query'> = this.db): Promise<boolean> {
    try {
      const { rows } = await conn.query<{ seq: string | number; leaf_hash: string }>('SELECT seq, leaf_hash FROM audit_records WHERE log_id = $1 AND seq >= $2 ORDER BY seq', [
        this.logId,
        this.frontier.size,
      ]);
      // Each at its own position only: a write (or another re-read) may have taken some in
      // meanwhile, and the tree must never hold a position twice or skip one.
      for (const r of rows) if (Number(r.seq) === this.frontier.size) this.frontier.push(Buffer.from(r.leaf_hash, 'hex'));
      return true;
    } catch {
      // Still unreachable: the next batch will fail (and resync) again.
      return false;
    }
  }

  /** The store refused a write because the log was sealed by another process (migration 006): write no more. */
  private noteClosure(err: unknown): void {
    if (/ is closed: nothing is added to it/.test(String((err as Error)?.message))) {
      this.lost ??= this.sealedAway();
    }
  }

  private sealedAway(): string {
    return `the audit log ${this.logId} was sealed by another process (its lease was lost); restart this gateway to open a new log`;
  }

  /** Signs and stores a checkpoint of the current tree, if it grew since the last one. */
  async checkpoint(): Promise<{ size: number; note: string } | undefined> {
    const size = this.frontier.size;
    if (size === 0 || size <= this.lastCheckpointSize || this.lost) return undefined;
    const root = this.frontier.root();
    const note = signCheckpoint({ origin: this.origin, size, root }, this.options.signer);
    await this.db
      .query('INSERT INTO audit_checkpoints (log_id, tree_size, root_hash, note) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
        this.logId,
        size,
        root.toString('base64'),
        note,
      ])
      .catch((err: unknown) => {
        this.noteClosure(err);
        throw err;
      });
    this.lastCheckpointSize = Math.max(this.lastCheckpointSize, size);
    writeWitness(this.options.witnessDir, this.logId, note);
    return { size, note };
  }

  /**
   * Whether the log can be written now. After a failed write it tries a rolled-back insert into
   * the records table (no sequence number used, nothing kept); its success makes the writer
   * healthy again, so readiness recovers without waiting for traffic.
   */
  async probe(): Promise<boolean> {
    if (this.closed || this.lost) return false;
    if (!this.lastWriteFailed) return true;
    const rollback = new Error('probe: roll back');
    try {
      await this.db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO audit_records (log_id, seq, record_id, at, leaf_hash, body) VALUES ($1, -1, $2, now(), '', '{}')`,
          [this.logId, `${this.logId}-probe-${randomBytes(6).toString('hex')}`],
        );
        throw rollback;
      });
    } catch (err) {
      if (err !== rollback) return false;
    }
    await this.resync();
    this.lastWriteFailed = false;
    return true;
  }

  /**
   * Writes what is queued, signs a final checkpoint and the log's closure (a checkpoint of the same
   * size with a closed extension line: records found past it later were added), stops the timer.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    while (this.running) await this.flushing;
    this.closed = true;
    try {
      await this.checkpoint();
      // Not over a log another process sealed (the closure would be refused anyway).
      if (!this.lost) await storeClosure(this.db, this.options.signer, { logId: this.logId, origin: this.origin, size: this.frontier.size, root: this.frontier.root() }, CLOSED_EXTENSION, this.options.witnessDir);
    } finally {
      markOpenHere(this.logId, false);
      await this.lease.release();
    }
  }

  /**
   * Seals the logs of earlier processes that stopped without closing them (killed, crashed), on
   * the embedded store only: this process holds the DATA_DIR, so no other writer runs. Records
   * such a process wrote after its last checkpoint are then covered, and `audit verify` says they
   * were signed only at this start. On PostgreSQL another gateway may be running (or may have
   * lost its lease for a moment): a stopped gateway's log is sealed by `audit seal --log ID`.
   * Best effort: a log that cannot be sealed now is left as it is (verify reports it).
   */
  private async sealStoppedLogs(): Promise<Array<{ logId: string; size: number }>> {
    if (this.db.kind !== 'pglite') return [];
    const { rows } = await this.db.query<{ log_id: string; origin: string; key_name: string; public_key: string }>(
      `SELECT log_id, origin, key_name, public_key FROM audit_logs l
        WHERE NOT EXISTS (SELECT 1 FROM audit_log_closures c WHERE c.log_id = l.log_id) ORDER BY created_at, log_id`,
    );
    const sealed: Array<{ logId: string; size: number }> = [];
    for (const log of rows) {
      if (log.key_name !== this.options.signer.name || log.public_key !== this.options.signer.publicKey.toString('base64')) continue;
      if (isOpenHere(log.log_id)) continue; // this writer's own, or another writer's of this process
      try {
        const { size } = await sealLog(this.db, this.options.signer, { logId: log.log_id, origin: log.origin }, this.logId, this.options.witnessDir);
        sealed.push({ logId: log.log_id, size });
      } catch {
        // Left open: verify reports its unsigned records, and the next start tries again.
      }
    }
    return sealed;
  }
}
