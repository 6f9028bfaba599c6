import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Db } from './Db.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/** A migration could not lock a table in time: another session holds it. Nothing was applied. */
export class MigrationLockedError extends Error {
  constructor(readonly migration: string) {
    super(`Migration ${migration} could not lock its table within its lock timeout: another session holds it (a long query or transaction). Nothing was changed; start again when it is done.`);
    this.name = 'MigrationLockedError';
  }
}

/** The advisory lock key that serialises migrations across processes sharing one PostgreSQL database. */
const MIGRATION_LOCK_KEY = 7201005;

/**
 * Applies the versioned SQL migrations in src/db/migrations that `db` has not applied yet, in one
 * transaction: on PostgreSQL it first takes a transaction-scoped advisory lock, so replicas that
 * start together on an empty database wait for each other, even to create `schema_migrations`.
 */
export async function migrate(db: Db): Promise<number[]> {
  const files = readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .sort();
  return db.transaction(async (tx) => {
    // The lock comes before any DDL: two concurrent CREATE TABLE IF NOT EXISTS both insert the
    // table's row type and one fails on pg_type's unique index.
    if (db.kind === 'postgres') await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const seen = await tx.query<{ version: number }>('SELECT version FROM schema_migrations');
    const done = new Set(seen.rows.map((r) => Number(r.version)));
    const applied: number[] = [];
    for (const file of files) {
      const version = Number.parseInt(file, 10);
      if (done.has(version)) continue;
      const sql = readFileSync(MIGRATIONS_DIR + file, 'utf8');
      // Statements are split on the marker-free semicolons of whole lines; $$ bodies stay intact.
      try {
        for (const statement of splitSql(sql)) await tx.query(statement);
      } catch (err) {
        // A migration that sets a lock timeout gave up waiting for a table another session holds.
        if ((err as { code?: unknown }).code === '55P03') throw new MigrationLockedError(file);
        throw err;
      }
      await tx.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
      applied.push(version);
    }
    return applied;
  });
}

/** Splits a migration into statements, keeping dollar-quoted function bodies whole. */
export function splitSql(sql: string): string[] {
  const statements: string[] = [];
  let current = '';
  let inDollar = false;
  for (const line of sql.split('\n')) {
    const stripped = line.replace(/--.*$/, '');
    if ((stripped.match(/\$\$/g) ?? []).length % 2 === 1) inDollar = !inDollar;
    current += line + '\n';
    if (!inDollar && stripped.trimEnd().endsWith(';')) {
      if (current.trim()) statements.push(current.trim());
      current = '';
    }
  }
  if (current.replace(/--.*$/gm, '').trim()) statements.push(current.trim());
  return statements;
}
