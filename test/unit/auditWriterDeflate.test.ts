// A large leaf that cannot be compressed fails alone: its request is told so, the records of the
// same batch are written, and nothing is left waiting.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuditWriter, dbAuditStore, loadOrCreateAuditSigner, verifyLogs } from '../../src/audit/index.js';
import { entryWithDecisions as entry } from '../fixtures/auditEntries.js';
import { openTestDb } from '../harness.js';

const zlibFails = vi.hoisted(() => ({ now: false }));
vi.mock('node:zlib', async (importOriginal) => {
  const zlib = await importOriginal<typeof import('node:zlib')>();
  return {
    ...zlib,
    deflateRawSync: (...args: Parameters<typeof zlib.deflateRawSync>) => {
      if (zlibFails.now) throw new RangeError('zlib: out of memory');
      return zlib.deflateRawSync(...args);
    },
  };
});


describe('AuditWriter with a leaf that cannot be deflated', () => {
  let db: Awaited<ReturnType<typeof openTestDb>>;
  const signer = loadOrCreateAuditSigner(mkdtempSync(join(tmpdir(), 'pg-writer-deflate-')));
  beforeAll(async () => {
    db = await openTestDb();
  });
  afterAll(() => db.drop());

  it('rejects that record alone, writes the rest of its batch, and the log verifies', async () => {
    const writer = await AuditWriter.open(db, { policyVersion: 'v', signer });
    zlibFails.now = true;
    // Appended in one tick: one batch.
    const results = await Promise.allSettled([writer.append(entry(1)), writer.append(entry(400)), writer.append(entry(2))]);
    zlibFails.now = false;
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('The audit record cannot be written: zlib: out of memory');
    expect(results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<{ seq: number }>).value.seq)).toEqual([0, 1]);
    expect(writer.stats.failures).toBe(1);
    // Afterwards large leaves are written, deflated, as usual.
    expect((await writer.append(entry(400))).seq).toBe(2);
    await writer.close();
    const { rows } = await db.query<{ deflated: boolean }>('SELECT body_deflate IS NOT NULL AS deflated FROM audit_records WHERE log_id = $1 ORDER BY seq', [writer.logId]);
    expect(rows.map((r) => r.deflated)).toEqual([false, false, true]);
    expect(await verifyLogs(dbAuditStore(db), [{ name: signer.name, publicKey: signer.publicKey }])).toMatchObject({ ok: true, leaves: 3 });
  });
});
