import pg from 'pg';
import type { Db } from './Db.js';

/** Opens a pooled connection to a PostgreSQL server (`DATABASE_URL`). */
export async function openPostgres(url: string, options: { max?: number } = {}): Promise<Db> {
  // Bounded waits: a database that stops answering fails requests (fail closed) instead of hanging them.
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10, connectionTimeoutMillis: 5000, query_timeout: 30_000 });
  // A dropped idle connection must not crash the process; the next query reports the error.
  pool.on('error', () => undefined);
  const client = await pool.connect(); // fail fast with a clear error when the server is down
  client.release();
  return {
    kind: 'postgres',
    query: async (sql, params) => pool.query(sql, params as unknown[] | undefined) as never,
    exec: async (sql) => {
      await pool.query(sql);
    },
    async transaction(fn) {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        const result = await fn({ query: async (sql, params) => c.query(sql, params as unknown[] | undefined) as never });
        await c.query('COMMIT');
        return result;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        c.release();
      }
    },
    close: () => pool.end(),
  };
}
