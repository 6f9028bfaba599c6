// One benchmark variant in its own process: baseline (no rules, no audit), purposegate (full
// enforcement and audit), or naive (stock graphql-shield, a consent query per field per value).
// Started by bench/run.ts with IPC; answers { type: 'stats' } with counters and RSS.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GraphQLSchema } from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import { allow, rule, shield } from 'graphql-shield';
import type { PolicyMap } from '../directives/index.js';
import { mintToken } from '../src/auth/index.js';
import { parseConfig } from '../src/config.js';
import { loadSubjects } from '../src/consent/index.js';
import { migrate, openPglite, openPostgres, type Db } from '../src/db/index.js';
import { seedDemoData } from '../src/db/seedDemoData.js';
import { createGateway, createHttpServer, startServer, storeReadiness } from '../src/gateway/index.js';
import { createTokenVerifier, loadKeySet, loadOrCreateIssuerKey } from '../src/auth/index.js';
import { decide } from '../src/policy/index.js';
import { forbidden, type EnforcementContext } from '../src/shield/index.js';
import { loadPolicySources } from '../src/subgraphs/index.js';

const variant = process.argv[2] as 'baseline' | 'purposegate' | 'naive';
const NOW = new Date('2026-11-20T12:00:00Z');
export const HEAVY = 'sub-heavy';

const dataDir = mkdtempSync(join(tmpdir(), `pg-bench-${variant}-`));

async function openStore(): Promise<{ db: Db; drop: () => Promise<void> }> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    // In memory by default (PGlite's in-memory filesystem); BENCH_PGLITE=files (checked by run.ts)
    // keeps it in files in the variant's temporary DATA_DIR, as a gateway keeps its embedded store.
    const db = await openPglite(process.env.BENCH_PGLITE === 'files' ? join(dataDir, 'pglite') : 'memory://');
    return { db, drop: () => db.close() };
  }
  const name = `pg_bench_${variant}_${Date.now().toString(36)}`;
  const admin = await openPostgres(url, { max: 1 });
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  const db = await openPostgres(u.toString(), { max: 10 });
  return {
    db,
    drop: async () => {
      await db.close();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.close();
    },
  };
}

/** Counts consent queries, whoever makes them. */
function counting(db: Db, counters: { consentQueries: number }): Db {
  return {
    ...db,
    kind: db.kind,
    query: ((sql: string, params?: readonly unknown[], options?: Parameters<Db['query']>[2]) => {
      if (sql.includes('FROM consent_events')) counters.consentQueries++;
      return db.query(sql, params, options);
    }) as Db['query'],
    exec: (sql) => db.exec(sql),
    transaction: (fn) => db.transaction(fn),
    close: () => db.close(),
  };
}

/** The naive approach: one graphql-shield rule per protected field, each doing its own consent query. */
function naiveShield(db: Db, registry: ReturnType<typeof loadPolicySources>['registry']) {
  return (_name: string, schema: GraphQLSchema, policy: PolicyMap): GraphQLSchema => {
    const tree: Record<string, Record<string, ReturnType<ReturnType<typeof rule>>>> = {};
    for (const type of policy.types.values()) {
      if (!type.subjectKey) continue;
      const key = type.subjectKey;
      tree[type.name] = {};
      for (const [fieldName, field] of type.fields) {
        tree[type.name][fieldName] = rule(`naive:${field.coordinate}`, { cache: 'no_cache' })(
          async (parent: Record<string, unknown>, _a: unknown, ctx: EnforcementContext) => {
            const [subject] = await loadSubjects(db, [String(parent[key])]);
            const d = decide({ registry, field, purpose: ctx.scope.purpose, caller: ctx.scope.caller, subject, at: ctx.scope.at });
            return d.effect === 'DENY' ? forbidden(field.coordinate, ctx.scope.purpose, d.reason) : true;
          },
        );
      }
    }
    return applyMiddleware(schema, shield(tree, { fallbackRule: allow, allowExternalErrors: true, debug: false }));
  };
}

const store = await openStore();
await migrate(store.db);
await seedDemoData(store.db, { subscribers: 300, seed: 42, now: NOW });
// One subscriber with 600 call detail records for the 500-row page (S3).
await store.db.query(`INSERT INTO subscribers (id, msisdn, full_name, email, postal_address, date_of_birth, agency_id, directory_listing)
  VALUES ($1, '+447700900600', 'Heavy Caller', 'heavy@example.com', '1 Bench Street', '1980-01-01', 'agency-north', 'LISTED')`, [HEAVY]);
await store.db.query(`INSERT INTO call_detail_records (id, subscriber_id, calling_number, called_number, started_at, duration_seconds, direction, cell_id)
  SELECT 'cdr-heavy-' || lpad(g::text, 4, '0'), $1, '+447700900600', '+44207946' || lpad((g % 1000)::text, 4, '0'),
         $2::timestamptz - (g || ' minutes')::interval, (g * 37) % 3600, CASE WHEN g % 2 = 0 THEN 'INBOUND' ELSE 'OUTBOUND' END, '234-15-100-1'
    FROM generate_series(1, 600) g`, [HEAVY, NOW.toISOString()]);

// Statistics and visibility maps now, not from autovacuum in the middle of the first rounds.
await store.db.exec('VACUUM ANALYZE');

const counters = { consentQueries: 0 };
const db = counting(store.db, counters);
// Logs off in every variant (BENCH_LOG_LEVEL to measure them): the comparison is about enforcement.
const config = parseConfig({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', SEED_SUBSCRIBERS: '0', LIMIT_COST: '1000000', RATE_LIMIT_PER_MINUTE: '0', MASK_KEY: 'b'.repeat(32), LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent' });
let url: string;
let close: () => Promise<void>;
let auditStats: () => { records: number; batches: number } = () => ({ records: 0, batches: 0 });
let served: () => Promise<number> = async () => 0;
let inFlight: () => Promise<number> = async () => 0;
const sumOf = async (c: { get(): Promise<{ values: Array<{ value: number }> }> }) => (await c.get()).values.reduce((a, v) => a + v.value, 0);
const issuerKey = await loadOrCreateIssuerKey(dataDir);
if (variant === 'purposegate') {
  const server = await startServer(config, { db });
  url = server.url;
  close = () => server.close();
  auditStats = () => ({ records: server.audit.stats.records, batches: server.audit.stats.batches });
  served = () => sumOf(server.gateway.metrics.requests);
  inFlight = () => sumOf(server.gateway.metrics.inFlight);
} else {
  const sources = loadPolicySources();
  const verifyToken = createTokenVerifier({ keys: loadKeySet({ embedded: issuerKey }), issuer: config.tokenIssuer, audience: config.tokenAudience, registry: sources.registry });
  const gateway = await createGateway({
    db,
    config,
    verifyToken,
    maskKey: config.maskKey!,
    sources,
    benchmark: variant === 'baseline' ? { unprotected: true } : { unprotected: true, wrapSubgraph: naiveShield(db, sources.registry) },
  });
  const http = createHttpServer(gateway, storeReadiness(db));
  served = () => sumOf(gateway.metrics.requests);
  inFlight = () => sumOf(gateway.metrics.inFlight);
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(http.address() as { port: number }).port}/graphql`;
  close = async () => {
    await new Promise<void>((r) => http.close(() => r()));
    await gateway.stop();
  };
}

const mint = (purposes: string[]) => mintToken(issuerKey, { sub: 'svc-bench', kind: 'internal', purposes }, { issuer: config.tokenIssuer, audience: config.tokenAudience, ttlSeconds: 3600 });
const tokens = {
  CUSTOMER_SUPPORT: await mint(['CUSTOMER_SUPPORT']),
  MARKETING: await mint(['MARKETING']),
  BILLING: await mint(['BILLING']),
};
let peakRss = process.memoryUsage().rss;
setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200).unref();
process.on('message', async (m: { type: string }) => {
  if (m.type === 'stats') process.send!({ type: 'stats', consentQueries: counters.consentQueries, requests: await served(), inFlight: await inFlight(), audit: auditStats(), rss: process.memoryUsage().rss, peakRss, cpu: process.cpuUsage() });
  if (m.type === 'stop') {
    await close();
    await store.drop();
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  }
});
process.send!({ type: 'ready', url, tokens });
