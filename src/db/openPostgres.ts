import pg from 'pg';
import { DatabaseUnavailableError } from './DatabaseUnavailableError.js';
import { checkedSettings, type CopySettings, type Db, type QueryOptions } from './Db.js';
import { CopyOutQuery } from './copyOut.js';

/**
 * Every statement here is written for READ COMMITTED, PostgreSQL's default (the audit log's
 * closure check depends on it: migration 006), whatever the database or role sets: a startup
 * option of every connection, after any `options` the URL gives.
 */
function readCommittedOptions(url: string): string {
  let given = '';
  try {
    given = new URL(url).searchParams.get('options') ?? '';
  } catch {
    // not a URL: the driver reports it
  }
  return `${given} -c default_transaction_isolation=read\\ committed`.trim();
}

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

/** Names of the statements prepared so far, by text: one name per text, in every connection. */
const preparedNames = new Map<string, string>();

/**
 * A statement for `pg`: named when `prepared` (pg prepares a name once per connection and then
 * only binds and runs it), so the server does not parse and plan it again on every call.
 */
function statement(sql: string, params: readonly unknown[] | undefined, options: QueryOptions | undefined): pg.QueryConfig {
  const values = params as unknown[] | undefined;
  if (options?.prepared !== true) return { text: sql, values };
  let name = preparedNames.get(sql);
  if (name === undefined) preparedNames.set(sql, (name = `purposegate_${preparedNames.size + 1}`));
  return { name, text: sql, values };
}

/** Opens a pooled connection to a PostgreSQL server (`DATABASE_URL`). */
export async function openPostgres(url: string, options: { max?: number; queryTimeoutMs?: number; statementTimeoutMs?: number } = {}): Promise<Db> {
  // Bounded waits: a database that stops answering fails requests (fail closed) instead of hanging
  // them. The server stops a statement before the client gives up on it, so a statement the client
  // has abandoned is rarely still running (and then committing) on the server.
  const queryTimeout = options.queryTimeoutMs ?? 30_000;
  const statementTimeout = options.statementTimeoutMs ?? Math.max(1, queryTimeout - 5_000);
  const pool = new pg.Pool({
    connectionString: url,
    options: readCommittedOptions(url),
    max: options.max ?? 10,
    connectionTimeoutMillis: 5000,
    query_timeout: queryTimeout,
    ...(statementTimeout > 0 ? { statement_timeout: statementTimeout } : {}),
  });
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
    query: async (sql, params, options) => pool.query(statement(sql, params, options)) as never,
    exec: async (sql) => {
      await pool.query(sql);
    },
    async transaction(fn) {
      const c = await checkOut(pool);
      let failed: unknown;
      try {
        await c.query('BEGIN');
        const result = await fn({
          query: async (sql, params, options) => c.query(statement(sql, params, options)) as never,
          copyOut: (sql, into, settings) => copyOutOn(c, withSettings(sql, settings, true), into),
        });
        await c.query('COMMIT');
        return result;
      } catch (err) {
        failed = err;
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        // A failed transaction's connection is closed: its ROLLBACK may not have run (it can time
        // out behind a statement still running), and a connection left inside a transaction must
        // never be handed out again (what runs on it next would not be committed).
        checkIn(c, failed);
      }
    },
    async session(fn) {
      const c = await checkOut(pool);
      let failed: unknown;
      try {
        const result = await fn({ query: async (sql, params, options) => c.query(statement(sql, params, options)) as never });
        // Each statement was its own transaction: anything else means nothing here was committed.
        if (c.getTransactionStatus() !== 'I') throw new Error('The connection was left inside a transaction: nothing on it was committed.');
        return result;
      } catch (err) {
        failed = err;
        throw err;
      } finally {
        // After a failure the connection may still be running a statement (a client timeout
        // does not stop it on the server) or be broken: it is closed, not handed out again.
        checkIn(c, failed);
      }
    },
    async copyOut(sql, into, settings) {
      const text = withSettings(sql, settings, false);
      const c = await checkOut(pool);
      let failed: unknown;
      try {
        return await copyOutOn(c, text, into);
      } catch (err) {
        failed = err;
        throw err;
      } finally {
        // After a failure (a timeout: the COPY may still be sending) the connection is closed.
        checkIn(c, failed);
      }
    },
    async dedicated() {
      const c = new pg.Client({
        connectionString: url,
        options: readCommittedOptions(url),
        connectionTimeoutMillis: 5000,
        query_timeout: queryTimeout,
        ...(statementTimeout > 0 ? { statement_timeout: statementTimeout } : {}),
      });
      // A lost connection must not end the process: the next query on it fails instead.
      c.on('error', () => undefined);
      try {
        await c.connect();
      } catch (err) {
        c.end().catch(() => undefined);
        throw err;
      }
      return {
        query: async (sql, params, options) => c.query(statement(sql, params, options)) as never,
        close: () => c.end(),
      };
    },
    close: () => pool.end(),
  };
}

/**
 * `sql` with `settings` set for it alone (see Db.copyOut), as one simple query: its statements
 * run in one implicit transaction, which SET LOCAL lasts for. Inside a transaction they are not
 * sent: SET LOCAL would last to its end, and a savepoint rolled back after the COPY would also
 * release the COPY's lock on its tables (a plan setting changes the cost, never the output).
 */
export function withSettings(sql: string, settings: CopySettings | undefined, inTransaction: boolean): string {
  checkedSettings(settings);
  if (inTransaction || !settings || settings.length === 0) return sql;
  return `${settings.map(([name, value]) => `SET LOCAL ${name} = ${value};`).join(' ')} ${sql}`;
}

/** Runs a `COPY ... TO STDOUT` on connection `c` (see Db.copyOut). */
function copyOutOn(c: pg.ClientBase, sql: string, into: ArrayBuffer | undefined): Promise<Uint8Array> {
  const query = new CopyOutQuery(sql, into);
  return new Promise<Uint8Array>((resolve, reject) => {
    // The client wraps the callback with its read timeout (query_timeout), as for any query.
    c.query(query as unknown as pg.QueryConfig, ((err: Error | undefined, output?: Uint8Array) => (err ? reject(err) : resolve(output!))) as never);
  });
}

/** Ignores a checked-out connection's 'error' event: the query in flight rejects with the error. */
const ignoreError = () => undefined;

/**
 * A connection from the pool, idle (outside any transaction), with an 'error' listener while it is
 * checked out: pg-pool removes its own then, and a connection lost mid-statement would otherwise
 * emit an unhandled 'error' and end the process.
 */
async function checkOut(pool: pg.Pool): Promise<pg.PoolClient> {
  for (let attempt = 0; ; attempt++) {
    const c = await pool.connect();
    c.on('error', ignoreError);
    const status = c.getTransactionStatus();
    if (status === 'I' || status === null) return c;
    checkIn(c, new Error('connection not idle'));
    if (attempt >= 2) throw new Error('The database pool handed out no idle connection.');
  }
}

/** Returns a connection to the pool, or closes it when `failed` is set. */
function checkIn(c: pg.PoolClient, failed: unknown): void {
  if (failed === undefined) {
    c.removeListener('error', ignoreError); // the pool's own listener takes over while it is idle
    c.release();
  } else {
    c.release(failed instanceof Error ? failed : true); // closed: the listener stays until it ends
  }
}
