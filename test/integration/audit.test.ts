import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  checkProof,
  dbAuditStore,
  loadOrCreateAuditSigner,
  policyFromText,
  policyText,
  proveConsistency,
  proveRecord,
  replay,
  signCheckpoint,
  verifyLogs,
  type AuditLeaf,
  type TrustedKey,
  type VerifyReport,
} from '../../src/audit/index.js';
import { Frontier, leafHash } from '../../src/audit/merkle.js';
import { recordConsent } from '../../src/consent/index.js';
import type { Db } from '../../src/db/index.js';
import { composeSupergraph } from '../../src/gateway/index.js';
import { loadPolicySources } from '../../src/subgraphs/index.js';
import { busyEveryOther } from '../fixtures/busyCheckers.js';
import { FIXTURES } from '../fixtures/subscribers.js';
import { expectDenied, expectRejected, openTestDb, startTestGateway, type GqlResponse, type TestGateway } from '../harness.js';

type TestDb = Awaited<ReturnType<typeof openTestDb>>;

const PROFILE = (id: string) =>
  `{ subscriber(id: "${id}") { id msisdn fullName devices { imei model } lastKnownLocation { latitude longitude } } }`;
const IDS = Object.values(FIXTURES).map((s) => s.id);

/** The i-th request of the mixed load: allowed, masked, consent-denied, purpose-denied or rejected. */
function mixed(i: number): { query: string; purpose?: string | null; token?: string | null; kind: string } {
  const id = IDS[i % IDS.length];
  switch (i % 6) {
    case 0:
      return { query: PROFILE(id), purpose: 'LAW_ENFORCEMENT', kind: 'allowed' };
    case 1:
      return { query: PROFILE(id), purpose: 'CUSTOMER_SUPPORT', kind: 'masked' };
    case 2:
      return { query: PROFILE(id), purpose: 'MARKETING', kind: 'consent' };
    case 3:
      return { query: PROFILE(id), purpose: 'MARKETING_SMS', kind: 'consent' };
    case 4:
      return { query: PROFILE(id), purpose: 'SELLING_DATA', kind: 'rejected' };
    default:
      return { query: PROFILE(id), purpose: 'BILLING', token: null, kind: 'rejected' };
  }
}

describe('the audit log', () => {
  let db: TestDb;
  let gw: TestGateway;
  let key: TrustedKey;
  let logId: string;
  const recordIds: string[] = [];
  const statuses = new Map<number, number>();

  const send = async (from: number, to: number, concurrency = 16) => {
    const token = await gw.mint({ kind: 'internal', purposes: ['LAW_ENFORCEMENT', 'CUSTOMER_SUPPORT', 'MARKETING', 'MARKETING_SMS', 'BILLING'] });
    let next = from;
    const worker = async () => {
      while (next < to) {
        const r = mixed(next++);
        const res: GqlResponse = await gw.gql(r.query, { purpose: r.purpose ?? undefined, token: r.token === null ? null : token, ref: 'LP-2026-17' });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expect(res.body.extensions?.audit?.requestId).toBe(res.headers.get('x-request-id'));
        recordIds.push(res.body.extensions!.audit.recordId);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  };

  beforeAll(async () => {
    db = await openTestDb();
    gw = await startTestGateway({ db, checkpointIntervalMs: 3_600_000 });
    logId = gw.server.audit.logId;
    await send(0, 300);
    await gw.server.audit.checkpoint();
    await send(300, 600);
    await gw.server.audit.checkpoint();
    await send(600, 1000);
    await gw.server.close(); // flushes and signs the final checkpoint (size 1000)
    const signer = loadOrCreateAuditSigner(gw.dataDir);
    key = { name: signer.name, publicKey: signer.publicKey };
    const dir = join(gw.dataDir, 'checkpoints');
    witnesses = readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8'));
  }, 240_000);

  afterAll(async () => {
    await db.drop();
    rmSync(gw.dataDir, { recursive: true, force: true });
  });

  it('holds exactly one record per request, and every recordId a client was given', async () => {
    expect(recordIds).toHaveLength(1000);
    expect(new Set(recordIds).size).toBe(1000);
    expect(statuses.get(200)).toBeGreaterThan(0);
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect(statuses.get(401)).toBeGreaterThan(0);
    const { rows } = await db.query<{ record_id: string }>('SELECT record_id FROM audit_records WHERE log_id = $1', [logId]);
    expect(rows).toHaveLength(1000);
    expect(new Set(rows.map((r) => r.record_id))).toEqual(new Set(recordIds));
    // Group commit: concurrent requests shared transactions.
    expect(gw.server.audit.stats.batches).toBeLessThan(1000);
    expect(gw.server.audit.stats.records).toBe(1000);
  });

  it('records who, why, what was decided, and never a field value', async () => {
    const { rows } = await db.query<{ body: string }>('SELECT body FROM audit_records WHERE log_id = $1 ORDER BY seq', [logId]);
    const leaves = rows.map((r) => JSON.parse(r.body) as AuditLeaf);
    const masked = leaves.find((l) => l.purpose === 'CUSTOMER_SUPPORT')!;
    expect(masked.caller).toMatchObject({ sub: 'svc-test', kind: 'internal' });
    expect(masked.policyVersion).toMatch(/^[0-9a-f]{64}$/);
    expect(masked.documentHash).toMatch(/^[0-9a-f]{64}$/);
    expect(masked.decisions).toContainEqual(expect.objectContaining({ coordinate: 'Device.imei', effect: 'MASK', strategy: 'LAST4' }));
    const le = leaves.find((l) => l.purpose === 'LAW_ENFORCEMENT')!;
    expect(le.ref).toBe('LP-2026-17');
    const rejected = leaves.find((l) => l.rejection?.code === 'UNKNOWN_PURPOSE')!;
    expect(rejected).toMatchObject({ purpose: 'SELLING_DATA', decisions: [], rejection: { status: 400 } });
    expect(leaves.find((l) => l.rejection?.code === 'UNAUTHENTICATED')).toBeDefined();
    const text = rows.map((r) => r.body).join('\n');
    for (const s of Object.values(FIXTURES)) {
      for (const value of [s.fullName, s.msisdn, s.device.imei, s.email, String(s.location.latitude)]) expect(text).not.toContain(value);
    }
  });

  it('keeps its tables append-only', async () => {
    await expect(db.query('UPDATE audit_records SET purpose = NULL WHERE log_id = $1 AND seq = 0', [logId])).rejects.toThrow(/audit_records is append-only/);
    await expect(db.query('DELETE FROM audit_checkpoints WHERE log_id = $1', [logId])).rejects.toThrow(/audit_checkpoints is append-only/);
  });

  it('detects a whole log deleted from the store, from its witnessed checkpoint', async () => {
    let report: VerifyReport | undefined;
    await db
      .transaction(async (tx) => {
        await ownerRights(tx);
        for (const t of ['audit_records', 'audit_checkpoints', 'audit_log_closures', 'audit_logs']) await tx.query(`DELETE FROM ${t} WHERE log_id = $1`, [logId]);
        report = await verifyLogs(dbAuditStore(tx), [key], { witnesses });
        throw new Error('rollback');
      })
      .catch((e: Error) => {
        if (e.message !== 'rollback') throw e;
      });
    expect(report!.ok).toBe(false);
    expect(report!.problem!.message).toMatch(new RegExp(`log "${logId}" is missing from the store, though a witness holds its checkpoint of size 1000`));
  });

  it('verifies an honest log', async () => {
    expect(witnesses).toHaveLength(1);
    const report = await verifyLogs(dbAuditStore(db), [key], { witnesses });
    expect(report.problem).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(report.logs).toEqual([{ logId, records: 1000, checkpoints: 4, state: 'closed' }]);
    let leaves = 0;
    expect(await verifyLogs(dbAuditStore(db), [key], { witnesses, ...IN_WORKERS, onLeaf: () => leaves++ })).toEqual(report);
    expect(leaves).toBe(1000);
    // Pages of a power of two are added to the tree whole where no checkpoint (300, 600, 1000)
    // falls inside them: of the 125 pages of 8, all but the one holding 300 (296-303); of the 32
    // pages of 32, all but those holding 300 and 600 (the last, 992-999, is a whole subtree of 8);
    // none of 512 (0-511 holds 300; 512-999 is not a power of two).
    const subtrees = vi.spyOn(Frontier.prototype, 'pushSubtree');
    try {
      for (const [pageSize, whole] of [[8, 124], [32, 30], [512, 0]]) {
        leaves = 0;
        subtrees.mockClear();
        expect(await verifyLogs(dbAuditStore(db), [key], { witnesses, ...IN_WORKERS, pageSize, onLeaf: () => leaves++ })).toEqual(report);
        expect(leaves).toBe(1000);
        expect(subtrees.mock.calls.filter(([, , height]) => height > 0)).toHaveLength(whole);
        subtrees.mockClear();
        expect(await verifyLogs(dbAuditStore(db), [key], { witnesses, workers: 0, pageSize })).toEqual(report);
        expect(subtrees.mock.calls.filter(([, , height]) => height > 0)).toHaveLength(whole);
      }
    } finally {
      subtrees.mockRestore();
    }
    // As `audit verify` runs by default: this thread checks until the workers are up, then they do.
    expect(await verifyLogs(dbAuditStore(db), [key], { witnesses, workers: 2, workersFrom: 0, pageSize: 37 })).toEqual(report);
  });

  /** Verify in two worker threads from the first record, 37 records per page. */
  const IN_WORKERS = { workers: 2, workersFrom: 0, waitForWorkers: true, pageSize: 37 } as const;

  /** The attacker has the table owner's rights: the append-only triggers are no obstacle. */
  const ownerRights = async (tx: Pick<Db, 'query'>) => {
    for (const t of ['audit_records', 'audit_checkpoints', 'audit_log_closures', 'audit_logs']) await tx.query(`ALTER TABLE ${t} DISABLE TRIGGER USER`);
  };
  let witnesses: string[] = [];

  /** Applies a tampering inside a transaction, verifies (with the witness files), and rolls it back. */
  async function tampered(fn: (tx: Pick<Db, 'query' | 'copyOut'>) => Promise<void>, keys: TrustedKey[] = [key]): Promise<VerifyReport> {
    let report: VerifyReport | undefined;
    await db
      .transaction(async (tx) => {
        await ownerRights(tx);
        await fn(tx);
        report = await verifyLogs(dbAuditStore(tx), keys, { witnesses, workers: 0 });
        // The same log checked by worker threads, in pages that straddle records and checkpoints,
        // finds the same first break.
        expect(await verifyLogs(dbAuditStore(tx), keys, { witnesses, ...IN_WORKERS })).toEqual(report);
        // And in pages of 32, each checked whole added to the tree as one subtree, but for those
        // that hold a checkpoint's size (300, 600) or end the log.
        expect(await verifyLogs(dbAuditStore(tx), keys, { witnesses, ...IN_WORKERS, pageSize: 32 })).toEqual(report);
        // And with this thread checking every other page itself, as it does while the workers
        // hold all they can take.
        expect(await verifyLogs(dbAuditStore(tx), keys, { witnesses, ...IN_WORKERS, workerCheckers: busyEveryOther({ workers: 0, reader: 0 }) })).toEqual(report);
        // Verify reads pages as binary COPY output (over the connection on PostgreSQL, through a
        // device file on PGlite); read as rows instead, the same break is found.
        if (tx.copyOut) expect(await verifyLogs(dbAuditStore({ query: tx.query }), keys, { witnesses, workers: 0 })).toEqual(report);
        throw new Error('rollback');
      })
      .catch((err: Error) => {
        if (err.message !== 'rollback') throw err;
      });
    return report!;
  }
  const bodyAt = async (tx: Pick<Db, 'query'>, seq: number) =>
    (await tx.query<{ body: string }>('SELECT body FROM audit_records WHERE log_id = $1 AND seq = $2', [logId, seq])).rows[0].body;
  const decisionRecord = async (tx: Pick<Db, 'query'>, from: number) => {
    for (let seq = from; ; seq++) {
      const body = await bodyAt(tx, seq);
      if (body.includes('"effect":"ALLOW"')) return { seq, body };
    }
  };

  /** A careful forger's record at `seq` of `log`: a copy of record 11 with its position, id and leaf hash made consistent. */
  const appendForged = async (tx: Pick<Db, 'query'>, seq: number, log = logId) => {
    const leaf = { ...(JSON.parse(await bodyAt(tx, 11)) as AuditLeaf), logId: log, seq, recordId: `${log}-${seq}` };
    const body = JSON.stringify(leaf);
    await tx.query(
      `INSERT INTO audit_records (log_id, seq, record_id, at, leaf_hash, body, purpose, caller_sub, caller_kind, rejection_code, subscriber_ids)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text[])`,
      [log, seq, leaf.recordId, leaf.at, leafHash(Buffer.from(body)).toString('hex'), body, leaf.purpose, leaf.caller?.sub ?? null, leaf.caller?.kind ?? null, leaf.rejection?.code ?? null, [...new Set(leaf.decisions.map((d) => d.subscriberId))]],
    );
  };

  it.each<[string, (tx: Pick<Db, 'query'>) => Promise<number>, RegExp]>([
    [
      'records appended after the log was closed, each consistent with its position',
      async (tx) => {
        await appendForged(tx, 1000);
        await appendForged(tx, 1001);
        return 1000;
      },
      /the log was closed at 1000 records, but holds 1002: record 1000 and any after it were added later/,
    ],
    [
      'a record appended after the log was closed, the closure row deleted (caught by the witness file)',
      async (tx) => {
        await tx.query('DELETE FROM audit_log_closures WHERE log_id = $1', [logId]);
        await appendForged(tx, 1000);
        return 1000;
      },
      /the log was closed at 1000 records, but holds 1001/,
    ],
    [
      'a changed decision',
      async (tx) => {
        const { seq, body } = await decisionRecord(tx, 5);
        await tx.query('UPDATE audit_records SET body = $3 WHERE log_id = $1 AND seq = $2', [logId, seq, body.replace('"effect":"ALLOW"', '"effect":"DENY"')]);
        return seq;
      },
      /was changed/,
    ],
    [
      'a changed decision with its leaf hash recomputed (caught by the signed root)',
      async (tx) => {
        const { seq, body } = await decisionRecord(tx, 450);
        const forged = body.replace('"effect":"ALLOW"', '"effect":"DENY"');
        await tx.query('UPDATE audit_records SET body = $3, leaf_hash = $4 WHERE log_id = $1 AND seq = $2', [logId, seq, forged, leafHash(Buffer.from(forged)).toString('hex')]);
        return 300; // the first index the checkpoint at 600 no longer vouches for
      },
      /do not match the checkpoint signed at size 600/,
    ],
    [
      'a deleted record',
      async (tx) => {
        await tx.query('DELETE FROM audit_records WHERE log_id = $1 AND seq = 7', [logId]);
        return 7;
      },
      /record 7 is missing/,
    ],
    [
      'a block of records deleted, longer than a page of reads',
      async (tx) => {
        await tx.query('DELETE FROM audit_records WHERE log_id = $1 AND seq >= 100 AND seq < 700', [logId]);
        return 100;
      },
      /record 100 is missing \(the next stored record is 700\)/,
    ],
    [
      'a deleted record with the rest renumbered',
      async (tx) => {
        await tx.query('DELETE FROM audit_records WHERE log_id = $1 AND seq = 7', [logId]);
        await tx.query('UPDATE audit_records SET seq = -(seq - 1) WHERE log_id = $1 AND seq > 7', [logId]);
        await tx.query('UPDATE audit_records SET seq = -seq WHERE log_id = $1 AND seq < 0', [logId]);
        return 7;
      },
      /inserted, deleted or reordered/,
    ],
    [
      'an inserted record',
      async (tx) => {
        await tx.query('UPDATE audit_records SET seq = -(seq + 1) WHERE log_id = $1 AND seq >= 10', [logId]);
        await tx.query('UPDATE audit_records SET seq = -seq WHERE log_id = $1 AND seq < 0', [logId]);
        const leaf = { ...(JSON.parse(await bodyAt(tx, 11)) as AuditLeaf), seq: 10, recordId: 'forged-10' };
        const body = JSON.stringify(leaf);
        // A careful forger: consistent leaf hash and query columns; only its position gives it away.
        await tx.query(
          `INSERT INTO audit_records (log_id, seq, record_id, at, leaf_hash, body, purpose, caller_sub, caller_kind, rejection_code, subscriber_ids)
           VALUES ($1, 10, 'forged-10', $4, $2, $3, $5, $6, $7, $8, $9::text[])`,
          [
            logId,
            leafHash(Buffer.from(body)).toString('hex'),
            body,
            leaf.at,
            leaf.purpose,
            leaf.caller?.sub ?? null,
            leaf.caller?.kind ?? null,
            leaf.rejection?.code ?? null,
            [...new Set(leaf.decisions.map((d) => d.subscriberId))],
          ],
        );
        return 10;
      },
      /inserted, deleted or reordered/,
    ],
    [
      'two records swapped',
      async (tx) => {
        await tx.query('UPDATE audit_records SET seq = -1 WHERE log_id = $1 AND seq = 20', [logId]);
        await tx.query('UPDATE audit_records SET seq = 20 WHERE log_id = $1 AND seq = 21', [logId]);
        await tx.query('UPDATE audit_records SET seq = 21 WHERE log_id = $1 AND seq = -1', [logId]);
        return 20;
      },
      /index 20 holds the record written as index 21/,
    ],
    [
      'the tail cut after a checkpoint',
      async (tx) => {
        await tx.query('DELETE FROM audit_records WHERE log_id = $1 AND seq >= 990', [logId]);
        return 990;
      },
      /ends at 990 records but a checkpoint signed 1000: its tail was cut/,
    ],
    [
      'the tail cut together with its checkpoint row (caught by the witness file)',
      async (tx) => {
        await tx.query('DELETE FROM audit_records WHERE log_id = $1 AND seq >= 990', [logId]);
        await tx.query('DELETE FROM audit_checkpoints WHERE log_id = $1 AND tree_size = 1000', [logId]);
        return 990;
      },
      /ends at 990 records but a checkpoint signed 1000/,
    ],
    [
      'a record hidden from a subscriber by editing its query columns',
      async (tx) => {
        const { seq } = await decisionRecord(tx, 30);
        await tx.query(`UPDATE audit_records SET subscriber_ids = '{}' WHERE log_id = $1 AND seq = $2`, [logId, seq]);
        return seq;
      },
      /query columns were changed \(subscriberIds\)/,
    ],
    [
      'a record moved in time by editing its query column',
      async (tx) => {
        await tx.query(`UPDATE audit_records SET at = at + interval '1 millisecond' WHERE log_id = $1 AND seq = 40`, [logId]);
        return 40;
      },
      /record 40's query columns were changed \(at\)/,
    ],
    [
      'a record moved in time by one microsecond',
      async (tx) => {
        await tx.query(`UPDATE audit_records SET at = at + interval '1 microsecond' WHERE log_id = $1 AND seq = 42`, [logId]);
        return 42;
      },
      /record 42's query columns were changed \(at\)/,
    ],
    [
      'a record\u2019s subscribers rewritten as a two-dimensional array',
      async (tx) => {
        const { seq } = await decisionRecord(tx, 50);
        await tx.query(`UPDATE audit_records SET subscriber_ids = ARRAY[subscriber_ids, subscriber_ids] WHERE log_id = $1 AND seq = $2`, [logId, seq]);
        return seq;
      },
      /query columns were changed \(subscriberIds\)/,
    ],
    [
      'a position column retyped, one position made fractional (never rounded back)',
      async (tx) => {
        await tx.query('ALTER TABLE audit_records ALTER COLUMN seq TYPE numeric');
        await tx.query('UPDATE audit_records SET seq = 44.4 WHERE log_id = $1 AND seq = 44', [logId]);
        return 44;
      },
      /record 44 is missing \(the next stored record is 44\.4\)/,
    ],
    [
      'a record inserted at a negative position, where no page reads',
      async (tx) => {
        await appendForged(tx, -1);
        return 0;
      },
      /^records were inserted: 1001 rows are stored at positions below 1000, where the 1000 records verified hold each position once \(the first out of sequence is at position -1\)$/,
    ],
    [
      'a record inserted at no position (the key and NOT NULL dropped)',
      async (tx) => {
        await tx.query('ALTER TABLE audit_records DROP CONSTRAINT audit_records_pkey');
        await tx.query('ALTER TABLE audit_records ALTER COLUMN seq DROP NOT NULL');
        await tx.query(`INSERT INTO audit_records (log_id, seq, record_id, at, leaf_hash, body) SELECT log_id, NULL, record_id || '-again', at, leaf_hash, body FROM audit_records WHERE log_id = $1 AND seq = 5`, [logId]);
        return 0;
      },
      /^records were inserted: 1001 rows are stored at positions below 1000, .* \(the first out of sequence is at position NULL\)$/,
    ],
    [
      'a record inserted at a fractional position inside a page, beside a full page of records',
      async (tx) => {
        await tx.query('ALTER TABLE audit_records ALTER COLUMN seq TYPE numeric');
        await appendForged(tx, 511.5);
        return 512;
      },
      /^a record was inserted before record 512, at position 511\.5$/,
    ],
    [
      'a second record at a position a record holds (the key dropped)',
      async (tx) => {
        await tx.query('ALTER TABLE audit_records DROP CONSTRAINT audit_records_pkey');
        await tx.query('ALTER TABLE audit_records DROP CONSTRAINT audit_records_record_id_key');
        await appendForged(tx, 700);
        return 701;
      },
      /^a record was inserted before record 701, at position 700$/,
    ],
    [
      'a record\u2019s subscribers column set to NULL (a record of no subscriber: not read as empty)',
      async (tx) => {
        const { rows } = await tx.query<{ seq: string }>(`SELECT seq FROM audit_records WHERE log_id = $1 AND subscriber_ids = '{}' ORDER BY seq LIMIT 1`, [logId]);
        expect(rows).toHaveLength(1); // rejected requests are recorded with no decisions
        const seq = Number(rows[0].seq);
        await tx.query('ALTER TABLE audit_records ALTER COLUMN subscriber_ids DROP NOT NULL');
        await tx.query('UPDATE audit_records SET subscriber_ids = NULL WHERE log_id = $1 AND seq = $2', [logId, seq]);
        return seq;
      },
      /query columns were changed \(subscriberIds\)/,
    ],
    [
      'a record\u2019s purpose column emptied',
      async (tx) => {
        const { seq } = await decisionRecord(tx, 60); // a record of a request with a purpose
        await tx.query(`UPDATE audit_records SET purpose = NULL WHERE log_id = $1 AND seq = $2`, [logId, seq]);
        return seq;
      },
      /query columns were changed \(purpose\)/,
    ],
    [
      'a record filed under another purpose by editing its query column',
      async (tx) => {
        await tx.query(`UPDATE audit_records SET purpose = 'BILLING', caller_kind = 'partner' WHERE log_id = $1 AND seq = 41`, [logId]);
        return 41;
      },
      /record 41's query columns were changed \(purpose, callerKind\)/,
    ],
    [
      'a forged checkpoint (root replaced, old signature kept)',
      async (tx) => {
        const { rows } = await tx.query<{ note: string }>('SELECT note FROM audit_checkpoints WHERE log_id = $1 AND tree_size = 600', [logId]);
        const lines = rows[0].note.split('\n');
        lines[2] = Buffer.alloc(32, 7).toString('base64');
        await tx.query('UPDATE audit_checkpoints SET note = $2 WHERE log_id = $1 AND tree_size = 600', [logId, lines.join('\n')]);
        return 600;
      },
      /checkpoint of size 600 is forged/,
    ],
    [
      'a checkpoint signed by another key',
      async (tx) => {
        const other = loadOrCreateAuditSigner(mkdtempSync(join(tmpdir(), 'pg-otherkey-')));
        const note = signCheckpoint({ origin: `purposegate.audit/${logId}`, size: 1000, root: Buffer.alloc(32, 1) }, other);
        await tx.query('UPDATE audit_checkpoints SET note = $2 WHERE log_id = $1 AND tree_size = 1000', [logId, note]);
        return 1000;
      },
      /checkpoint of size 1000 is forged/,
    ],
  ])('detects %s, naming the log and index', async (_name, tamper, message) => {
    let expectedIndex = -1;
    const report = await tampered(async (tx) => {
      expectedIndex = await tamper(tx);
    });
    expect(report.ok).toBe(false);
    expect(report.problem).toMatchObject({ logId, index: expectedIndex });
    expect(report.problem!.message).toMatch(message);
  });

  /** Verifies inside a rolled-back transaction after `fn`, with no witness files (an auditor who kept none). */
  const unwitnessed = async (fn: (tx: Pick<Db, 'query'>) => Promise<void>) => {
    let report: VerifyReport | undefined;
    await db
      .transaction(async (tx) => {
        await ownerRights(tx);
        await fn(tx);
        report = await verifyLogs(dbAuditStore(tx), [key], { workers: 0 });
        throw new Error('rollback');
      })
      .catch((err: Error) => {
        if (err.message !== 'rollback') throw err;
      });
    return report!;
  };

  it('without witness files: a record appended after the closure, the closure row deleted, is covered by no checkpoint (its writer is not running)', async () => {
    const report = await unwitnessed(async (tx) => {
      await tx.query('DELETE FROM audit_log_closures WHERE log_id = $1', [logId]);
      await appendForged(tx, 1000);
    });
    expect(report.ok).toBe(false);
    expect(report.logs).toEqual([expect.objectContaining({ logId, records: 1001, state: 'open' })]);
    expect(report.problem).toMatchObject({ logId, index: 1000 });
    expect(report.problem!.message).toMatch(/the records from index 1000 to 1000 are covered by no signed checkpoint, and the log's writer is not running/);
    // The honest log without its closure row: every record under a checkpoint, nothing to report.
    const honest = await unwitnessed(async (tx) => {
      await tx.query('DELETE FROM audit_log_closures WHERE log_id = $1', [logId]);
    });
    expect(honest).toMatchObject({ ok: true, logs: [{ logId, records: 1000, checkpoints: 3, state: 'open' }] });
  });

  it('a whole log fabricated under the trusted key (a log row and a self-consistent record, no checkpoint) is reported', async () => {
    const fake = 'gw-20261204-fabricated';
    const report = await unwitnessed(async (tx) => {
      await tx.query('INSERT INTO audit_logs (log_id, origin, key_name, public_key) VALUES ($1, $2, $3, $4)', [fake, `purposegate.audit/${fake}`, key.name, key.publicKey.toString('base64')]);
      await appendForged(tx, 0, fake);
    });
    expect(report.ok).toBe(false);
    expect(report.problem).toMatchObject({ logId: fake, index: 0 });
    expect(report.problem!.message).toMatch(/the records from index 0 to 0 are covered by no signed checkpoint/);
  });

  it('proves a record\u2019s inclusion, checked offline with only the proof and the public key', async () => {
    const recordId = recordIds[123];
    const proof = JSON.parse(JSON.stringify(await proveRecord(dbAuditStore(db), recordId)));
    expect(checkProof(proof, key)).toContain(`record ${recordId}`);
    const edited = { ...proof, leaf: proof.leaf.replace('"v":1', '"v":2') };
    expect(() => checkProof(edited, key)).toThrow(/NOT included/);
    const other = loadOrCreateAuditSigner(mkdtempSync(join(tmpdir(), 'pg-otherkey-')));
    expect(() => checkProof(proof, { name: other.name, publicKey: other.publicKey })).toThrow(/No valid signature/);
  });

  it('proves two checkpoints consistent, and refuses a rewritten history', async () => {
    const proof = await proveConsistency(dbAuditStore(db), logId, 300);
    expect(checkProof(proof, key)).toContain('checkpoint of size 1000 is consistent with size 300');
    await db
      .transaction(async (tx) => {
        await ownerRights(tx);
        const { seq, body } = await decisionRecord(tx, 100);
        const forged = body.replace('"effect":"ALLOW"', '"effect":"DENY"');
        await tx.query('UPDATE audit_records SET body = $3, leaf_hash = $4 WHERE log_id = $1 AND seq = $2', [logId, seq, forged, leafHash(Buffer.from(forged)).toString('hex')]);
        const rewritten = await proveConsistency(dbAuditStore(tx), logId, 300);
        // The proof is built from the rewritten leaves but must match the old signed roots: it cannot.
        expect(() => checkProof(rewritten, key)).toThrow(/NOT consistent/);
        throw new Error('rollback');
      })
      .catch((e: Error) => {
        if (e.message !== 'rollback') throw e;
      });
  });

  it('replays an honest log with zero mismatches; a withdrawal now is not retroactive', async () => {
    const honest = await replay({ store: dbAuditStore(db), db });
    expect(honest.records).toBe(1000);
    expect(honest.decisions).toBeGreaterThan(1000);
    expect(honest.mismatches).toEqual([]);
    await recordConsent(db, { subscriberId: FIXTURES.adult.id, purpose: 'ANALYTICS', action: 'WITHDRAW', source: 'app' });
    expect((await replay({ store: dbAuditStore(db), db })).mismatches).toEqual([]);
  });

  it('replays a page of records with one subject query, not one per record', async () => {
    const consentQueries: string[] = [];
    const counting: Pick<Db, 'query'> = {
      query: (sql, params) => {
        if (sql.includes('consent_events')) consentQueries.push(sql);
        return db.query(sql, params);
      },
    };
    const report = await replay({ store: dbAuditStore(counting), db: counting });
    expect(report.records).toBe(1000);
    expect(consentQueries).toHaveLength(2); // 1000 records, two pages of 500
  });

  it('flags exactly the decisions a back-dated consent event affects', async () => {
    const { rows } = await db.query<{ body: string }>('SELECT body FROM audit_records WHERE log_id = $1 ORDER BY seq', [logId]);
    const leaves = rows.map((r) => JSON.parse(r.body) as AuditLeaf);
    const marketing = leaves.filter((l) => l.purpose === 'MARKETING' || l.purpose === 'MARKETING_SMS');
    const cut = marketing[Math.floor(marketing.length / 2)].at; // half the MARKETING records are after it
    const subject = FIXTURES.adult.id; // granted MARKETING 30 days ago
    const expected = new Set(
      leaves
        .filter((l) => l.at >= cut && (l.purpose === 'MARKETING' || l.purpose === 'MARKETING_SMS'))
        .flatMap((l) => l.decisions.filter((d) => d.subscriberId === subject && d.coordinate !== 'Subscriber.id' && d.reason !== 'PURPOSE_NOT_ALLOWED').map((d) => `${l.recordId}|${d.coordinate}`)),
    );
    expect(expected.size).toBeGreaterThan(0);
    await recordConsent(db, { subscriberId: subject, purpose: 'MARKETING', action: 'WITHDRAW', source: 'backdated', at: cut });
    const report = await replay({ store: dbAuditStore(db), db });
    expect(new Set(report.mismatches.map((m) => `${m.recordId}|${m.coordinate}`))).toEqual(expected);
    for (const m of report.mismatches) expect(m.replayed).toMatch(/^DENY CONSENT_WITHDRAWN/);
    // Only-since/until windows replay only their records.
    const windowed = await replay({ store: dbAuditStore(db), db, until: cut });
    expect(windowed.mismatches).toEqual([]);
  });

  it('what-if: MARKETING removed from Location.latitude changes exactly those decisions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-whatif-'));
    try {
      cpSync(join(import.meta.dirname, '../../schema'), dir, { recursive: true });
      const file = join(dir, 'location.graphql');
      const sdl = readFileSync(file, 'utf8').replace(
        /latitude: Float\n\s+@purpose\(allow: \[EMERGENCY_SERVICES, LAW_ENFORCEMENT, MARKETING, ANALYTICS, SUBJECT_ACCESS\]\)\n\s+@mask\(purposes: \[MARKETING, ANALYTICS\], as: COARSE_LOCATION\)/,
        'latitude: Float\n    @purpose(allow: [EMERGENCY_SERVICES, LAW_ENFORCEMENT, ANALYTICS, SUBJECT_ACCESS])\n    @mask(purposes: [ANALYTICS], as: COARSE_LOCATION)',
      );
      expect(sdl).not.toBe(readFileSync(file, 'utf8'));
      writeFileSync(file, sdl);
      const sources = loadPolicySources(dir);
      const proposed = policyFromText(policyText(composeSupergraph(sources).supergraphSdl, sources.purposesSdl));
      // Compare what-if against the log as it stands (the back-dated event above is part of history now).
      const baseline = await replay({ store: dbAuditStore(db), db });
      const whatIf = await replay({ store: dbAuditStore(db), db, proposed });
      const key = (m: { recordId: string; subscriberId?: string; coordinate?: string }) => `${m.recordId}|${m.subscriberId}|${m.coordinate}`;
      const baselineKeys = new Set(baseline.mismatches.map(key));
      const changed = whatIf.mismatches.filter((m) => !baselineKeys.has(key(m)) || m.coordinate === 'Location.latitude');
      const { rows } = await db.query<{ body: string }>('SELECT body FROM audit_records WHERE log_id = $1', [logId]);
      const expected = rows
        .map((r) => JSON.parse(r.body) as AuditLeaf)
        .filter((l) => l.purpose === 'MARKETING' || l.purpose === 'MARKETING_SMS')
        .flatMap((l) => l.decisions.filter((d) => d.coordinate === 'Location.latitude').map((d) => `${l.recordId}|${d.subscriberId}|${d.coordinate}`));
      expect(expected.length).toBeGreaterThan(0);
      expect(new Set(changed.map(key))).toEqual(new Set(expected));
      for (const m of changed) expect(m.replayed).toBe('DENY PURPOSE_NOT_ALLOWED');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the access log through GraphQL', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
    await gw.gql(PROFILE(FIXTURES.adult.id), { purpose: 'CUSTOMER_SUPPORT' });
    await gw.gql(`{ subscribers(first: 100) { nodes { id fullName } } }`, { purpose: 'BILLING' });
    await gw.gql(PROFILE(FIXTURES.adult.id), { purpose: 'LAW_ENFORCEMENT', ref: 'LP-9' });
  });
  afterAll(() => gw.close());

  const LOG = `query($f: AccessLogFilter) { accessLog(filter: $f, first: 50) { nodes { recordId purpose ref caller { sub kind } rejection decisions { subscriberId coordinate effect reason strategy } } pageInfo { hasNextPage endCursor } } }`;

  it('gives auditors under AUDIT the log, filtered, with no subscriber values', async () => {
    const token = await gw.mint({ sub: 'dpo', kind: 'auditor', purposes: ['AUDIT'] });
    const res = await gw.gql(LOG, { token, purpose: 'AUDIT', variables: { f: { subscriberId: FIXTURES.none.id } } });
    expect(res.body.errors).toBeUndefined();
    const nodes = res.body.data!.accessLog.nodes;
    expect(nodes.map((n: { purpose: string }) => n.purpose)).toEqual(['BILLING']);
    expect(nodes[0].decisions).toContainEqual({ subscriberId: FIXTURES.none.id, coordinate: 'Subscriber.fullName', effect: 'ALLOW', reason: null, strategy: null });
    const le = await gw.gql(LOG, { token, purpose: 'AUDIT', variables: { f: { purpose: 'LAW_ENFORCEMENT' } } });
    expect(le.body.data!.accessLog.nodes[0].ref).toBe('LP-9');
    expect(JSON.stringify(res.body)).not.toContain(FIXTURES.none.fullName);
    expect(JSON.stringify(le.body)).not.toContain(FIXTURES.adult.device.imei);
  });

  it.each([
    ['a date-time out of range, as a variable', { f: { since: '99999-01-01' } }],
    ['a date without a time zone, as a variable', { f: { until: '2026-01-01T00:00:00' } }],
  ])('refuses %s with BAD_USER_INPUT, never a 500', async (_name, variables) => {
    const token = await gw.mint({ sub: 'dpo', kind: 'auditor', purposes: ['AUDIT'] });
    const res = await gw.gql(LOG, { token, purpose: 'AUDIT', variables });
    // The gateway passes custom scalars through; the audit subgraph refuses the value.
    expect(res.status).toBe(200);
    expect(res.body.errors?.[0]?.message).toContain('DateTime must be an ISO 8601 date-time');
    expect(res.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.body.data ?? null).toBeNull();
  });

  it('filters by time with DateTime bounds (since inclusive, until exclusive)', async () => {
    const token = await gw.mint({ sub: 'dpo', kind: 'auditor', purposes: ['AUDIT'] });
    const AT = `query($f: AccessLogFilter) { accessLog(filter: $f, first: 5) { nodes { at } } }`;
    const all = await gw.gql(AT, { token, purpose: 'AUDIT', variables: { f: {} } });
    const newest = all.body.data!.accessLog.nodes[0].at as string;
    const since = await gw.gql(AT, { token, purpose: 'AUDIT', variables: { f: { since: newest } } });
    expect(since.body.data!.accessLog.nodes.map((n: { at: string }) => n.at)).toContain(newest);
    const until = await gw.gql(AT, { token, purpose: 'AUDIT', variables: { f: { until: newest } } });
    expect(until.body.data!.accessLog.nodes.map((n: { at: string }) => n.at)).not.toContain(newest);
  });

  it('refuses the log to other callers and other purposes', async () => {
    // AUDIT is the auditors' purpose only, and auditors may declare nothing else.
    const internal = await gw.mint({ kind: 'internal', purposes: ['AUDIT', 'BILLING'] });
    expectRejected(await gw.gql(LOG, { token: internal, purpose: 'AUDIT' }), 403, 'PURPOSE_NOT_PERMITTED');
    expectDenied(await gw.gql(LOG, { token: internal, purpose: 'BILLING' }), ['accessLog'], 'PURPOSE_NOT_ALLOWED');
    const auditor = await gw.mint({ sub: 'dpo', kind: 'auditor', purposes: ['AUDIT', 'LAW_ENFORCEMENT'] });
    expectRejected(await gw.gql(PROFILE(FIXTURES.adult.id), { token: auditor, purpose: 'LAW_ENFORCEMENT', ref: 'LP-1' }), 403, 'PURPOSE_NOT_PERMITTED');
    expectDenied(await gw.gql(`{ subscriber(id: "${FIXTURES.adult.id}") { fullName } }`, { token: auditor, purpose: 'AUDIT' }), ['subscriber', 'fullName'], 'PURPOSE_NOT_ALLOWED');
  });

  it('shows a subscriber only their own entries and their own decisions', async () => {
    const token = await gw.mint({ sub: FIXTURES.none.id, kind: 'subscriber', purposes: ['SUBJECT_ACCESS'] });
    const res = await gw.gql(`{ myAccessLog { nodes { purpose ref decisions { subscriberId coordinate effect } } } }`, { token, purpose: 'SUBJECT_ACCESS' });
    expect(res.body.errors).toBeUndefined();
    const nodes = res.body.data!.myAccessLog.nodes;
    expect(nodes.length).toBeGreaterThan(0);
    for (const n of nodes) for (const d of n.decisions) expect(d.subscriberId).toBe(FIXTURES.none.id);
    expect(nodes.map((n: { purpose: string }) => n.purpose)).toContain('BILLING');
    const adult = await gw.mint({ sub: FIXTURES.adult.id, kind: 'subscriber', purposes: ['SUBJECT_ACCESS'] });
    const own = await gw.gql(`{ myAccessLog { nodes { purpose ref } } }`, { token: adult, purpose: 'SUBJECT_ACCESS' });
    // LAW_ENFORCEMENT accesses are withheld from their subject (test/integration/myAccessLog.test.ts); no ref is shown.
    expect(own.body.data!.myAccessLog.nodes.length).toBeGreaterThan(0);
    for (const n of own.body.data!.myAccessLog.nodes) {
      expect(n.purpose).not.toBe('LAW_ENFORCEMENT');
      expect(n.ref).toBeNull();
    }
  });
});

describe('a leaf with text beyond ASCII', () => {
  it('is stored as the exact UTF-8 bytes it was hashed from, reads back whole, and verifies', async () => {
    const db = await openTestDb();
    const gw = await startTestGateway({ db, checkpointIntervalMs: 3_600_000 });
    try {
      const sub = 'svc-Zoë-東京-😀-\u2028';
      const token = await gw.mint({ kind: 'internal', sub, purposes: ['CUSTOMER_SUPPORT'] });
      const res = await gw.gql(`{ subscriber(id: "${FIXTURES.adult.id}") { fullName devices { imei } } }`, { purpose: 'CUSTOMER_SUPPORT', token });
      expect(res.status).toBe(200);
      await gw.server.close();
      const { rows } = await db.query<{ body: string; leaf_hash: string }>('SELECT body, leaf_hash FROM audit_records WHERE record_id = $1', [res.body.extensions!.audit.recordId]);
      const leaf = JSON.parse(rows[0]!.body) as AuditLeaf;
      expect(leaf.caller?.sub).toBe(sub);
      expect(leaf.decisions.length).toBeGreaterThan(0);
      expect(leafHash(Buffer.from(rows[0]!.body, 'utf8')).toString('hex')).toBe(rows[0]!.leaf_hash);
      const signer = loadOrCreateAuditSigner(gw.dataDir);
      const report = await verifyLogs(dbAuditStore(db), [{ name: signer.name, publicKey: signer.publicKey }]);
      expect(report.problem).toBeUndefined();
      expect(report.ok).toBe(true);
    } finally {
      await db.drop();
      rmSync(gw.dataDir, { recursive: true, force: true });
    }
  });
});
