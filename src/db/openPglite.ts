import { PGlite } from '@electric-sql/pglite';
import { checkedSettings, type Db } from './Db.js';
import { acquireDataDirLock, type DataDirLock } from './lock.js';
import { pgliteCopier } from './pgliteCopier.js';

/** An embedded database and the lock that makes this process its only opener. */
export interface PgliteDb extends Db {
  readonly lock: DataDirLock | undefined;
}

/**
 * Opens the embedded PGlite database in `dataDir` (or in memory for `memory://`), holding the
 * single-opener lock for as long as it is open.
 */
export async function openPglite(dataDir: string): Promise<PgliteDb> {
  const inMemory = dataDir.startsWith('memory://');
  const lock = inMemory ? undefined : acquireDataDirLock(dataDir);
  let pg: PGlite;
  try {
    pg = inMemory ? new PGlite() : new PGlite(`${dataDir}/pgdata`);
    await pg.waitReady;
  } catch (err) {
    lock?.release();
    throw err;
  }
  // PGlite is one connection: serialise transactions so statements of two never interleave.
  let chain: Promise<unknown> = Promise.resolve();
  const copy = pgliteCopier(pg);
  const transaction = <T>(fn: (tx: Pick<Db, 'query' | 'copyOut'>) => Promise<T>): Promise<T> => {
    const run = chain.then(() =>
      pg.transaction((tx) =>
        fn({
          query: (sql, params) => tx.query(sql, params as unknown[] | undefined),
          // Inside a transaction the settings are checked, not applied (see Db.copyOut).
          copyOut: async (sql, into, settings) => {
            checkedSettings(settings);
            return copy(sql, into, (text) => tx.query(text));
          },
        }),
      ),
    );
    chain = run.catch(() => undefined);
    return run as Promise<T>;
  };
  return {
    kind: 'pglite',
    lock,
    query: (sql, params) => pg.query(sql, params as unknown[] | undefined),
    exec: async (sql) => {
      await pg.exec(sql);
    },
    transaction,
    async copyOut(sql, into, settings) {
      if (checkedSettings(settings).length === 0) return copy(sql, into, (text) => pg.query(text));
      // SET LOCAL lasts for this transaction alone: the COPY's own.
      return transaction(async (tx) => {
        for (const [name, value] of settings!) await tx.query(`SET LOCAL ${name} = ${value}`);
        return tx.copyOut!(sql, into);
      });
    },
    // One connection, whose every query already waits for the one before (and for transactions).
    session: (fn) => fn({ query: (sql, params) => pg.query(sql, params as unknown[] | undefined) }),
    async close() {
      try {
        await pg.close();
      } finally {
        lock?.release();
      }
    },
  };
}
