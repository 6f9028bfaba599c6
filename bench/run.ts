// npm run bench: baseline vs purposegate vs naive shield, same data, same machine, one run.
// Each variant runs in its own process; scenarios run in alternation, several rounds each.
// Env: BENCH_SECONDS (per measurement, default 5), BENCH_ROUNDS (default 5), BENCH_CONNECTIONS
// (default 16), BENCH_SCENARIOS (comma-separated ids, default all), DATABASE_URL (run the stores on
// PostgreSQL instead of PGlite), BENCH_PGLITE (memory, the default, or files: PGlite in files in
// each variant's DATA_DIR). Writes bench/results.json (this run) and, when every scenario ran,
// bench/results-pglite.json, results-pglite-files.json or results-postgres.json.
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const VARIANTS = ['baseline', 'purposegate', 'naive'] as const;
type Variant = (typeof VARIANTS)[number];

interface Running {
  child: ChildProcess;
  url: string;
  tokens: Record<string, string>;
}

const ALL_SCENARIOS: Array<{ id: string; name: string; purpose: string; token: string; status: number; query: string }> = [
  {
    id: 'S1',
    name: "one subscriber's full profile across all subgraphs (CUSTOMER_SUPPORT)",
    purpose: 'CUSTOMER_SUPPORT',
    token: 'CUSTOMER_SUPPORT',
    status: 200,
    query: `{ subscriber(id: "sub-000007") { id msisdn fullName email postalAddress agencyId directoryListing
      devices { imei imsi iccid model manufacturer osVersion }
      callDetailRecords(first: 20) { nodes { id callingNumber calledNumber startedAt durationSeconds direction cellId } }
      billingAccount { balance currency paymentCard { last4 } invoices { id period amount } }
      consents { purpose state source at } } }`,
  },
  {
    id: 'S2',
    name: '100 subscribers x 10 protected fields, consent on every row (MARKETING)',
    purpose: 'MARKETING',
    token: 'MARKETING',
    status: 200,
    query: `{ subscribers(first: 100) { nodes { id msisdn fullName email lastKnownLocation { latitude longitude }
      callDetailRecords(first: 1) { nodes { startedAt durationSeconds direction } } } } }`,
  },
  {
    id: 'S3',
    name: 'a 500-row call detail page (BILLING)',
    purpose: 'BILLING',
    token: 'BILLING',
    status: 200,
    query: `{ subscriber(id: "sub-heavy") { callDetailRecords(first: 500) { nodes { id callingNumber calledNumber startedAt durationSeconds direction cellId } } } }`,
  },
  {
    id: 'S4',
    name: 'a request the policy rejects outright (purpose not in the token)',
    purpose: 'MARKETING',
    token: 'BILLING',
    status: 403,
    query: `{ subscriber(id: "sub-000007") { fullName } }`,
  },
];

const PGLITE = process.env.BENCH_PGLITE ?? 'memory';
/** A bad setting: its message alone, no stack, exit 1. */
function refuse(message: string): never {
  console.error(message);
  process.exit(1);
}
if (PGLITE !== 'memory' && PGLITE !== 'files') refuse(`BENCH_PGLITE must be memory or files, not "${PGLITE}".`);
/** Where the variants' stores are: the label of the table and the name of results-<store>.json. */
const STORE = process.env.DATABASE_URL
  ? { label: 'PostgreSQL', file: 'postgres' }
  : PGLITE === 'files'
    ? { label: 'PGlite (files)', file: 'pglite-files' }
    : { label: 'PGlite (in memory)', file: 'pglite' };

const only = process.env.BENCH_SCENARIOS?.split(',').map((s) => s.trim());
const SCENARIOS = only ? ALL_SCENARIOS.filter((s) => only.includes(s.id)) : ALL_SCENARIOS;
if (SCENARIOS.length === 0) refuse(`BENCH_SCENARIOS names no scenario of ${ALL_SCENARIOS.map((s) => s.id).join(', ')}.`);

function start(variant: Variant): Promise<Running> {
  const child = fork(fileURLToPath(new URL('./server.ts', import.meta.url)), [variant], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { type: string; url: string; tokens: Record<string, string> }) => resolve({ child, url: m.url, tokens: m.tokens }));
    child.once('exit', (code) => reject(new Error(`${variant} exited with ${code}`)));
  });
}

/** Waits until no variant has a request in flight (autocannon leaves some), so runs never overlap. */
async function idle(): Promise<void> {
  for (const v of VARIANTS) {
    const deadline = Date.now() + 300_000;
    while ((await ask(running[v])).inFlight > 0) {
      if (Date.now() > deadline) throw new Error(`${v} did not drain in 300 s`);
      await new Promise((res) => setTimeout(res, 250));
    }
  }
}

function ask(r: Running): Promise<{ consentQueries: number; requests: number; inFlight: number; audit: { records: number; batches: number }; rss: number; peakRss: number; cpu: { user: number; system: number } }> {
  return new Promise((resolve) => {
    r.child.once('message', resolve as never);
    r.child.send({ type: 'stats' });
  });
}

async function load(r: Running, s: (typeof SCENARIOS)[number], seconds: number) {
  const result = await autocannon({
    url: r.url,
    method: 'POST',
    connections: CONNECTIONS,
    duration: seconds,
    timeout: 60,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${r.tokens[s.token]}`, 'x-purpose': s.purpose },
    body: JSON.stringify({ query: s.query }),
  });
  const unexpected = (s.status === 200 ? result.non2xx : result['2xx'] + result['5xx']) + result.errors + result.timeouts;
  await idle();
  await new Promise((res) => setTimeout(res, 500)); // let the store settle (WAL writer, background work) before the next run
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, requests: result.requests.total, unexpected };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const running = {} as Record<Variant, Running>;
for (const v of VARIANTS) running[v] = await start(v);

// Sanity: every variant answers every scenario with the expected status before we measure.
for (const s of SCENARIOS) {
  for (const v of VARIANTS) {
    const res = await fetch(running[v].url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${running[v].tokens[s.token]}`, 'x-purpose': s.purpose },
      body: JSON.stringify({ query: s.query }),
    });
    if (res.status !== s.status) throw new Error(`${v} ${s.id}: HTTP ${res.status}, expected ${s.status}: ${(await res.text()).slice(0, 300)}`);
    await res.arrayBuffer().catch(() => undefined);
  }
}

type Row = { scenario: string; variant: Variant; rps: number; cpuMsPerRequest: number; p50: number; p99: number; consentQueriesPerRequest: number; auditWritesPerRequest: number; auditCommitsPerRequest: number; unexpected: number; peakRssMb: number };
const samples: Record<string, Array<Omit<Row, 'scenario' | 'variant'>>> = {};
for (const s of SCENARIOS) {
  for (const v of VARIANTS) await load(running[v], s, SECONDS); // warm-up, as long as a measurement
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate the order each round so no variant always runs first.
    const order = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
    for (const v of order) {
      const before = await ask(running[v]);
      const m = await load(running[v], s, SECONDS);
      const after = await ask(running[v]);
      (samples[`${s.id}|${v}`] ??= []).push({
        rps: m.rps,
        // The server's CPU time per request it served: steadier than req/s on a shared machine.
        cpuMsPerRequest: (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1000 / Math.max(1, after.requests - before.requests),
        p50: m.p50,
        p99: m.p99,
        // Counted by the server over the same requests (autocannon's window misses in-flight ones).
        consentQueriesPerRequest: (after.consentQueries - before.consentQueries) / Math.max(1, after.requests - before.requests),
        auditWritesPerRequest: (after.audit.records - before.audit.records) / Math.max(1, after.requests - before.requests),
        auditCommitsPerRequest: (after.audit.batches - before.audit.batches) / Math.max(1, after.requests - before.requests),
        unexpected: m.unexpected,
        peakRssMb: after.peakRss / 2 ** 20,
      });
      process.stderr.write(`${s.id} ${v.padEnd(11)} round ${round + 1}: ${Math.round(m.rps)} req/s\n`);
    }
  }
}
for (const v of VARIANTS) running[v].child.send({ type: 'stop' });

const rows: Array<Row & { ratio: number; cpuRatio: number }> = [];
for (const s of SCENARIOS) {
  const base = median(samples[`${s.id}|baseline`].map((x) => x.rps));
  const baseCpu = median(samples[`${s.id}|baseline`].map((x) => x.cpuMsPerRequest));
  for (const v of VARIANTS) {
    const xs = samples[`${s.id}|${v}`];
    const rps = median(xs.map((x) => x.rps));
    rows.push({
      scenario: s.id,
      variant: v,
      rps,
      ratio: rps / base,
      cpuMsPerRequest: median(xs.map((x) => x.cpuMsPerRequest)),
      cpuRatio: baseCpu / median(xs.map((x) => x.cpuMsPerRequest)),
      p50: median(xs.map((x) => x.p50)),
      p99: median(xs.map((x) => x.p99)),
      consentQueriesPerRequest: median(xs.map((x) => x.consentQueriesPerRequest)),
      auditWritesPerRequest: median(xs.map((x) => x.auditWritesPerRequest)),
      auditCommitsPerRequest: median(xs.map((x) => x.auditCommitsPerRequest)),
      unexpected: xs.reduce((a, x) => a + x.unexpected, 0),
      peakRssMb: Math.max(...xs.map((x) => x.peakRssMb)),
    });
  }
}
const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}, store ${STORE.label}`;
const lines = [
  `Machine: ${machine}. ${ROUNDS} rounds x ${SECONDS} s per scenario and variant, ${CONNECTIONS} connections, medians.`,
  '',
  '| scenario | variant | req/s | ratio to baseline | CPU ms / req | CPU ratio | p50 ms | p99 ms | consent queries / req | audit records / req | audit commits / req | unexpected status | peak RSS MB |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.scenario} | ${r.variant} | ${Math.round(r.rps)} | ${r.ratio.toFixed(2)} | ${r.cpuMsPerRequest.toFixed(2)} | ${r.cpuRatio.toFixed(2)} | ${r.p50} | ${r.p99} | ${r.consentQueriesPerRequest.toFixed(2)} | ${r.auditWritesPerRequest.toFixed(2)} | ${r.auditCommitsPerRequest.toFixed(3)} | ${r.unexpected} | ${Math.round(r.peakRssMb)} |`,
  ),
  '',
  ...SCENARIOS.map((s) => `- ${s.id}: ${s.name}`),
];
console.log(lines.join('\n'));
// results.json is this run; results-<store>.json the last run of every scenario on that store, so
// that a run on PostgreSQL and one on PGlite are both kept, and a quick look at one scenario
// replaces neither.
const results = JSON.stringify({ machine, seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, at: new Date().toISOString(), scenarios: SCENARIOS.map((s) => s.id), rows }, null, 2) + '\n';
writeFileSync(new URL('./results.json', import.meta.url), results);
if (!only) writeFileSync(new URL(`./results-${STORE.file}.json`, import.meta.url), results);
