import pg from 'pg';
import { DatabaseUnavailableError } from './DatabaseUnavailableError.js';
import type { Db } from './Db.js';

/** How long the first connection may take before the server counts as unavailable. */
const CONNECT_TIMEOUT_MS = 10_000;

/** Where a URL points, without its credentials: `host:port/database`. */
function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

/** A short reason for a failed first connection (no stack, no credentials). */
function describeFailure(err: unknown): string {
  const e = err as { code?: string; message?: string };
  switch (e?.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'unknown host';
    case 'ETIMEDOUT':
      return 'connection timed out';
    case 'ECONNRESET':
      return 'connection reset';
    default:
      return (e?.message ?? String(err)).split('\n')[0].replace(/\.$/, '');
  }
}

/** Opens a pooled connection to a PostgreSQL server (`DATABASE_URL`). */
export async function openPostgres(url: string, options: { max?: number; queryTimeoutMs?: number } = {}): Promise<Db> {
  // Bounded waits: a database that stops answering fails requests (fail closed) instead of hanging them.
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10, connectionTimeoutMillis: 5000, query_timeout: options.queryTimeoutMs ?? 30_000 });
  // A dropped idle connection must not crash the process; the next query reports the error.
  pool.on('error', () => undefined);
  // Fail fast with a clear error when the server is down, refuses us or does not answer.
  let timer: NodeJS.Timeout | undefined;
  try {
    const client = await Promise.race([
      pool.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS / 1000} s`)), CONNECT_TIMEOUT_MS);
      }),
    ]);
    client.release();
  } catch (err) {
    pool.end().catch(() => undefined);
    throw new DatabaseUnavailableError(describeUrl(url), describeFailure(err));
  } finally {
    clearTimeout(timer);
  }
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
    async session(fn) {
      const c = await pool.connect();
      let failed: unknown;
      try {
        return await fn({ query: async (sql, params) => c.query(sql, params as unknown[] | undefined) as never });
      } catch (err) {
        failed = err;
        throw err;
      } finally {
        // After a failure the connection may still be running a statement (a client timeout
        // does not stop it on the server) or be broken: it is closed, not handed out again.
        c.release(failed === undefined ? undefined : failed instanceof Error ? failed : true);
      }
    },
    close: () => pool.end(),
  };
}
