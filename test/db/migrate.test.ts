import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { migrate, openPglite, openPostgres, type Db } from '../../src/db/index.js';

const MIGRATION_VERSIONS = readdirSync(fileURLToPath(new URL('../../src/db/migrations/', import.meta.url)))
  .filter((f) => /^\d+_.+\.sql$/.test(f))
  .map((f) => Number.parseInt(f, 10))
  .sort((a, b) => a - b);

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
