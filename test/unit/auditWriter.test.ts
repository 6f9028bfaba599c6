import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditWriter, dbAuditStore, loadOrCreateAuditSigner, verifyLogs, type AuditEntry } from '../../src/audit/index.js';
import { liveLogIds, logLockKey, markOpenHere, tryLockLog } from '../../src/audit/logLiveness.js';
import { sealLog } from '../../src/audit/sealLog.js';
import { leafHash } from '../../src/audit/merkle.js';
import type { Db } from '../../src/db/index.js';
import { openPostgres } from '../../src/db/index.js';
import { openTestDb } from '../harness.js';

const entry = (i: number): AuditEntry => ({
  at: new Date().toISOString(),
  requestId: `r${i}`,
  caller: null,
  purpose: null,
  ref: null,
  operationName: null,
  documentHash: null,
  rejection: { code: 'UNAUTHENTICATED', status: 401 },
  decisions: [],
});

describe('AuditWriter', () => {
  let db: Awaited<ReturnType<typeof openTestDb>>;
  const signer = loadOrCreateAuditSigner(mkdtempSync(join(tmpdir(), 'pg-writer-')));
  beforeAll(async () => {
    db = await openTestDb();
  });
  afterAll(() => db.drop());

  it('resolves every append when workers append one after another (no append is stranded between flushes)', async () => {
    const writer = await AuditWriter.open(db, { policyVersion: 'v', signer });
    let next = 0;
    const seqs: number[] = [];
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < 800) seqs.push((await writer.append(entry(next++))).seq);
      }),
    );
    expect(seqs.sort((a, b) => a - b)).toEqual(Array.from({ length: 800 }, (_, i) => i));
    expect(writer.stats.batches).toBeLessThan(800);
    await writer.close();
    const report = await verifyLogs(dbAuditStore(db), [{ name: signer.name, publicKey: signer.publicKey }]);
    expect(report.logs.find((l) => l.logId === writer.logId)).toEqual({ logId: writer.logId, records: 800, checkpoints: 2, state: 'closed' });
  });

  const trusted = () => [{ name: signer.name, publicKey: signer.publicKey }];
  const logOf = async (id: string) => (await verifyLogs(dbAuditStore(db), trusted())).logs.find((l) => l.logId === id);

  it('closes its log: verify says closed; while it runs, its newest records are pending, not a break', async () => {
    const writer = await AuditWriter.open(db, { policyVersion: 'v', signer, checkpointIntervalMs: 3_600_000 });
    await writer.append(entry(1));
    await writer.checkpoint();
    await writer.append(entry(2));
    await writer.append(entry(3));
    expect(await logOf(writer.logId)).toEqual({ logId: writer.logId, records: 3, checkpoints: 1, state: 'live', pending: 2 });
    await writer.close();
    expect(await logOf(writer.logId)).toEqual({ logId: writer.logId, records: 3, checkpoints: 3, state: 'closed' });
  });

  it('seals the log of a writer that stopped without closing it; verify names the records only the seal covers, and a record added later is reported', async () => {
    const dead = await AuditWriter.open(db, { policyVersion: 'v', signer, checkpointIntervalMs: 3_600_000 });
    for (let i = 0; i < 3; i++) await dead.append(entry(i));
    await dead.checkpoint();
    for (let i = 3; i < 5; i++) await dead.append(entry(i));
    markOpenHere(dead.logId, false); // its process is gone (the lease of a PostgreSQL writer too: see below)
    if (db.kind === 'postgres') await (dead as unknown as { lease: { release(): Promise<void> } }).lease.release();
    // Before any gateway starts again: five records, two of them under no signature, writer gone.
    const before = await logOf(dead.logId);
    expect(before).toMatchObject({ records: 5, state: 'open', problem: { index: 3 } });
    expect(before!.problem!.message).toMatch(/records from index 3 to 4 are covered by no signed checkpoint/);
    const next = await AuditWriter.open(db, { policyVersion: 'v', signer });
    let sealedBy = next.logId;
    if (db.kind === 'pglite') {
      // The embedded store: the next gateway (the only process on its DATA_DIR) seals it at start.
      expect(next.sealed).toContainEqual({ logId: dead.logId, size: 5 });
    } else {
      // PostgreSQL: another gateway may be running, so none seals at start; `audit seal` does,
      // holding the log's lock (here: free, its writer is gone).
      expect(next.sealed).toEqual([]);
      expect((await logOf(dead.logId))?.state).toBe('open');
      const lock = await tryLockLog(db, dead.logId);
      expect(lock).toBeDefined();
      try {
        expect(await sealLog(db, signer, { logId: dead.logId, origin: `purposegate.audit/${dead.logId}` }, 'audit-seal')).toEqual({ size: 5, lastCheckpoint: 3 });
      } finally {
        await lock!.close();
      }
      sealedBy = 'audit-seal';
    }
    expect(await logOf(dead.logId)).toEqual({ logId: dead.logId, records: 5, checkpoints: 2, state: 'sealed', sealedBy, sealedRecords: [3, 5] });
    // A record added to the sealed log afterwards (the triggers off, as an owner could), consistent with its position.
    const { rows } = await db.query<{ body: string; at: string }>('SELECT body, at FROM audit_records WHERE log_id = $1 AND seq = 4', [dead.logId]);
    const body = JSON.stringify({ ...JSON.parse(rows[0].body), seq: 5, recordId: `${dead.logId}-5` });
    await db.query('ALTER TABLE audit_records DISABLE TRIGGER USER');
    try {
      await db.query(
        `INSERT INTO audit_records (log_id, seq, record_id, at, leaf_hash, body, rejection_code, subscriber_ids) VALUES ($1, 5, $2, $3, $4, $5, 'UNAUTHENTICATED', '{}')`,
        [dead.logId, `${dead.logId}-5`, rows[0].at, leafHash(Buffer.from(body)).toString('hex'), body],
      );
      const after = await logOf(dead.logId);
      expect(after).toMatchObject({ records: 6, problem: { index: 5 } });
      expect(after!.problem!.message).toMatch(/the log was sealed at 5 records, but holds 6/);
    } finally {
      await db.query('DELETE FROM audit_records WHERE log_id = $1 AND seq = 5', [dead.logId]);
      await db.query('ALTER TABLE audit_records ENABLE TRIGGER USER');
    }
    await next.close();
  });

  it.skipIf(!process.env.TEST_DATABASE_URL)('is seen as live from another connection while it runs (PostgreSQL: an advisory lock on a connection of its own), and not once closed', async () => {
    const writer = await AuditWriter.open(db, { policyVersion: 'v', signer });
    const other = await openPostgres((db as unknown as { url: string }).url, { max: 1 });
    try {
      markOpenHere(writer.logId, false); // only the lock tells, as for a writer in another process
      expect((await liveLogIds(other, [writer.logId, 'gw-none'])).lease).toEqual(new Set([writer.logId]));
      expect(await tryLockLog(other, writer.logId)).toBeUndefined(); // `audit seal` would be refused
      await writer.close();
      expect((await liveLogIds(other, [writer.logId])).lease).toEqual(new Set());
    } finally {
      await other.close();
    }
  });

  it.skipIf(!process.env.TEST_DATABASE_URL)('verify passes a live writer\'s pending records only once its next checkpoint covers them; a session that merely holds a dead log\'s lock gets them reported', async () => {
    const writer = await AuditWriter.open(db, { policyVersion: 'v', signer, checkpointIntervalMs: 300 });
    markOpenHere(writer.logId, false); // as if in another process: live by its lock only
    try {
      await writer.append(entry(1));
      await writer.append(entry(2));
      const report = await verifyLogs(dbAuditStore(db), trusted(), { pendingWaitMs: 5000 });
      const log = report.logs.find((l) => l.logId === writer.logId);
      expect(log).toMatchObject({ records: 2, state: 'live', pending: 0 });
      expect(log?.problem).toBeUndefined();
    } finally {
      markOpenHere(writer.logId, true);
      await writer.close();
    }
    // A dead log with two unsigned records, and a session (not its writer) holding its lock.
    const dead = await AuditWriter.open(db, { policyVersion: 'v', signer, checkpointIntervalMs: 3_600_000 });
    await dead.append(entry(1));
    await dead.append(entry(2));
    markOpenHere(dead.logId, false);
    await (dead as unknown as { lease: { release(): Promise<void> } }).lease.release();
    const squatter = await tryLockLog(db, dead.logId);
    try {
      const report = await verifyLogs(dbAuditStore(db), trusted(), { pendingWaitMs: 1000 });
      const log = report.logs.find((l) => l.logId === dead.logId);
      expect(log).toMatchObject({ records: 2, problem: { index: 0 } });
      expect(log!.problem!.message).toMatch(/the records from index 0 to 1 are covered by no signed checkpoint: a session holds the log's lock, but no checkpoint covering them was signed within 1 s/);
      expect(report.ok).toBe(false);
    } finally {
      await squatter!.close();
      const lock = await tryLockLog(db, dead.logId);
      await sealLog(db, signer, { logId: dead.logId, origin: `purposegate.audit/${dead.logId}` }, 'audit-seal'); // leave the store verifiable for the tests after this one
      await lock!.close();
    }
  });

  it('cannot add to its log once it was sealed (the database refuses it), and then stops writing (fail closed)', async () => {
    const writer = await AuditWriter.open(db, { policyVersion: 'v', signer, checkpointIntervalMs: 3_600_000 });
    await writer.append(entry(1));
    await writer.append(entry(2));
    // Sealed by another process while this writer runs (as after a lost lease).
    expect(await sealLog(db, signer, { logId: writer.logId, origin: writer.origin }, 'audit-seal')).toEqual({ size: 2, lastCheckpoint: 0 });
    await expect(writer.append(entry(3))).rejects.toThrow(/The audit log could not be written: audit log \S+ is closed: nothing is added to it/);
    expect(writer.healthy).toBe(false);
    expect(writer.lostReason).toMatch(/was sealed by another process/);
    await expect(writer.append(entry(4))).rejects.toThrow(/The audit log cannot be written: the audit log \S+ was sealed by another process/);
    expect(await writer.checkpoint()).toBeUndefined();
    // Nor a checkpoint, by anyone (a stale writer's timer): refused by the database.
    await expect(
      db.query('INSERT INTO audit_checkpoints (log_id, tree_size, root_hash, note) VALUES ($1, 3, $2, $3)', [writer.logId, 'x', 'x']),
    ).rejects.toThrow(/is closed: nothing is added to it/);
    await writer.close();
    expect(await logOf(writer.logId)).toEqual({ logId: writer.logId, records: 2, checkpoints: 1, state: 'sealed', sealedBy: 'audit-seal', sealedRecords: [0, 2] });
  });

  it.skipIf(!process.env.TEST_DATABASE_URL)('writes at READ COMMITTED even when the database defaults to REPEATABLE READ; an insert at another isolation is refused', async () => {
    const url = (db as unknown as { url: string }).url;
    const name = new URL(url).pathname.slice(1);
    await db.query(`ALTER DATABASE ${name} SET default_transaction_isolation = 'repeatable read'`);
    const rr = await openPostgres(url, { max: 2 });
    try {
      const writer = await AuditWriter.open(rr, { policyVersion: 'v', signer });
      await writer.append(entry(1));
      const { rows } = await rr.query<{ transaction_isolation: string }>('SHOW transaction_isolation');
      expect(rows[0]!.transaction_isolation).toBe('read committed');
      const raw = new pg.Client({ connectionString: url });
      await raw.connect();
      try {
        expect((await raw.query('SHOW transaction_isolation')).rows[0].transaction_isolation).toBe('repeatable read');
        await expect(raw.query('INSERT INTO audit_checkpoints (log_id, tree_size, root_hash, note) VALUES ($1, 99, $2, $3)', [writer.logId, 'x', 'x'])).rejects.toThrow(
          /written at READ COMMITTED isolation only, not repeatable read/,
        );
      } finally {
        await raw.end();
      }
      await writer.close();
    } finally {
      await rr.close();
      await db.query(`ALTER DATABASE ${name} RESET default_transaction_isolation`);
    }
  });

  it.skipIf(!process.env.TEST_DATABASE_URL)('a seal taken while the writer appends under load leaves no record after it: the log verifies as sealed', async () => {
    const writer = await AuditWriter.open(db, { policyVersion: 'v', signer, checkpointIntervalMs: 3_600_000 });
    const other = await openPostgres((db as unknown as { url: string }).url, { max: 2 });
    let stop = false;
    let written = 0;
    let refused = 0;
    const load = Array.from({ length: 8 }, async () => {
      while (!stop) {
        try {
          await writer.append(entry(written));
          written++;
        } catch {
          refused++;
          if (refused > 50) return;
        }
      }
    });
    try {
      while (written < 200) await new Promise((r) => setTimeout(r, 10));
      const sealed = await sealLog(other, signer, { logId: writer.logId, origin: writer.origin }, 'audit-seal');
      await new Promise((r) => setTimeout(r, 200));
      stop = true;
      await Promise.all(load);
      expect(refused).toBeGreaterThan(0);
      expect(sealed.size).toBe(written); // every acknowledged record is under the seal, none after it
      await writer.close();
      const log = await logOf(writer.logId);
      expect(log).toMatchObject({ records: written, state: 'sealed' });
      expect(log?.problem).toBeUndefined();
    } finally {
      stop = true;
      await other.close();
    }
  });

  it.skipIf(!process.env.TEST_DATABASE_URL)('stops writing (fail closed) when its lease is lost and another session takes the lock, or its log is sealed', async () => {
    const writer = await AuditWriter.open(db, { policyVersion: 'v', signer, checkpointIntervalMs: 100 });
    await writer.append(entry(1));
    markOpenHere(writer.logId, false);
    // Its lease connection is cut (a failover, a proxy), and someone seals the log meanwhile.
    const admin = await openPostgres((db as unknown as { url: string }).url, { max: 1 });
    try {
      const key = BigInt.asUintN(64, BigInt(logLockKey(writer.logId)));
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = $1 AND objsubid = 1 AND classid = $2::bigint::oid AND objid = $3::bigint::oid', [
        'advisory',
        String(key >> 32n),
        String(key & 0xffffffffn),
      ]);
      const lock = await tryLockLog(admin, writer.logId);
      expect(lock).toBeDefined();
      await sealLog(admin, signer, { logId: writer.logId, origin: writer.origin }, 'audit-seal');
      await lock!.close();
      for (let i = 0; i < 100 && writer.healthy; i++) await new Promise((r) => setTimeout(r, 50));
      expect(writer.healthy).toBe(false);
      expect(writer.lostReason).toMatch(/was sealed by another process/);
      await expect(writer.append(entry(2))).rejects.toThrow(/The audit log cannot be written: the audit log .* was sealed by another process/);
      await writer.close();
      expect((await logOf(writer.logId))).toMatchObject({ records: 1, state: 'sealed' });
    } finally {
      await admin.close();
    }
  });

  it('signs checkpoints on its own while records arrive (every checkpointIntervalMs)', async () => {
    const writer = await AuditWriter.open(db, { policyVersion: 'v', signer, checkpointIntervalMs: 50 });
    const sizes = async () =>
      (await db.query<{ tree_size: string }>('SELECT tree_size::text FROM audit_checkpoints WHERE log_id = $1 ORDER BY tree_size', [writer.logId])).rows.map((r) => Number(r.tree_size));
    await writer.append(entry(1));
    for (let i = 0; i < 200 && (await sizes()).length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(await sizes()).toEqual([1]);
    await Promise.all([writer.append(entry(2)), writer.append(entry(3))]);
    for (let i = 0; i < 200 && (await sizes()).at(-1) !== 3; i++) await new Promise((r) => setTimeout(r, 25));
    const signed = await sizes();
    expect(signed[0]).toBe(1);
    expect(signed.at(-1)).toBe(3);
    expect(signed).toEqual([...new Set(signed)].sort((x, y) => x - y)); // growing, never the same size twice
    await writer.close();
  });

  it.each<[string, (e: AuditEntry) => AuditEntry]>([
    ['cannot be canonicalised (an unpaired surrogate)', (e) => ({ ...e, operationName: String.fromCharCode(0xd800) })],
    ['is refused by the store (a NUL in a subscriber id)', (e) => ({ ...e, decisions: [{ subscriberId: `a${String.fromCharCode(0)}b`, coordinate: 'Subscriber.id', effect: 'DENY', reason: 'OUT_OF_SCOPE', count: 1 }] })],
  ])('a record that %s fails alone: the rest of its batch is written, and the log verifies', async (_name, poison) => {
    const writer = await AuditWriter.open(db, { policyVersion: 'v', signer });
    const results = await Promise.allSettled(Array.from({ length: 9 }, (_, i) => writer.append(i === 4 ? poison(entry(i)) : entry(i))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect(results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<{ seq: number }>).value.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect((await writer.append(entry(10))).seq).toBe(8); // the writer goes on
    await writer.close();
    const report = await verifyLogs(dbAuditStore(db), [{ name: signer.name, publicKey: signer.publicKey }]);
    const log = report.logs.find((l) => l.logId === writer.logId);
    expect(log?.records).toBe(9);
    expect(log?.problem).toBeUndefined();
  });

  it('never signs a checkpoint twice for the same size, and refuses appends once closed', async () => {
    const writer = await AuditWriter.open(db, { policyVersion: 'v', signer });
    await writer.append(entry(1));
    expect((await writer.checkpoint())?.size).toBe(1);
    expect(await writer.checkpoint()).toBeUndefined();
    await writer.close();
    await expect(writer.append(entry(2))).rejects.toThrow('The audit log is closed.');
  });

  it('a readiness probe that re-reads the log while a committed batch is being acknowledged adds it once: no position skipped', async () => {
    const state = { fail: false, slowAck: 0 };
    const writes = (sql: string) => sql.includes('INSERT INTO audit_records') && !sql.includes('-1,');
    const wrapped: Db = {
      ...db,
      kind: db.kind,
      query: db.query,
      exec: db.exec,
      transaction: db.transaction,
      close: db.close,
      session: (fn) =>
        db.session((conn) =>
          fn({
            query: (async (sql: string, params?: readonly unknown[]) => {
              if (state.fail && writes(sql)) throw new Error('could not extend file: No space left on device');
              const result = await conn.query(sql, params);
              if (state.slowAck && writes(sql)) await new Promise((r) => setTimeout(r, state.slowAck)); // committed, the answer late
              return result;
            }) as Db['query'],
          }),
        ),
    };
    const writer = await AuditWriter.open(wrapped, { policyVersion: 'v', signer });
    await writer.append(entry(1));
    state.fail = true;
    await expect(writer.append(entry(2))).rejects.toThrow(/could not be written/);
    expect(writer.healthy).toBe(false);
    state.fail = false;
    state.slowAck = 300;
    const pending = writer.append(entry(3));
    await new Promise((r) => setTimeout(r, 150)); // the batch is committed; its acknowledgement is on its way
    expect(await writer.probe()).toBe(true);
    await expect(pending).resolves.toMatchObject({ seq: 1 });
    state.slowAck = 0;
    await expect(writer.append(entry(4))).resolves.toMatchObject({ seq: 2 });
    expect(writer.size).toBe(3);
    await writer.close();
    const { rows } = await db.query<{ seq: string | number }>('SELECT seq FROM audit_records WHERE log_id = $1 ORDER BY seq', [writer.logId]);
    expect(rows.map((r) => Number(r.seq))).toEqual([0, 1, 2]);
    const report = await verifyLogs(dbAuditStore(db), [{ name: signer.name, publicKey: signer.publicKey }]);
    expect(report.problem).toBeUndefined();
    expect(report.ok).toBe(true);
  });
});
