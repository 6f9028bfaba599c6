import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditWriter, dbAuditStore, loadOrCreateAuditSigner, verifyLogs } from '../../src/audit/index.js';
import { openPostgres, type Db } from '../../src/db/index.js';
import { entryWithDecisions as entry } from '../fixtures/auditEntries.js';
import { openTestDb } from '../harness.js';

/**
 * Another session takes `table` in EXCLUSIVE mode, runs `whileHeld` on its connection, then lets
 * go. Resolves `taken` once the lock is held; `done` once it is let go.
 */
function holdLock(holder: Db, table: string, whileHeld: (c: Pick<Db, 'query'>) => Promise<void>): { taken: Promise<void>; done: Promise<void> } {
  let locked!: () => void;
  const taken = new Promise<void>((r) => (locked = r));
  const done = holder.session(async (c) => {
    await c.query('BEGIN');
    await c.query(`LOCK TABLE ${table} IN EXCLUSIVE MODE`);
    locked();
    await whileHeld(c);
    await c.query('COMMIT');
  });
  return { taken, done };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** What each test runs on: a fresh store, the gateway's pool on it, another session, a signer. */
interface Stores {
  store: Awaited<ReturnType<typeof openTestDb>>;
  db: Db;
  holder: Db;
  signer: ReturnType<typeof loadOrCreateAuditSigner>;
}

/** Runs `body` on a fresh store with the gateway's pool opened with `options`; everything is closed and dropped after. */
async function withStores(options: Parameters<typeof openPostgres>[1], body: (s: Stores) => Promise<void>): Promise<void> {
  const store = await openTestDb();
  const dir = mkdtempSync(join(tmpdir(), 'pg-writer-faults-'));
  const db = await openPostgres(store.url!, options);
  const holder = await openPostgres(store.url!, { max: 1 });
  try {
    await body({ store, db, holder, signer: loadOrCreateAuditSigner(dir) });
  } finally {
    await holder.close();
    await db.close();
    await store.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The client's wait for one statement in this test (the product's is 30 s). */
const TIMEOUT_MS = 1000;

describe.skipIf(!process.env.TEST_DATABASE_URL)('audit writes when the connection fails (PostgreSQL)', () => {
  it('is taken into the tree by the re-read on its own connection: the next record lands after it, and the log verifies', async () => {
    // No server-side statement timeout here: the case is a statement that outlives the client's wait.
    await withStores({ max: 4, queryTimeoutMs: TIMEOUT_MS, statementTimeoutMs: 0 }, async ({ store, db, holder, signer }) => {
      const writer = await AuditWriter.open(db, { policyVersion: 'p', signer });
      // Another session holds the records table: the writer's INSERT waits on the server past
      // the client's timeout, and commits once the lock is let go (before the re-read's own
      // timeout, which starts when it is queued behind the INSERT).
      const lock = holdLock(holder, 'audit_records', () => sleep(TIMEOUT_MS * 1.5));
      await lock.taken;
      await expect(writer.append(entry(3))).rejects.toThrow(/The audit log could not be written: Query read timeout/);
      await lock.done;
      // The record the client gave up on is in the log, and the writer knows it.
      const { rows: first } = await store.query<{ seq: string }>('SELECT seq FROM audit_records WHERE log_id = $1 ORDER BY seq', [writer.logId]);
      expect(first.map((r) => Number(r.seq))).toEqual([0]);
      expect(writer.size).toBe(1);
      // So the next record takes the next position instead of colliding with it.
      await expect(writer.append(entry(2))).resolves.toMatchObject({ seq: 1 });
      expect(writer.healthy).toBe(true);
      await writer.close();
      const trusted = [{ name: signer.name, publicKey: signer.publicKey }];
      expect(await verifyLogs(dbAuditStore(store), trusted)).toMatchObject({ ok: true, leaves: 2 });
    });
  });

  it('a connection terminated in the middle of an INSERT refuses that batch only: the process goes on, the next record is written, the log verifies', async () => {
    await withStores({ max: 4 }, async ({ store, db, holder, signer }) => {
      const writer = await AuditWriter.open(db, { policyVersion: 'p', signer });
      let terminated = 0;
      const lock = holdLock(holder, 'audit_records', async (c) => {
        // The writer's INSERT waits on the lock; its backend is terminated (a failover, a restart).
        for (let i = 0; i < 50 && terminated === 0; i++) {
          await sleep(50);
          const { rows } = await c.query<{ pid: number }>(
            `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'INSERT INTO audit_records%' AND state = 'active'`,
          );
          for (const r of rows) await c.query('SELECT pg_terminate_backend($1)', [r.pid]);
          terminated = rows.length;
        }
      });
      await lock.taken;
      await expect(writer.append(entry(3))).rejects.toThrow(/The audit log could not be written/);
      await lock.done;
      expect(terminated).toBe(1);
      expect(writer.size).toBe(0);
      await expect(writer.append(entry(2))).resolves.toMatchObject({ seq: 0 });
      expect(writer.healthy).toBe(true);
      await writer.close();
      const trusted = [{ name: signer.name, publicKey: signer.publicKey }];
      expect(await verifyLogs(dbAuditStore(store), trusted)).toMatchObject({ ok: true, leaves: 1 });
    });
  });

  it('a transaction whose ROLLBACK timed out closes its connection: a statement run next on the pool is committed', async () => {
    const logRow = (id: string) => [id, `origin/${id}`, 'k', 'pk'];
    const insertLog = 'INSERT INTO audit_logs (log_id, origin, key_name, public_key) VALUES ($1, $2, $3, $4)';
    // One connection: were the failed transaction's handed back, the next statement would run in it.
    await withStores({ max: 1, queryTimeoutMs: 400, statementTimeoutMs: 0 }, async ({ store, db, holder }) => {
      const lock = holdLock(holder, 'audit_logs', () => sleep(1200)); // past the INSERT's timeout and its ROLLBACK's
      await lock.taken;
      await expect(db.transaction((tx) => tx.query(insertLog, logRow('in-failed-transaction')))).rejects.toThrow(/timeout/i);
      await lock.done;
      await db.session((c) => c.query(insertLog, logRow('after')));
      const { rows } = await store.query<{ log_id: string }>('SELECT log_id FROM audit_logs ORDER BY log_id');
      expect(rows.map((r) => r.log_id)).toEqual(['after']);
    });
  });
});
