import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AuditWriter, dbAuditStore, loadOrCreateAuditSigner, verifyLogs } from '../../src/audit/index.js';
import { migrate, MigrationLockedError, openPglite, openPostgres, type Db } from '../../src/db/index.js';
import { splitSql } from '../../src/db/migrate.js';
import { entryWithDecisions as entry } from '../fixtures/auditEntries.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../src/db/migrations/', import.meta.url));
const MIGRATION_FILES = readdirSync(MIGRATIONS_DIR)
  .filter((f) => /^\d+_.+\.sql$/.test(f))
  .sort();
const MIGRATION_VERSIONS = MIGRATION_FILES.map((f) => Number.parseInt(f, 10)).sort((a, b) => a - b);

/** Creates an empty PostgreSQL database of a random name; returns its URL and a dropper. */
async function createEmptyDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `pg_migrate_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = await openPostgres(adminUrl, { max: 1 });
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.close();
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const a = await openPostgres(adminUrl, { max: 1 });
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.close();
    },
  };
}

/**
 * Holds `audit_records` in ACCESS SHARE mode from `holder`'s connection, as a long audit read
 * does, until `release()` (which may be called more than once).
 */
async function holdAuditRecords(holder: Db): Promise<{ release(): Promise<void> }> {
  let release: () => void = () => undefined;
  const held = new Promise<void>((r) => (release = r));
  let locked: () => void = () => undefined;
  const isLocked = new Promise<void>((r) => (locked = r));
  const holding = holder.transaction(async (tx) => {
    await tx.query('LOCK TABLE audit_records IN ACCESS SHARE MODE');
    locked();
    await held;
  });
  await Promise.race([isLocked, holding]);
  return {
    async release() {
      release();
      await holding;
    },
  };
}

/**
 * On a fresh PostgreSQL database: `prepare(db)`, then `audit_records` held by another session
 * (holdAuditRecords) while `run(db, hold)` runs; everything closed and dropped after.
 */
async function withAuditRecordsHeld(prepare: (db: Db) => Promise<void>, run: (db: Db, hold: { release(): Promise<void> }) => Promise<void>): Promise<void> {
  const fresh = await createEmptyDatabase(process.env.TEST_DATABASE_URL!);
  const db = await openPostgres(fresh.url, { max: 2 });
  const holder = await openPostgres(fresh.url, { max: 1 });
  let hold: { release(): Promise<void> } | undefined;
  try {
    await prepare(db);
    hold = await holdAuditRecords(holder);
    await run(db, hold);
  } finally {
    await hold?.release().catch(() => undefined);
    await holder.close();
    await db.close();
    await fresh.drop();
  }
}

describe.skipIf(!process.env.TEST_DATABASE_URL)('migrate on PostgreSQL', () => {
  it.each([
    { replicas: 4, round: 1 },
    { replicas: 6, round: 2 },
    { replicas: 5, round: 3 },
    { replicas: 6, round: 4 },
  ])('$replicas replicas migrating one empty database at once all succeed, each migration applied once (round $round)', async ({ replicas }) => {
    const fresh = await createEmptyDatabase(process.env.TEST_DATABASE_URL!);
    const dbs: Db[] = [];
    try {
      // One pool per replica, as separate gateway processes would have.
      for (let i = 0; i < replicas; i++) dbs.push(await openPostgres(fresh.url, { max: 2 }));
      const results = await Promise.allSettled(dbs.map((db) => migrate(db)));
      const failures = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error).message)] : []));
      expect(failures).toEqual([]);
      const appliedBy = results.map((r) => (r as PromiseFulfilledResult<number[]>).value);
      // Every version was applied by exactly one replica.
      expect(appliedBy.flat().sort((a, b) => a - b)).toEqual(MIGRATION_VERSIONS);
      const { rows } = await dbs[0]!.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(MIGRATION_VERSIONS);
      // A later start applies nothing.
      await expect(migrate(dbs[0]!)).resolves.toEqual([]);
    } finally {
      await Promise.all(dbs.map((db) => db.close().catch(() => undefined)));
      await fresh.drop();
    }
  });
});

describe('migrate', () => {
  it('applies every migration once, in order, and nothing on a second run', async () => {
    const fresh = process.env.TEST_DATABASE_URL ? await createEmptyDatabase(process.env.TEST_DATABASE_URL) : undefined;
    const db = fresh ? await openPostgres(fresh.url, { max: 2 }) : await openPglite('memory://');
    try {
      await expect(migrate(db)).resolves.toEqual(MIGRATION_VERSIONS);
      await expect(migrate(db)).resolves.toEqual([]);
      const { rows } = await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(MIGRATION_VERSIONS);
    } finally {
      await db.close();
      await fresh?.drop();
    }
  });
});

describe('the audit leaf column', () => {
  it('is compressed with LZ4 where the store has it, and the default elsewhere (PGlite); leaves read back whole', async () => {
    const fresh = process.env.TEST_DATABASE_URL ? await createEmptyDatabase(process.env.TEST_DATABASE_URL) : undefined;
    const db = fresh ? await openPostgres(fresh.url, { max: 2 }) : await openPglite('memory://');
    try {
      await migrate(db);
      // Does this store have LZ4 at all? (PostgreSQL built --with-lz4 does; PGlite does not.)
      let lz4 = true;
      try {
        await db.transaction(async (tx) => {
          await tx.query('CREATE TEMP TABLE lz4_probe (x text COMPRESSION lz4)');
          throw new Error('roll back');
        });
      } catch (err) {
        if ((err as Error).message !== 'roll back') lz4 = false;
      }
      const { rows } = await db.query<{ c: string }>(`SELECT attcompression AS c FROM pg_attribute WHERE attrelid = 'audit_records'::regclass AND attname = 'body'`);
      expect(rows[0]!.c).toBe(lz4 ? 'l' : '');
      if (fresh) expect(lz4).toBe(true); // the PostgreSQL of this project's machines has it
      const big = JSON.stringify({ decisions: Array.from({ length: 400 }, (_, i) => ({ subscriberId: `sub-${i}`, coordinate: 'Subscriber.msisdn', effect: 'ALLOW', count: 1 })) });
      await db.query(`INSERT INTO audit_logs (log_id, origin, key_name, public_key) VALUES ('L', 'o', 'k', 'p')`);
      await db.query(`INSERT INTO audit_records (log_id, seq, record_id, at, leaf_hash, body) VALUES ('L', 0, 'L-0', now(), 'h', $1)`, [big]);
      const back = await db.query<{ body: string; method: string | null }>(`SELECT body, pg_column_compression(body) AS method FROM audit_records WHERE record_id = 'L-0'`);
      expect(back.rows[0]!.body).toBe(big);
      expect(back.rows[0]!.method).toBe(lz4 ? 'lz4' : 'pglz');
    } finally {
      await db.close();
      await fresh?.drop();
    }
  });
});

describe.skipIf(!process.env.TEST_DATABASE_URL)('the LZ4 migration on PostgreSQL', () => {
  it('does not wait for ever on a table another session holds: after its lock timeout it leaves pglz and the store starts', async () => {
    const asIf004HadNotRun = async (db: Db) => {
      await migrate(db);
      await db.query(`ALTER TABLE audit_records ALTER COLUMN body SET COMPRESSION pglz`);
      await db.query('DELETE FROM schema_migrations WHERE version = 4');
    };
    // On a table a long audit read is holding.
    await withAuditRecordsHeld(asIf004HadNotRun, async (db, hold) => {
      const started = Date.now();
      await expect(migrate(db)).resolves.toEqual([4]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(4_000); // it did wait, then gave up
      const { rows } = await db.query<{ c: string }>(`SELECT attcompression AS c FROM pg_attribute WHERE attrelid = 'audit_records'::regclass AND attname = 'body'`);
      expect(rows[0]!.c).toBe('p');
      const { rows: timeout } = await db.query<{ lock_timeout: string }>('SHOW lock_timeout');
      expect(timeout[0]!.lock_timeout).toBe('0'); // the 5 s was local to the migration
      await hold.release();
    });
  }, 30_000);
});

/** The store as it was before migration `version`: the earlier migrations only. */
async function migrateBefore(db: Db, version: number): Promise<void> {
  await db.query('CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
  for (const file of MIGRATION_FILES.filter((f) => Number.parseInt(f, 10) < version)) {
    for (const statement of splitSql(readFileSync(join(MIGRATIONS_DIR, file), 'utf8'))) await db.query(statement);
    await db.query('INSERT INTO schema_migrations (version) VALUES ($1)', [Number.parseInt(file, 10)]);
  }
}

describe.skipIf(!process.env.TEST_DATABASE_URL)('the deflated-leaf migration (005) on PostgreSQL', () => {
  it('waits at most 5 s for a table another session holds, then fails this start with a clear error and changes nothing', async () => {
    await withAuditRecordsHeld((db) => migrateBefore(db, 5), async (db, hold) => {
      const started = Date.now();
      const err = await migrate(db).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MigrationLockedError);
      expect((err as Error).message).toMatch(/^Migration 005_audit_body_deflate\.sql could not lock its table within its lock timeout: another session holds it/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(4_000);
      const { rows } = await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).not.toContain(5);
      const { rows: cols } = await db.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'audit_records' AND column_name = 'body_deflate'`);
      expect(cols).toHaveLength(0);
      await hold.release();
      expect(await migrate(db)).toContain(5);
      const { rows: timeout } = await db.query<{ lock_timeout: string }>('SHOW lock_timeout');
      expect(timeout[0]!.lock_timeout).toBe('0');
    });
  }, 30_000);
});

describe('the deflated-leaf migration (005) on a store written before it', () => {
  it('keeps every earlier record verifiable, and the log grows with deflated leaves after it', async () => {
    const fresh = process.env.TEST_DATABASE_URL ? await createEmptyDatabase(process.env.TEST_DATABASE_URL) : undefined;
    const before: Db = fresh ? await openPostgres(fresh.url, { max: 2 }) : await openPglite('memory://');
    const writtenBy: Db = await openPglite('memory://');
    const dir = mkdtempSync(join(tmpdir(), 'pg-migrate-005-'));
    try {
      await migrateBefore(before, 5);
      // Records written then: small leaves, as text (written here by the writer on another store, then copied).
      await migrate(writtenBy);
      const signer = loadOrCreateAuditSigner(dir);
      const old = await AuditWriter.open(writtenBy, { policyVersion: 'p', signer });
      for (let i = 0; i < 5; i++) await old.append(entry(2));
      await old.close();
      for (const table of ['audit_logs', 'audit_records', 'audit_checkpoints']) {
        const { rows } = await writtenBy.query<Record<string, unknown>>(`SELECT * FROM ${table}`);
        for (const row of rows) {
          const columns = Object.keys(row).filter((c) => c !== 'body_deflate');
          expect(row.body_deflate ?? null).toBeNull();
          await before.query(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`, columns.map((c) => row[c]));
        }
      }
      const trusted = [{ name: signer.name, publicKey: signer.publicKey }];
      expect(await migrate(before)).toContain(5);
      expect(await verifyLogs(dbAuditStore(before), trusted)).toMatchObject({ ok: true, leaves: 5 });
      // After it: a large leaf goes in deflated, next to the text ones, and everything verifies.
      const now = await AuditWriter.open(before, { policyVersion: 'p', signer });
      await now.append(entry(400));
      await now.append(entry(1));
      await now.close();
      const { rows } = await before.query<{ deflated: boolean }>('SELECT body_deflate IS NOT NULL AS deflated FROM audit_records WHERE log_id = $1 ORDER BY seq', [now.logId]);
      expect(rows.map((r) => r.deflated)).toEqual([true, false]);
      expect(await verifyLogs(dbAuditStore(before), trusted)).toMatchObject({ ok: true, leaves: 7 });
    } finally {
      await writtenBy.close();
      await before.close();
      await fresh?.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
