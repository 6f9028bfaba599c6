// Audit log throughput: records/s appended with group commit, leaves/s checked by verify,
// decisions/s re-decided by replay. PGlite in memory, and PostgreSQL when DATABASE_URL is set.
// Usage: npm run bench:audit -- [records=20000] [concurrency=256]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditWriter, dbAuditStore, loadOrCreateAuditSigner, policyText, replay, storePolicyVersion, verifyLogs, type AuditEntry } from '../src/audit/index.js';
import { migrate, openPglite, openPostgres, type Db } from '../src/db/index.js';
import { seedDemoData } from '../src/db/seedDemoData.js';
import { composeSupergraph } from '../src/gateway/index.js';
import { loadPolicySources } from '../src/subgraphs/index.js';

const RECORDS = Number(process.argv[2] ?? 20_000);
const CONCURRENCY = Number(process.argv[3] ?? 256);
const DECISIONS_PER_RECORD = 10;
const COORDS = ['Subscriber.id', 'Subscriber.msisdn', 'Subscriber.fullName', 'Subscriber.email', 'Subscriber.devices', 'Device.model', 'Device.imei', 'Subscriber.lastKnownLocation', 'Location.cellId', 'Subscriber.dateOfBirth'];

async function run(label: string, db: Db) {
  await migrate(db);
  await seedDemoData(db, { subscribers: 200, seed: 7 });
  const sources = loadPolicySources();
  const version = await storePolicyVersion(db, policyText(composeSupergraph(sources).supergraphSdl, sources.purposesSdl));
  const dir = mkdtempSync(join(tmpdir(), 'pg-bench-'));
  const signer = loadOrCreateAuditSigner(dir);
  const writer = await AuditWriter.open(db, { policyVersion: version, signer, checkpointIntervalMs: 10_000 });
  const entry = (i: number): AuditEntry => {
    const subscriberId = `sub-${String((i % 200) + 1).padStart(6, '0')}`;
    return {
      at: new Date().toISOString(),
      requestId: `req-${i}`,
      caller: { sub: 'svc-bench', kind: 'internal', purposes: ['FRAUD_PREVENTION'] },
      purpose: 'FRAUD_PREVENTION',
      ref: null,
      operationName: null,
      documentHash: 'ab'.repeat(32),
      rejection: null,
      decisions: COORDS.slice(0, DECISIONS_PER_RECORD).map((coordinate) => ({ subscriberId, coordinate, effect: 'ALLOW' as const, count: 1 })),
    };
  };
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < RECORDS) await writer.append(entry(next++));
    }),
  );
  const appendS = (performance.now() - t0) / 1000;
  await writer.close();
  const t1 = performance.now();
  const report = await verifyLogs(dbAuditStore(db), [{ name: signer.name, publicKey: signer.publicKey }]);
  const verifyS = (performance.now() - t1) / 1000;
  if (!report.ok) throw new Error(`verify failed: ${report.problem?.message}`);
  const t2 = performance.now();
  const r = await replay({ store: dbAuditStore(db), db });
  const replayS = (performance.now() - t2) / 1000;
  if (r.mismatches.length) throw new Error(`${r.mismatches.length} replay mismatches`);
  console.log(
    `| ${label} | ${RECORDS} | ${CONCURRENCY} | ${Math.round(RECORDS / appendS)} | ${(RECORDS / writer.stats.batches).toFixed(1)} | ${Math.round(report.leaves / verifyS)} | ${Math.round(r.decisions / replayS)} |`,
  );
  rmSync(dir, { recursive: true, force: true });
}

console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
console.log('| store | records | concurrency | append records/s | records per commit | verify leaves/s | replay decisions/s |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
const lite = await openPglite('memory://');
await run('PGlite (memory)', lite);
await lite.close();
if (process.env.DATABASE_URL) {
  const url = process.env.DATABASE_URL;
  const name = `pg_bench_${Date.now().toString(36)}`;
  const admin = await openPostgres(url, { max: 1 });
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  const pg = await openPostgres(u.toString());
  try {
    await run('PostgreSQL 15 (loopback)', pg);
  } finally {
    await pg.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.close();
  }
}
