export type { CopySettings, Db, QueryResult } from './Db.js';
export { DataDirLockedError } from './DataDirLockedError.js';
export { DataDirLockUnreadableError } from './lock.js';
export { DatabaseUnavailableError } from './DatabaseUnavailableError.js';
export { readLockHolder } from './lock.js';
export { openPglite, type PgliteDb } from './openPglite.js';
export { openPostgres } from './openPostgres.js';
export { migrate, MigrationLockedError } from './migrate.js';
export { openDb } from './openDb.js';
