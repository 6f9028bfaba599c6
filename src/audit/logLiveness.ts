import { createHash } from 'node:crypto';
import type { Db } from '../db/index.js';

/**
 * Whether a log's writer is running, told by a PostgreSQL advisory lock the writer holds for its
 * whole life on a connection of its own (LogLease). The lock goes with the writer's session: a
 * process that dies loses it. `audit verify` reads pg_locks (no lock taken, nothing changed) to
 * tell a live log, whose newest records wait for the next checkpoint, from a dead one, whose
 * records past its last checkpoint no signature will ever cover. PGlite has one process: its
 * server tells verify its own log is live.
 */
const LOCK_CLASS = 7_201_006;

/** The lock's second key: 31 bits of SHA-256 of the log id (non-negative, so the same as an oid). */
export function logLockKey(logId: string): number {
  return createHash('sha256').update(logId).digest().readUInt32BE(0) & 0x7fff_ffff;
}

/** Logs whose writer is open in this process (PGlite's only process, or any store). */
const openHere = new Set<string>();

/** Marks a log as written by a writer of this process (true) or no longer (false). */
export function markOpenHere(logId: string, open: boolean): void {
  if (open) openHere.add(logId);
  else openHere.delete(logId);
}

/**
 * Ids among `logIds` whose writer is running: open in this process, or holding its lock in this
 * PostgreSQL database now. Throws when the database cannot say (callers fail towards "not live"
 * where that is the safe side, and do nothing where it is not).
 */
export async function liveLogIds(db: Pick<Db, 'query'> & { kind?: Db['kind'] }, logIds: readonly string[]): Promise<Set<string>> {
  const live = new Set(logIds.filter((id) => openHere.has(id)));
  if (logIds.length === 0 || db.kind === 'pglite') return live;
  const { rows } = await db.query<{ objid: string }>(
    `SELECT objid::text AS objid FROM pg_locks
      WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid = $1::int4::oid
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [LOCK_CLASS],
  );
  const held = new Set(rows.map((r) => Number(r.objid)));
  for (const id of logIds) if (held.has(logLockKey(id))) live.add(id);
  return live;
}

/**
 * The advisory lock a writer holds while it runs (PostgreSQL: on a connection of its own, outside
 * the pool). take() resolves once the lock is held; renew() checks the connection and takes the
 * lock again on a new one if it broke; release() lets it go (closing the connection).
 */
export class LogLease {
  private conn: (Pick<Db, 'query'> & { close(): Promise<void> }) | undefined;

  constructor(
    private readonly db: Pick<Db, 'dedicated'>,
    private readonly logId: string,
  ) {}

  async take(): Promise<void> {
    if (!this.db.dedicated || this.conn) return;
    const conn = await this.db.dedicated();
    try {
      await conn.query('SELECT pg_advisory_lock($1, $2)', [LOCK_CLASS, logLockKey(this.logId)]);
    } catch (err) {
      await conn.close().catch(() => undefined);
      throw err;
    }
    this.conn = conn;
  }

  /** Checks the lock's connection; on a broken one, takes the lock again (errors are thrown to the caller). */
  async renew(): Promise<void> {
    if (!this.db.dedicated) return;
    const conn = this.conn;
    if (conn) {
      try {
        await conn.query('SELECT 1');
        return;
      } catch {
        this.conn = undefined;
        await conn.close().catch(() => undefined);
      }
    }
    await this.take();
  }

  async release(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    // The lock ends with the session.
    await conn?.close().catch(() => undefined);
  }
}
