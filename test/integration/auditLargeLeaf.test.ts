// A large leaf (a request over many subscribers) is stored deflated in body_deflate, body NULL:
// every reader gets it back whole, verify checks the inflated bytes, and tampering with the
// deflated form is caught like tampering with text.
import { rmSync } from 'node:fs';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkProof,
  dbAuditStore,
  loadOrCreateAuditSigner,
  proveRecord,
  queryAccessLog,
  replay,
  runAuditOperation,
  subscriberAccesses,
  verifyLogs,
  type AuditLeaf,
  type TrustedKey,
  type VerifyReport,
} from '../../src/audit/index.js';
import { DEFLATE_FROM } from '../../src/audit/leafStorage.js';
import { leafHash } from '../../src/audit/merkle.js';
import type { Db } from '../../src/db/index.js';
import { seedDemoData } from '../../src/db/seedDemoData.js';
import { FIXTURES } from '../fixtures/subscribers.js';
import { openTestDb, startTestGateway, type TestDb, type TestGateway } from '../harness.js';

const MANY = `{ subscribers(first: 100) { nodes { id msisdn fullName email lastKnownLocation { latitude longitude } devices { imei model } } } }`;
const ONE = `{ subscriber(id: "${FIXTURES.adult.id}") { fullName devices { imei } } }`;

type Row = { seq: string | number; body: string | null; body_deflate: Uint8Array | null; leaf_hash: string };

describe('a large audit leaf', () => {
  let db: TestDb;
  let gw: TestGateway;
  let key: TrustedKey;
  let logId: string;
  let large: { recordId: string; seq: number; bytes: Buffer };
  let small: { recordId: string; seq: number };

  beforeAll(async () => {
    db = await openTestDb();
    await seedDemoData(db, { subscribers: 100, seed: 11 });
    gw = await startTestGateway({ db, checkpointIntervalMs: 3_600_000 });
    logId = gw.server.audit.logId;
    const before = await gw.gql(ONE, { purpose: 'CUSTOMER_SUPPORT' });
    const many = await gw.gql(MANY, { purpose: 'MARKETING' });
    const after = await gw.gql(ONE, { purpose: 'CUSTOMER_SUPPORT' });
    for (const res of [before, many, after]) expect(res.status).toBe(200);
    await gw.server.close(); // the final checkpoint covers all three
    const signer = loadOrCreateAuditSigner(gw.dataDir);
    key = { name: signer.name, publicKey: signer.publicKey };
    const row = async (recordId: string) =>
      (await db.query<Row>('SELECT seq, body, body_deflate, leaf_hash FROM audit_records WHERE record_id = $1', [recordId])).rows[0]!;
    const l = await row(many.body.extensions!.audit.recordId);
    expect(l.body).toBeNull();
    expect(l.body_deflate).not.toBeNull();
    const bytes = inflateRawSync(l.body_deflate!);
    large = { recordId: many.body.extensions!.audit.recordId, seq: Number(l.seq), bytes };
    // Stored as the exact bytes that were hashed.
    expect(leafHash(bytes).toString('hex')).toBe(l.leaf_hash);
    const s = await row(before.body.extensions!.audit.recordId);
    expect(s.body_deflate).toBeNull();
    expect(typeof s.body).toBe('string');
    small = { recordId: before.body.extensions!.audit.recordId, seq: Number(s.seq) };
  }, 120_000);

  afterAll(async () => {
    await db.drop();
    rmSync(gw.dataDir, { recursive: true, force: true });
  });

  it('is stored deflated once it reaches the threshold, and a small leaf as text', () => {
    expect(large.bytes.length).toBeGreaterThanOrEqual(DEFLATE_FROM);
    const leaf = JSON.parse(large.bytes.toString('utf8')) as AuditLeaf;
    expect(leaf.recordId).toBe(large.recordId);
    expect(new Set(leaf.decisions.map((d) => d.subscriberId)).size).toBeGreaterThanOrEqual(90);
    expect(small.seq).toBe(large.seq - 1);
  });

  it('verifies, on this thread and in worker threads', async () => {
    const here = await verifyLogs(dbAuditStore(db), [key], { workers: 0 });
    expect(here).toMatchObject({ ok: true, leaves: 3 });
    expect(await verifyLogs(dbAuditStore(db), [key], { workers: 2, workersFrom: 0, waitForWorkers: true, pageSize: 1 })).toEqual(here);
  });

  it('reads back whole through the access log, the subscriber report, proofs, export and replay', async () => {
    const text = large.bytes.toString('utf8');
    const { leaves } = await queryAccessLog(db, { first: 10 });
    expect(leaves.find((l) => l.recordId === large.recordId)).toEqual(JSON.parse(text));
    const leaf = JSON.parse(text) as AuditLeaf;
    const someone = leaf.decisions[leaf.decisions.length - 1]!.subscriberId;
    const accesses = await subscriberAccesses(db, someone);
    expect(accesses.map((a) => a.recordId)).toContain(large.recordId);
    const proof = await proveRecord(dbAuditStore(db), large.recordId);
    expect(proof.leaf).toBe(text);
    expect(checkProof(JSON.parse(JSON.stringify(proof)), key)).toContain(`record ${large.recordId}`);
    const { result } = await runAuditOperation(db, { op: 'export' }, [key]);
    const exported = (result as Array<{ type: string; recordId?: string; leaf?: unknown }>).find((l) => l.type === 'record' && l.recordId === large.recordId);
    expect(exported?.leaf).toEqual(JSON.parse(text));
    const r = await replay({ store: dbAuditStore(db), db });
    expect(r.records).toBe(3);
    expect(r.decisions).toBeGreaterThanOrEqual(leaf.decisions.length);
    expect(r.mismatches).toEqual([]);
  });

  /** Tampers with owner rights inside a transaction, verifies on this thread and in workers, rolls back. */
  async function tampered(fn: (tx: Pick<Db, 'query'>) => Promise<unknown>): Promise<VerifyReport> {
    let report: VerifyReport | undefined;
    await db
      .transaction(async (tx) => {
        await tx.query('ALTER TABLE audit_records DISABLE TRIGGER USER');
        await fn(tx);
        report = await verifyLogs(dbAuditStore(tx), [key], { workers: 0 });
        expect(await verifyLogs(dbAuditStore(tx), [key], { workers: 2, workersFrom: 0, waitForWorkers: true, pageSize: 1 })).toEqual(report);
        throw new Error('rollback');
      })
      .catch((err: Error) => {
        if (err.message !== 'rollback') throw err;
      });
    return report!;
  }

  it.each<[string, (tx: Pick<Db, 'query'>) => Promise<unknown>, RegExp]>([
    [
      'a decision changed inside the deflated leaf',
      (tx) => {
        const edited = large.bytes.toString('utf8').replace('"effect":"ALLOW"', '"effect":"DENY"');
        expect(edited).not.toBe(large.bytes.toString('utf8'));
        return tx.query('UPDATE audit_records SET body_deflate = $2 WHERE record_id = $1', [large.recordId, deflateRawSync(Buffer.from(edited))]);
      },
      /was changed: its content no longer matches its leaf hash/,
    ],
    [
      'deflated bytes that no longer inflate',
      (tx) => tx.query('UPDATE audit_records SET body_deflate = $2 WHERE record_id = $1', [large.recordId, Buffer.from('not deflate at all')]),
      /was changed: its deflated content cannot be read/,
    ],
    [
      'bytes appended after the deflated leaf',
      (tx) => tx.query('UPDATE audit_records SET body_deflate = body_deflate || $2::bytea WHERE record_id = $1', [large.recordId, Buffer.from('hidden')]),
      /was changed: its deflated content cannot be read/,
    ],
    [
      'the leaf taken out altogether (constraint dropped)',
      async (tx) => {
        await tx.query('ALTER TABLE audit_records DROP CONSTRAINT audit_records_one_body');
        return tx.query('UPDATE audit_records SET body_deflate = NULL WHERE record_id = $1', [large.recordId]);
      },
      /was changed: it has no content/,
    ],
    [
      'a second, text copy of the leaf (constraint dropped)',
      async (tx) => {
        await tx.query('ALTER TABLE audit_records DROP CONSTRAINT audit_records_one_body');
        return tx.query('UPDATE audit_records SET body = $2 WHERE record_id = $1', [large.recordId, large.bytes.toString('utf8')]);
      },
      /was changed: it holds its content twice/,
    ],
  ])('is checked by verify: %s', async (_name, tamper, message) => {
    const report = await tampered(tamper);
    expect(report.ok).toBe(false);
    expect(report.problem).toMatchObject({ logId, index: large.seq });
    expect(report.problem!.message).toMatch(message);
  });

  it('cannot be read back damaged: the readers fail with a clear error, never a wrong leaf', async () => {
    await db
      .transaction(async (tx) => {
        await tx.query('ALTER TABLE audit_records DISABLE TRIGGER USER');
        await tx.query('UPDATE audit_records SET body_deflate = $2 WHERE record_id = $1', [large.recordId, Buffer.from('not deflate at all')]);
        await expect(queryAccessLog(tx, { first: 10 })).rejects.toThrow(/^an audit record cannot be read: its deflated content is damaged$/);
        await expect(proveRecord(dbAuditStore(tx), large.recordId)).rejects.toThrow(/cannot be read: its deflated content is damaged/);
        const leaf = JSON.parse(large.bytes.toString('utf8')) as AuditLeaf;
        await expect(subscriberAccesses(tx, leaf.decisions[0]!.subscriberId)).rejects.toThrow(/^an audit record cannot be read: its deflated content is damaged$/);
        await expect(replay({ store: dbAuditStore(tx), db: tx })).rejects.toThrow(/^audit record .+ cannot be read: its deflated content is damaged$/);
        throw new Error('rollback');
      })
      .catch((err: Error) => {
        if (err.message !== 'rollback') throw err;
      });
  });

  it('is held in exactly one form: the store refuses a record with both or neither', async () => {
    const insert = (body: string | null, deflated: Buffer | null) =>
      db.query(
        `INSERT INTO audit_records (log_id, seq, record_id, at, leaf_hash, body, body_deflate) VALUES ($1, 1000, 'x-1000', now(), '', $2, $3::bytea)`,
        [logId, body, deflated],
      );
    await expect(insert(null, null)).rejects.toMatchObject({ code: '23514' });
    await expect(insert('{}', deflateRawSync(Buffer.from('{}')))).rejects.toMatchObject({ code: '23514' });
  });
});
