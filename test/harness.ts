import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { AuditLeaf } from '../src/audit/index.js';
import { LEAF_COLUMNS, leafText, type StoredLeaf } from '../src/audit/leafStorage.js';
import { mintToken, type MintClaims } from '../src/auth/index.js';
import { parseConfig, type Config } from '../src/config.js';
import { migrate, openPglite, openPostgres, type Db } from '../src/db/index.js';
import { startServer, type RunningServer } from '../src/gateway/index.js';
import { SUBGRAPH_NAMES, startSubgraphServer, type RunningSubgraph, type SubgraphName } from '../src/subgraphs/index.js';
import { spawnSubgraph, type SubgraphProcess } from './processes.js';
import { insertFixtures } from './fixtures/subscribers.js';

/** A test store, and with PostgreSQL the URL other processes can open it with. */
export type TestDb = Db & { drop(): Promise<void>; url?: string };

/** A fresh, migrated store for one test file: in-memory PGlite, or with TEST_DATABASE_URL a new PostgreSQL database. */
export async function openTestDb(): Promise<TestDb> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) {
    const db = await openPglite('memory://');
    await migrate(db);
    return Object.assign(db, { drop: () => db.close() });
  }
  const name = `pg_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = await openPostgres(url, { max: 1 });
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.close();
  const u = new URL(url);
  u.pathname = `/${name}`;
  const db = await openPostgres(u.toString());
  await migrate(db);
  return Object.assign(db, {
    url: u.toString(),
    async drop() {
      await db.close();
      const a = await openPostgres(url, { max: 1 });
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.close();
    },
  });
}

/** What a test request sends. */
export interface RequestOptions {
  token?: string | null;
  purpose?: string | null;
  ref?: string;
  variables?: Record<string, unknown>;
  operationName?: string;
  headers?: Record<string, string>;
}

/** A GraphQL response as a test sees it. */
export interface GqlResponse {
  status: number;
  headers: Headers;
  body: {
    data?: Record<string, any> | null;
    errors?: Array<{ message: string; path?: Array<string | number>; extensions?: Record<string, any> }>;
    extensions?: Record<string, any>;
  };
}

/** A gateway on 127.0.0.1 with its own store and DATA_DIR. */
export interface TestGateway {
  server: RunningServer;
  url: string;
  db: Db;
  config: Config;
  dataDir: string;
  mint(claims: Partial<MintClaims> & Pick<MintClaims, 'kind' | 'purposes'>, ttlSeconds?: number): Promise<string>;
  /** Sends a query; with no `token` given, mints an internal token for the declared purpose. */
  gql(query: string, options?: RequestOptions): Promise<GqlResponse>;
  close(): Promise<void>;
}

/**
 * Where the subgraphs run: in the gateway's process (default); served over HTTP by this test
 * process (`http`: RemoteGraphQLDataSource, context tokens, real sockets, either store); or as
 * `purposegate subgraph` processes (`processes`: PostgreSQL only, TEST_DATABASE_URL).
 */
export type SubgraphMode = 'in-process' | 'http' | 'processes';

/** The modes this run can test: `processes` needs a PostgreSQL store other processes can open. */
export const SUBGRAPH_MODES: SubgraphMode[] = process.env.TEST_DATABASE_URL ? ['in-process', 'http', 'processes'] : ['in-process', 'http'];

/** Starts a real gateway over HTTP on a real (fresh) store with the fixture population. */
export async function startTestGateway(
  options: { fixtures?: boolean; env?: Record<string, string>; db?: Db & { url?: string }; auditDb?: Db; checkpointIntervalMs?: number; subgraphs?: SubgraphMode; denialPaths?: 'gateway' | 'apollo' } = {},
): Promise<TestGateway> {
  const dataDir = mkdtempSync(join(tmpdir(), 'purposegate-test-'));
  const env = { DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', SEED_SUBSCRIBERS: '0', RATE_LIMIT_PER_MINUTE: '0', LOG_LEVEL: 'silent', ...(options.env ?? {}) };
  let config = parseConfig(env);
  const owned = options.db ? undefined : await openTestDb();
  const db = options.db ?? owned!;
  if (options.fixtures !== false) await insertFixtures(db);
  const remote: Array<RunningSubgraph | SubgraphProcess> = [];
  const mode = options.subgraphs ?? 'in-process';
  try {
    if (mode === 'http') {
      for (const name of SUBGRAPH_NAMES) remote.push(await startSubgraphServer(config, name, { db }));
    } else if (mode === 'processes') {
      if (!db.url) throw new Error('Subgraph processes need a PostgreSQL test store (TEST_DATABASE_URL).');
      const subEnv = { ...env, DATABASE_URL: db.url };
      remote.push(...(await Promise.all(SUBGRAPH_NAMES.map((name) => spawnSubgraph(name, subEnv)))));
    }
  } catch (err) {
    await Promise.all(remote.map((r) => ('stop' in r ? r.stop() : r.close())));
    throw err;
  }
  if (remote.length > 0) config = { ...config, subgraphUrls: new Map(remote.map((r) => [r.name as SubgraphName, r.url])) };
  const server = await startServer(config, { db, auditDb: options.auditDb, checkpointIntervalMs: options.checkpointIntervalMs, denialPaths: options.denialPaths });
  const mint: TestGateway['mint'] = (claims, ttlSeconds) =>
    mintToken(server.issuerKey, { sub: 'svc-test', ...claims }, { issuer: config.tokenIssuer, audience: config.tokenAudience, ttlSeconds });
  return {
    server,
    url: server.url,
    db,
    config,
    dataDir,
    mint,
    async gql(query, o = {}) {
      const headers: Record<string, string> = { 'content-type': 'application/json', ...(o.headers ?? {}) };
      let token = o.token;
      if (token === undefined && o.purpose) token = await mint({ kind: o.purpose === 'AUDIT' ? 'auditor' : 'internal', purposes: [o.purpose] });
      if (token) headers.authorization = `Bearer ${token}`;
      if (o.purpose) headers['x-purpose'] = o.purpose;
      if (o.ref) headers['x-purpose-ref'] = o.ref;
      const body: Record<string, unknown> = { query };
      if (o.variables) body.variables = o.variables;
      if (o.operationName !== undefined) body.operationName = o.operationName;
      const res = await fetch(server.url, { method: 'POST', headers, body: JSON.stringify(body) });
      return { status: res.status, headers: res.headers, body: (await res.json()) as GqlResponse['body'] };
    },
    async close() {
      await server.close();
      await Promise.all(remote.map((r) => ('stop' in r ? r.stop() : r.close())));
      await owned?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Reads the value at a response path. */
export function at(data: unknown, path: ReadonlyArray<string | number>): unknown {
  return path.reduce<unknown>((v, k) => (v === null || v === undefined ? v : (v as Record<string | number, unknown>)[k]), data);
}

/** The error a response carries at exactly `path`, if any. */
export function errorAt(res: GqlResponse, path: ReadonlyArray<string | number>) {
  return res.body.errors?.find((e) => JSON.stringify(e.path) === JSON.stringify(path));
}

/** Asserts the field at `path` was denied: null, and a FORBIDDEN error with `reason` at that path. */
export function expectDenied(res: GqlResponse, path: ReadonlyArray<string | number>, reason: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(at(res.body.data, path), `value at ${path.join('.')}`).toBeNull();
  const err = errorAt(res, path);
  expect(err, `error at ${path.join('.')}: ${JSON.stringify(res.body.errors)}`).toBeDefined();
  expect(err!.extensions?.code).toBe('FORBIDDEN');
  expect(err!.extensions?.reason).toBe(reason);
}

/** Asserts the field at `path` was released with `value` and without an error. */
export function expectAllowed(res: GqlResponse, path: ReadonlyArray<string | number>, value: unknown): void {
  expect(errorAt(res, path), `no error at ${path.join('.')}`).toBeUndefined();
  expect(at(res.body.data, path), `value at ${path.join('.')}`).toEqual(value);
}

/** Asserts a request-level rejection: status, code, and no data. */
export function expectRejected(res: GqlResponse, status: number, code: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.errors?.[0]?.extensions?.code).toBe(code);
  expect(res.body.data ?? null).toBeNull();
}

/**
 * A gateway on a fresh store whose audit writes fail while `state.broken` is true; close() also
 * drops the store. `base` is the store itself, for the test to read what was written.
 */
export async function startBreakableAuditGateway(): Promise<{ gw: TestGateway; base: TestDb; state: { broken: boolean } }> {
  const base = await openTestDb();
  const { db, state } = breakableAuditDb(base);
  const gw = await startTestGateway({ db: base, auditDb: db });
  const close = gw.close;
  gw.close = async () => {
    await close();
    await base.drop();
  };
  return { gw, base, state };
}

/** A store whose audit writes can be made to fail (`state.broken`), as a full disk or a revoked grant would. */
export function breakableAuditDb(db: Db): { db: Db; state: { broken: boolean } } {
  const state = { broken: false };
  const guarded = (q: Db['query']): Db['query'] =>
    (async (sql: string, params?: readonly unknown[]) => {
      if (state.broken && sql.includes('INSERT INTO audit_records')) throw new Error('could not extend file: No space left on device');
      return q(sql, params);
    }) as Db['query'];
  const wrapped: Db = {
    kind: db.kind,
    query: guarded((sql, params) => db.query(sql, params)),
    exec: (sql) => db.exec(sql),
    transaction: (fn) => db.transaction((tx) => fn({ query: guarded((sql, params) => tx.query(sql, params)) })),
    session: (fn) => db.session((conn) => fn({ query: guarded((sql, params) => conn.query(sql, params)) })),
    close: () => db.close(),
  };
  return { db: wrapped, state };
}

/** The audit record a response names in `extensions.audit.recordId` (committed before the response). */
export async function auditRecordOf(db: Db, res: GqlResponse): Promise<AuditLeaf> {
  const recordId = res.body.extensions?.audit?.recordId;
  expect(recordId, `extensions.audit.recordId in ${JSON.stringify(res.body)}`).toEqual(expect.any(String));
  // A large leaf is stored deflated: read it as every reader of the product does.
  const { rows } = await db.query<StoredLeaf>(`SELECT ${LEAF_COLUMNS} FROM audit_records WHERE record_id = $1`, [recordId]);
  expect(rows, `audit record ${recordId}`).toHaveLength(1);
  return JSON.parse(leafText(rows[0]!)) as AuditLeaf;
}

/** Asserts a request-level rejection that was audited: status, code, no data, and a record holding that rejection and no decision. */
export async function expectAuditedRejection(db: Db, res: GqlResponse, status: number, code: string): Promise<AuditLeaf> {
  expectRejected(res, status, code);
  const leaf = await auditRecordOf(db, res);
  expect(leaf.rejection).toEqual({ code, status });
  expect(leaf.decisions).toEqual([]);
  return leaf;
}
