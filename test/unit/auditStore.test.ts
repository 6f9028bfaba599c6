import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditWriter, dbAuditStore, loadOrCreateAuditSigner, type AuditEntry } from '../../src/audit/index.js';
import { seqOfMeta } from '../../src/audit/AuditStore.js';
import { openTestDb } from '../harness.js';

const entry = (i: number): AuditEntry => ({
  at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
  requestId: `r${i}`,
  caller: { sub: 'svc', kind: 'internal', purposes: ['BILLING'] },
  purpose: 'BILLING',
  ref: null,
  operationName: null,
  documentHash: null,
  rejection: null,
  decisions: [{ subscriberId: `sub-${i % 3}`, coordinate: 'Subscriber.fullName', effect: 'ALLOW', count: 1 }],
});

describe('a row page record\u2019s position, read from the start of its meta text', () => {
  it.each<[string, number]>([
    ['[5, "gw-5", "ab"]', 5],
    ['[0,"gw-0"]', 0],
    ['[44.4, "gw-44"]', 44.4],
    ['[-1, "gw"]', -1],
    ['[5.0, "x"]', 5],
    ['[1e+20, "x"]', 1e20],
    ['[null, "x"]', NaN],
    ['["5", "x"]', NaN],
    ['["NaN", "x"]', NaN],
    ['[[5], "x"]', NaN],
    ['[5 , "x"]', NaN],
    ['5, "x"]', NaN],
    ['[5]', NaN],
    ['[0x10, "x"]', NaN],
    ['[, "x"]', NaN],
  ])('%s -> %s', (meta, seq) => {
    expect(seqOfMeta(meta)).toBe(seq);
  });
});

describe('the audit store', () => {
  let db: Awaited<ReturnType<typeof openTestDb>>;
  let logId: string;
  beforeAll(async () => {
    db = await openTestDb();
    const writer = await AuditWriter.open(db, { policyVersion: 'v', signer: loadOrCreateAuditSigner(mkdtempSync(join(tmpdir(), 'pg-store-'))) });
    await Promise.all(Array.from({ length: 50 }, (_, i) => writer.append(entry(i))));
    await writer.close();
    logId = writer.logId;
  });
  afterAll(() => db.drop());

  const seqs = async (from: number, limit: number) => (await dbAuditStore(db).records(logId, from, limit)).map((r) => r.seq);

  it('reads a page of records from a position, with the query columns of each', async () => {
    expect(await seqs(0, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await seqs(45, 10)).toEqual([45, 46, 47, 48, 49]);
    expect(await seqs(50, 10)).toEqual([]);
    const [r] = await dbAuditStore(db).records(logId, 4, 1);
    expect(r).toMatchObject({ seq: 4, recordId: `${logId}-4`, leafHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(r.index).toEqual({ atMs: Date.UTC(2026, 0, 1, 0, 0, 4), purpose: 'BILLING', callerSub: 'svc', callerKind: 'internal', rejectionCode: null, subscriberIds: ['sub-1'] });
  });

  it('reads pages of a log whose id holds quotes, backslashes and SQL as data, never as SQL', async () => {
    const store = dbAuditStore(db);
    for (const hostile of [`x'); DROP TABLE audit_records; --`, `a\\'b`, `\\`, `it''s`]) {
      const page = await store.recordPage(hostile, 0, 10);
      expect(page.seq).toEqual([]);
    }
    // A page of the real log reads the same as its records, whichever form the store gives it in.
    const page = await store.recordPage(logId, 3, 5);
    expect(page.seq).toEqual([3, 4, 5, 6, 7]);
    expect(await seqs(0, 50)).toHaveLength(50);
    // And a log whose id is made of them reads back its own records, and only them.
    const odd = `it's a \\'log\\\\ '' -- $$ $l$ \u00e9\u4e2d`;
    await db
      .transaction(async (tx) => {
        await tx.query(`INSERT INTO audit_logs (log_id, origin, key_name, public_key) VALUES ($1, 'o', 'k', 'p')`, [odd]);
        for (const seq of [0, 1, 2]) {
          await tx.query(`INSERT INTO audit_records (log_id, seq, record_id, at, leaf_hash, body) VALUES ($1, $2, $3, now(), 'h', '{}')`, [odd, seq, `${odd}-${seq}`]);
        }
        const inTx = dbAuditStore(tx);
        expect((await inTx.recordPage(odd, 0, 10)).seq).toEqual([0, 1, 2]);
        expect((await inTx.recordPage(odd, 1, 1)).seq).toEqual([1]);
        expect((await inTx.records(odd, 0, 10)).map((r) => r.recordId)).toEqual([0, 1, 2].map((seq) => `${odd}-${seq}`));
        throw new Error('rollback');
      })
      .catch((e: Error) => {
        if (e.message !== 'rollback') throw e;
      });
  });

  it('reads the leaf hashes alone, as proofs need them', async () => {
    const store = dbAuditStore(db);
    expect(await store.leafHashes(logId, 3, 4)).toEqual((await store.records(logId, 3, 4)).map((r) => r.leafHash));
    expect(await store.leafHashes(logId, 48, 10)).toHaveLength(2);
  });

  it('still returns the next `limit` records when a gap wider than the page was cut out of the log', async () => {
    await db
      .transaction(async (tx) => {
        const all = (await dbAuditStore(tx).records(logId, 0, 50)).map((r) => r.leafHash);
        await tx.query('ALTER TABLE audit_records DISABLE TRIGGER USER');
        await tx.query('DELETE FROM audit_records WHERE log_id = $1 AND seq >= 10 AND seq < 30', [logId]);
        const store = dbAuditStore(tx);
        expect((await store.records(logId, 5, 10)).map((r) => r.seq)).toEqual([5, 6, 7, 8, 9, 30, 31, 32, 33, 34]);
        expect((await store.records(logId, 12, 3)).map((r) => r.seq)).toEqual([30, 31, 32]);
        // As verify reads pages (a binary COPY on PostgreSQL): a range cut short is read again past it.
        expect((await store.recordPage(logId, 5, 10)).seq).toEqual([5, 6, 7, 8, 9, 30, 31, 32, 33, 34]);
        expect((await store.recordPage(logId, 12, 3)).seq).toEqual([30, 31, 32]);
        expect((await store.recordPage(logId, 30, 5)).seq).toEqual([30, 31, 32, 33, 34]);
        expect(await store.leafHashes(logId, 8, 4)).toEqual([8, 9, 30, 31].map((seq) => all[seq]));
        // Pages as rows (PGlite's): a full range is one statement of the range alone; a range cut
        // short is read again, whole, by one statement that reads past it, so a log that grows
        // meanwhile is read from one snapshot, never with a hole.
        const queries: string[] = [];
        const counted = dbAuditStore({ query: (sql, params) => (queries.push(sql), tx.query(sql, params)) });
        expect((await counted.recordPage(logId, 30, 5)).seq).toEqual([30, 31, 32, 33, 34]);
        expect(queries).toHaveLength(1);
        expect(queries[0]).not.toContain('UNION');
        expect((await counted.records(logId, 5, 10)).map((r) => r.seq)).toEqual([5, 6, 7, 8, 9, 30, 31, 32, 33, 34]);
        expect(queries).toHaveLength(3);
        expect(queries[2]).toContain('UNION');
        expect(await counted.leafHashes(logId, 45, 10)).toHaveLength(5);
        expect(queries).toHaveLength(4);
        if (tx.copyOut) {
          // Binary pages: a full range is one COPY of the range alone; a range cut short is read
          // again, whole, by the statement that reads past it.
          const copies: string[] = [];
          const copying = dbAuditStore({ query: tx.query, copyOut: (sql, into, settings) => (copies.push(sql), tx.copyOut!(sql, into, settings)) });
          expect((await copying.recordPage(logId, 30, 5)).seq).toEqual([30, 31, 32, 33, 34]);
          expect(copies).toHaveLength(1);
          expect(copies[0]).not.toContain('UNION');
          expect((await copying.recordPage(logId, 5, 10)).seq).toEqual([5, 6, 7, 8, 9, 30, 31, 32, 33, 34]);
          expect(copies).toHaveLength(3);
          expect(copies[2]).toContain('UNION');
        }
        throw new Error('rollback');
      })
      .catch((e: Error) => {
        if (e.message !== 'rollback') throw e;
      });
    expect(await seqs(8, 4)).toEqual([8, 9, 10, 11]);
  });
});
