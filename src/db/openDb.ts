import type { Db } from './Db.js';
import { migrate } from './migrate.js';
import { openPglite } from './openPglite.js';
import { openPostgres } from './openPostgres.js';

/**
 * Opens the configured store (PostgreSQL when `databaseUrl` is set, else embedded PGlite in
 * `dataDir`) and applies pending migrations.
 */
export async function openDb(options: { databaseUrl?: string; dataDir: string }): Promise<Db> {
  const db = options.databaseUrl ? await openPostgres(options.databaseUrl) : await openPglite(options.dataDir);
  try {
    await migrate(db);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  return db;
}
