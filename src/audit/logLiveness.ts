import { createHash } from 'node:crypto';
import type { Db } from '../db/index.js';

/**
 * Whether a log's writer is running. In this process: the writers open here (PGlite has one
 * process, so its server knows). On PostgreSQL: a session-level advisory lock, keyed by a 64-bit
 * hash of the log id, that the writer holds for its whole life on a connection of its own
 * (LogLease); a process that dies loses it with its session (the lease connection sets TCP
 * keepalives, so a host that vanishes does too, within about a minute). Anyone who can connect can
 * take such a lock, so `audit verify` never passes records on the lock's word alone: it waits for
 * the writer's next signed checkpoint to cover them (verifyLogs).
 */

/** The lock's key: the first 8 bytes of SHA-256 of the log id, as a signed 64-bit integer (decimal text). */
export function logLockKey(logId: string): string {
  return createHash('sha256').update(`purposegate.audit.lease\n${logId}`).digest().readBigInt64BE(0).toString();
}

/** pg_locks shows a bigint key as classid (high 32 bits) and objid (low 32 bits), objsubid 1. */
function lockColumns(key: string): { classid: number; objid: number } {
  const k = BigInt.asUintN(64, BigInt(key));
  return { classid: Number(k >> 32n), objid: Number(k & 0xffff_ffffn) };
}

/** Logs whose writer is open in this process. */
const openHere = new Set<string>();

/** Marks a log as written by a writer of this process (true) or no longer (false). */
export function markOpenHere(logId: string, open: boolean): void {
  if (open) openHere.add(logId);
  else openHere.delete(logId);
}

/** Which of `logIds` have a running writer: here (this process) or by their lease (another process, PostgreSQL). */
export interface LiveLogs {
  here: Set<string>;
  lease: Set<string>;
}

/** Reads which of `logIds` have a running writer. Throws when PostgreSQL cannot say. */
export async function liveLogIds(db: Pick<Db, 'query'> & { kind?: Db['kind'] }, logIds: readonly string[]): Promise<LiveLogs> {
  const here = new Set(logIds.filter((id) => openHere.has(id)));
  const lease = new Set<string>();
  if (logIds.length === 0 || db.kind === 'pglite') return { here, lease };
  const { rows } = await db.query<{ classid: string; objid: string }>(
    `SELECT classid::text AS classid, objid::text AS objid FROM pg_locks
      WHERE locktype = 'advisory' AND granted AND objsubid = 1
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  const held = new Set(rows.map((r) => `${r.classid}/${r.objid}`));
  for (const id of logIds) {
    if (here.has(id)) continue;
    const c = lockColumns(logLockKey(id));
    if (held.has(`${c.classid}/${c.objid}`)) lease.add(id);
  }
  return { here, lease };
}

type Conn = Pick<Db, 'query'> & { close(): Promise<void> };

/** Opens a lease connection with TCP keepalives the server applies (its side notices a dead host). */
async function leaseConnection(db: Pick<Db, 'dedicated'>): Promise<Conn> {
  const conn = await db.dedicated!();
  await conn.query('SET tcp_keepalives_idle = 20; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3').catch(() => undefined);
  return conn;
}

/**
 * Takes `logId`'s lock on a connection of its own if nobody holds it, and returns that connection
 * (the lock lasts until it is closed), or undefined when it is held.
 */
export async function tryLockLog(db: Pick<Db, 'dedicated'>, logId: string): Promise<Conn | undefined> {
  const conn = await leaseConnection(db);
  try {
    const { rows } = await conn.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [logLockKey(logId)]);
    if (rows[0]?.ok) return conn;
  } catch (err) {
    await conn.close().catch(() => undefined);
    throw err;
  }
  await conn.close().catch(() => undefined);
  return undefined;
}

/**
 * The lock a writer holds while it runs (PostgreSQL: on a connection of its own, outside the
 * pool). take() and renew() run one at a time; after release() no connection is kept.
 */
export class LogLease {
  private conn: Conn | undefined;
  private released = false;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Pick<Db, 'dedicated'>,
    private readonly logId: string,
  ) {}

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Takes the lock; false when another session holds it. */
  take(): Promise<boolean> {
    return this.serial(async () => {
      if (!this.db.dedicated || this.released) return true;
      if (this.conn) return true;
      const conn = await tryLockLog(this.db, this.logId);
      if (!conn) return false;
      if (this.released) {
        await conn.close().catch(() => undefined);
        return true;
      }
      this.conn = conn;
      return true;
    });
  }

  /**
   * Checks the lock's connection; on a broken one, takes the lock again on a new one. False when
   * it was lost and another session holds it now (a gateway that sealed the log, or anyone else).
   */
  renew(): Promise<boolean> {
    return this.serial(async () => {
      if (!this.db.dedicated || this.released) return true;
      const conn = this.conn;
      if (conn) {
        try {
          await conn.query('SELECT 1');
          return true;
        } catch {
          this.conn = undefined;
          await conn.close().catch(() => undefined);
        }
      }
      const again = await tryLockLog(this.db, this.logId);
      if (!again) return false;
      if (this.released) await again.close().catch(() => undefined);
      else this.conn = again;
      return true;
    });
  }

  release(): Promise<void> {
    this.released = true;
    return this.serial(async () => {
      const conn = this.conn;
      this.conn = undefined;
      // The lock ends with the session.
      await conn?.close().catch(() => undefined);
    });
  }
}

/** Whether a writer of this process has `logId` open. */
export function isOpenHere(logId: string): boolean {
  return openHere.has(logId);
}
