import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditWriter, dbAuditStore, loadOrCreateAuditSigner, verifyLogs } from '../../src/audit/index.js';
import { openPostgres } from '../../src/db/index.js';
import { entryWithDecisions as entry } from '../fixtures/auditEntries.js';
import { openTestDb } from '../harness.js';

/** The client's wait for one statement in this test (the product's is 30 s). */
const TIMEOUT_MS = 1000;

describe.skipIf(!process.env.TEST_DATABASE_URL)('an audit write that times out on the client but commits on the server (PostgreSQL)', () => {
  it('is taken into the tree by the re-read on its own connection: the next record lands after it, and the log verifies', async () => {
    const store = await openTestDb();
    const dir = mkdtempSync(join(tmpdir(), 'pg-writer-timeout-'));
    const db = await openPostgres(store.url!, { max: 4, queryTimeoutMs: TIMEOUT_MS });
    const holder = await openPostgres(store.url!, { max: 1 });
    try {
      const signer = loadOrCreateAuditSigner(dir);
      const writer = await AuditWriter.open(db, { policyVersion: 'p', signer });
      // Another session holds the records table: the writer's INSERT waits on the server past
      // the client's timeout, and commits once the lock is let go (before the re-read's own
      // timeout, which starts when it is queued behind the INSERT).
      let locked!: () => void;
      const lockTaken = new Promise<void>((r) => (locked = r));
      const held = holder.session(async (c) => {
        await c.query('BEGIN');
        await c.query('LOCK TABLE audit_records IN EXCLUSIVE MODE');
        locked();
        await new Promise((r) => setTimeout(r, TIMEOUT_MS * 1.5));
        await c.query('COMMIT');
      });
      await lockTaken;
      await expect(writer.append(entry(3))).rejects.toThrow(/The audit log could not be written: Query read timeout/);
      await held;
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
    } finally {
      await holder.close();
      await db.close();
      await store.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
