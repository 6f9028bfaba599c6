// Audit log throughput: records/s appended with group commit, leaves/s checked by verify,
// decisions/s re-decided by replay. PGlite in memory, and PostgreSQL when DATABASE_URL is set (in
// a database of its own, created and dropped here).
//
// Usage: npm run bench:audit -- [records=20000] [concurrency=256]
//        AUDIT_BENCH_RECORDS=100000 npm run bench:audit     # 1,000,000 decisions (10 per record)
//        AUDIT_BENCH_STORES=postgres DATABASE_URL=postgres://… npm run bench:audit   # one store only
//        AUDIT_BENCH_VERIFY_RUNS=5 npm run bench:audit     # verify runs per mode (default 3; median shown)
//
// Each record carries 10 decisions about one of 200 seeded subscribers, for one of four purposes
// (legitimate interest, contract with masks, two consent-based): the decisions are what decide()
// answers for that subscriber now, so replay re-decides them with zero mismatches, consent
// lookups included.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AuditWriter,
  dbAuditStore,
  defaultVerifyWorkers,
  loadOrCreateAuditSigner,
  policyFromText,
  policyText,
  replay,
  storePolicyVersion,
  verifyLogs,
  type AuditEntry,
  type LoggedDecision,
  type VerifyOptions,
} from '../src/audit/index.js';
import { checkRecords } from '../src/audit/checkRecords.js';
import { loadSubjects } from '../src/consent/index.js';
import { migrate, openPglite, openPostgres, type Db } from '../src/db/index.js';
import { seedDemoData } from '../src/db/seedDemoData.js';
import { composeSupergraph } from '../src/gateway/index.js';
import { decide, type Caller } from '../src/policy/index.js';
import { loadPolicySources } from '../src/subgraphs/index.js';

const RECORDS = Number(process.argv[2] ?? process.env.AUDIT_BENCH_RECORDS ?? 20_000);
const CONCURRENCY = Number(process.argv[3] ?? process.env.AUDIT_BENCH_CONCURRENCY ?? 256);
const STORES = (process.env.AUDIT_BENCH_STORES ?? 'pglite,postgres').split(',');
const SUBSCRIBERS = 200;
const COORDS = ['Subscriber.id', 'Subscriber.msisdn', 'Subscriber.fullName', 'Subscriber.email', 'Subscriber.devices', 'Device.model', 'Device.imei', 'Subscriber.lastKnownLocation', 'Location.cellId', 'Subscriber.dateOfBirth'];
const PURPOSES = ['FRAUD_PREVENTION', 'CUSTOMER_SUPPORT', 'MARKETING', 'ANALYTICS'];

const seconds = (from: number) => (performance.now() - from) / 1000;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function run(label: string, db: Db) {
  await migrate(db);
  await seedDemoData(db, { subscribers: SUBSCRIBERS, seed: 7 });
  const sources = loadPolicySources();
  const text = policyText(composeSupergraph(sources).supergraphSdl, sources.purposesSdl);
  const version = await storePolicyVersion(db, text);
  const policy = policyFromText(text);
  const ids = Array.from({ length: SUBSCRIBERS }, (_, i) => `sub-${String(i + 1).padStart(6, '0')}`);
  const subjects = await loadSubjects(db, ids); // current consent state: every record is decided after the seeded events
  const caller: Caller = { sub: 'svc-bench', kind: 'internal', purposes: PURPOSES };
  const dir = mkdtempSync(join(tmpdir(), 'pg-bench-'));
  const signer = loadOrCreateAuditSigner(dir);
  const writer = await AuditWriter.open(db, { policyVersion: version, signer, checkpointIntervalMs: 10_000 });
  const entry = (i: number): AuditEntry => {
    const at = new Date().toISOString();
    const subscriberId = ids[i % SUBSCRIBERS];
    const purpose = PURPOSES[i % PURPOSES.length];
    const decisions = COORDS.map((coordinate): LoggedDecision => {
      const d = decide({ registry: policy.registry, field: policy.field(coordinate)!, purpose, caller, subject: subjects[i % SUBSCRIBERS], at });
      return { subscriberId, coordinate, ...d, count: 1 };
    });
    return { at, requestId: `req-${i}`, caller, purpose, ref: null, operationName: null, documentHash: 'ab'.repeat(32), rejection: null, decisions };
  };
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < RECORDS) await writer.append(entry(next++));
    }),
  );
  const appendS = seconds(t0);
  await writer.close();
  const trusted = [{ name: signer.name, publicKey: signer.publicKey }];
  // On this thread alone, with worker threads checking every page, and as `audit verify` runs by
  // default (the workers, and this thread when they hold all they can take), VERIFY_RUNS times
  // each, in alternation: the median, and the range (a single run of a second or two moves by a
  // fifth on this kind of machine; the first run on PostgreSQL also sets the hint bits of the
  // freshly written rows).
  const [oneThread, workersOnly, byDefault] = await verifyRuns(db, trusted, [{ workers: 0 }, { readerChecks: false }, {}]);
  const halves = await verifyHalves(db);
  const t2 = performance.now();
  const r = await replay({ store: dbAuditStore(db), db });
  const replayS = seconds(t2);
  if (r.mismatches.length) throw new Error(`${r.mismatches.length} replay mismatches, e.g. ${JSON.stringify(r.mismatches[0])}`);
  console.log(
    `| ${label} | ${fmt(RECORDS)} | ${fmt(r.decisions)} | ${fmt(RECORDS / appendS)} (${appendS.toFixed(1)} s) | ${(RECORDS / writer.stats.batches).toFixed(0)} | ` +
      `${oneThread} | ${workersOnly} | ${byDefault} | ${fmt(r.decisions / replayS)} (${replayS.toFixed(1)} s) |`,
  );
  halvesRows.push(
    `| ${label} | ${fmt(halves.read / halves.readS)} | ${((halves.readCpuS / halves.read) * 1e6).toFixed(1)} | ${fmt(halves.checked / halves.checkS)} | ${((halves.checkS / halves.checked) * 1e6).toFixed(1)} |`,
  );
  rmSync(dir, { recursive: true, force: true });
}

/** Verify runs per mode; the table gives their median and range. */
const VERIFY_RUNS = Number(process.env.AUDIT_BENCH_VERIFY_RUNS ?? 3);

/**
 * `VERIFY_RUNS` runs of verify in each of `modes` ({}: as `audit verify` runs), in alternation
 * (each round in another order), so that the machine's drift and the first read of fresh rows
 * fall on every mode alike; for each, "median leaves/s (seconds; slowest-fastest)".
 */
async function verifyRuns(db: Db, trusted: Array<{ name: string; publicKey: Buffer }>, modes: VerifyOptions[]) {
  const runs: Array<Array<{ rate: number; s: number }>> = modes.map(() => []);
  for (let i = 0; i < VERIFY_RUNS; i++) {
    for (let k = 0; k < modes.length; k++) {
      const m = (i + k) % modes.length;
      const t0 = performance.now();
      const report = await verifyLogs(dbAuditStore(db), trusted, modes[m]);
      const s = seconds(t0);
      if (!report.ok) throw new Error(`verify failed: ${report.problem?.message}`);
      runs[m].push({ rate: report.leaves / s, s });
    }
  }
  return runs.map((r) => {
    r.sort((a, b) => a.rate - b.rate);
    const median = r[Math.floor(r.length / 2)];
    return `${fmt(median.rate)} (${median.s.toFixed(1)} s${r.length > 1 ? `; ${fmt(r[0].rate)}-${fmt(r[r.length - 1].rate)}` : ''})`;
  });
}

/** Pages of this many records, as verify reads them. */
const VERIFY_PAGE = 512;

/**
 * Verify's two halves apart, to show which one bounds it on this machine: reading the log page by
 * page as verify does (this thread: the driver, or PGlite itself), and checking records as its
 * workers do (one core, pages already in memory, checked until as many records as the log holds).
 */
async function verifyHalves(db: Db) {
  const store = dbAuditStore(db);
  const [log] = await store.logs();
  const held = [];
  let read = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let from = 0; ; ) {
    const page = await store.recordPage(log.logId, from, VERIFY_PAGE);
    read += page.seq.length;
    if (held.length < 40) held.push(page);
    if (page.seq.length < VERIFY_PAGE) break;
    from = page.seq[page.seq.length - 1] + 1;
  }
  const readS = seconds(t0);
  const cpu = process.cpuUsage(cpu0);
  let checked = 0;
  const t1 = performance.now();
  while (checked < read) {
    for (let i = 0; i < held.length && checked < read; i++) {
      const result = checkRecords(held[i], log.logId, i * VERIFY_PAGE);
      if (result.problem) throw new Error(`check failed: ${result.problem.message}`);
      checked += result.passed;
    }
  }
  return { read, readS, readCpuS: (cpu.user + cpu.system) / 1e6, checked, checkS: seconds(t1) };
}

const halvesRows: string[] = [];

console.log(`node ${process.version}, ${process.platform}/${process.arch}; ${fmt(RECORDS)} records x ${COORDS.length} decisions, concurrency ${CONCURRENCY}`);
console.log(
  `verify: on one thread; with ${defaultVerifyWorkers()} worker thread(s) checking every page once they are up; ` +
    'as `audit verify` runs by default (the same workers, and the reading thread checking a page itself when they hold all they can take); ' +
    `${availableParallelism()} cores; ${VERIFY_RUNS} runs each, the three in alternation: median leaves/s (its seconds; slowest-fastest run)`,
);
console.log('| store | records | decisions | append records/s | records per commit | verify leaves/s, one thread | verify leaves/s, workers only | verify leaves/s, default | replay decisions/s |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
if (STORES.includes('pglite')) {
  const lite = await openPglite('memory://');
  try {
    await run('PGlite (memory)', lite);
  } finally {
    await lite.close();
  }
}
if (STORES.includes('postgres') && process.env.DATABASE_URL) {
  const url = process.env.DATABASE_URL;
  const name = `pg_bench_${randomBytes(6).toString('hex')}`;
  const admin = await openPostgres(url, { max: 1 });
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  try {
    const pg = await openPostgres(u.toString());
    try {
      const { rows } = await pg.query<{ v: string }>(`SELECT current_setting('server_version') AS v`);
      await run(`PostgreSQL ${rows[0].v.split(' ')[0]} (loopback)`, pg);
    } finally {
      await pg.close();
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.close();
  }
}
console.log('');
console.log(`verify's two halves apart: reading the log as verify does (${VERIFY_PAGE} records a page, this thread; CPU of this process), and checking records as a worker does (one core, pages in memory)`);
console.log('| store | read leaves/s | read: CPU us per record (this process) | check leaves/s, one core | check: us per record |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const row of halvesRows) console.log(row);
