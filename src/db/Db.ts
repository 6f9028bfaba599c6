/** A row set as returned by both PGlite and node-postgres. */
export interface QueryResult<R> {
  rows: R[];
}

/** How a statement is run. */
export interface QueryOptions {
  /** Prepare it once per connection (PostgreSQL): for a fixed text, never for one built from input. */
  prepared?: boolean;
}

/**
 * The one storage interface every store uses: the same SQL runs on PGlite (embedded) and on a
 * PostgreSQL server through `pg`.
 */
export interface Db {
  /** Which backend this is, for messages and metrics. */
  readonly kind: 'pglite' | 'postgres';
  /**
   * One statement. With `prepared`, PostgreSQL parses and plans it once per connection (a named
   * prepared statement) instead of on every call: for statements of a fixed text run on every
   * request. PGlite ignores it.
   */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>>;
  /** Runs several statements separated by semicolons, with no parameters (migrations). */
  exec(sql: string): Promise<void>;
  /** Runs `fn` in one transaction; it is rolled back when `fn` throws. */
  transaction<T>(fn: (tx: Pick<Db, 'query' | 'copyOut'>) => Promise<T>): Promise<T>;
  /**
   * Runs `fn`'s statements on one connection, one after another, each its own transaction. A
   * statement sent after one that failed on the client (a timeout) runs only once that one has
   * ended on the server, so it sees its outcome. On PostgreSQL the connection is closed when
   * `fn` throws; PGlite's single connection runs one statement at a time anyway.
   */
  session<T>(fn: (conn: Pick<Db, 'query'>) => Promise<T>): Promise<T>;
  /**
   * Runs one `COPY (...) TO STDOUT` statement and returns its whole output (PostgreSQL: over the
   * connection; PGlite: written to a device file of its own file system, see pgliteCopier.ts).
   * The view's ArrayBuffer holds nothing else, so it can be transferred to a worker thread.
   * `into`: a buffer to gather the output in (reused: no new memory per call; a larger one is
   * made when it is too small). `settings`: planner settings (name, value: lower-case words) for
   * this statement alone, as SET LOCAL in the statement's own transaction; inside a transaction
   * they are checked but not applied (they would outlast the statement).
   */
  copyOut?(sql: string, into?: ArrayBuffer, settings?: CopySettings): Promise<Uint8Array>;
  /**
   * A connection of its own, outside the pool (PostgreSQL; absent on PGlite), for a session-level
   * state held for a long time (the audit log's lease) without taking a pooled connection.
   */
  dedicated?(): Promise<Pick<Db, 'query'> & { close(): Promise<void> }>;
  close(): Promise<void>;
}

/** Planner settings for one COPY (see Db.copyOut): name and value pairs. */
export type CopySettings = ReadonlyArray<readonly [name: string, value: string]>;

/** `settings`, refused unless every name and value is a plain lower-case word (they are written into SQL). */
export function checkedSettings(settings: CopySettings | undefined): CopySettings {
  for (const [name, value] of settings ?? []) {
    if (!/^[a-z_]+$/.test(name) || !/^[a-z_0-9]+$/.test(value)) throw new Error(`not a planner setting: ${name} = ${value}`);
  }
  return settings ?? [];
}
