// npm run soak: a `purposegate serve` process on a fresh store, SOAK_REQUESTS mixed requests
// (default 20,000: allowed, masked and denied fields, request-level rejections, consent
// mutations) at SOAK_CONCURRENCY (default 64) over 127.0.0.1, then the checks: no unexpected
// status (no 5xx at all), one audit record per request holding every recordId a client was given,
// `audit verify` passes, and memory steady: the gateway's RSS, sampled every second, median of
// the warm-up window (10-20 % of the requests) against the last 10 %, and its live heap after a
// full collection at the end of warm-up (20 %) against the end. Prints a summary; exits 1 when
// a check fails. With DATABASE_URL, a fresh database is created on that server and dropped after.
// SOAK_MAX_GROWTH (default 1.5) and SOAK_MAX_HEAP_GROWTH (1.25): the end/warm-up ratios of RSS
// and of the live heap above which the memory check fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { loadOrCreateIssuerKey, mintToken, type MintClaims } from '../src/auth/index.js';
import { parseConfig } from '../src/config.js';

const REQUESTS = positive('SOAK_REQUESTS', 20_000);
const CONCURRENCY = positive('SOAK_CONCURRENCY', 64);
const MAX_GROWTH = Number(process.env.SOAK_MAX_GROWTH ?? 1.5);
const MAX_HEAP_GROWTH = Number(process.env.SOAK_MAX_HEAP_GROWTH ?? 1.25);
const BIN = fileURLToPath(new URL('../bin/purposegate.js', import.meta.url));
const GC_HOOK = pathToFileURL(fileURLToPath(new URL('./gcOnSignal.mjs', import.meta.url))).href;

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer; got "${raw}".`);
  return n;
}

/** One kind of request in the mix: what it sends and the status it must get. */
interface Kind {
  name: string;
  weight: number;
  token: keyof Tokens | null;
  purpose?: string;
  status: number;
  body: (i: number) => string;
  /** Further checks of a response body; a string names what is wrong. */
  check?: (body: Body) => string | undefined;
}
type Tokens = Record<'internal' | 'partner' | 'subscriber', string>;
interface Body {
  data?: Record<string, any> | null;
  errors?: Array<{ extensions?: { code?: string; reason?: string } }>;
  extensions?: { masked?: unknown[]; audit?: { recordId?: string } };
}

const sub = (i: number) => `sub-${String((i % 1000) + 1).padStart(6, '0')}`;
/** A body with the subscriber id as a variable, as clients send it: the documents stay few, so Apollo's
 * bounded document and plan caches fill during warm-up and later growth is per-request state. */
const q = (query: string, id?: string) => JSON.stringify(id === undefined ? { query } : { query, variables: { id } });
const hasReason = (reason: string) => (b: Body) => (b.errors?.some((e) => e.extensions?.reason === reason) ? undefined : `no ${reason} denial`);

const KINDS: Kind[] = [
  { name: 'allowed (BILLING profile)', weight: 14, token: 'internal', purpose: 'BILLING', status: 200, body: (i) => q(`query($id: ID!) { subscriber(id: $id) { fullName msisdn billingAccount { balance currency } } }`, sub(i)), check: (b) => (b.data?.subscriber?.fullName ? undefined : 'no fullName') },
  { name: 'masked (CUSTOMER_SUPPORT devices)', weight: 14, token: 'internal', purpose: 'CUSTOMER_SUPPORT', status: 200, body: (i) => q(`query($id: ID!) { subscriber(id: $id) { fullName devices { imei imsi model } } }`, sub(i)), check: (b) => (b.extensions?.masked?.length ? undefined : 'nothing masked') },
  { name: 'denied field (CUSTOMER_SUPPORT location)', weight: 12, token: 'internal', purpose: 'CUSTOMER_SUPPORT', status: 200, body: (i) => q(`query($id: ID!) { subscriber(id: $id) { msisdn lastKnownLocation { cellId } } }`, sub(i)), check: hasReason('PURPOSE_NOT_ALLOWED') },
  { name: 'consent list (MARKETING, 20 subscribers)', weight: 10, token: 'internal', purpose: 'MARKETING', status: 200, body: () => q(`{ subscribers(first: 20) { nodes { id msisdn lastKnownLocation { latitude longitude } } } }`) },
  { name: 'consent one (ANALYTICS)', weight: 8, token: 'internal', purpose: 'ANALYTICS', status: 200, body: (i) => q(`query($id: ID!) { subscriber(id: $id) { devices { imei model } lastKnownLocation { latitude } } }`, sub(i)) },
  { name: 'out of scope (partner, agency-north)', weight: 8, token: 'partner', purpose: 'CUSTOMER_SUPPORT', status: 200, body: (i) => q(`query($id: ID!) { subscriber(id: $id) { fullName } }`, sub(3 * (i % 333) + 1)), check: hasReason('OUT_OF_SCOPE') },
  { name: 'subject access (own record)', weight: 4, token: 'subscriber', purpose: 'SUBJECT_ACCESS', status: 200, body: () => q(`{ subscriber(id: "sub-000001") { fullName consents { purpose state } } }`) },
  { name: 'consent mutation (grant/withdraw MARKETING_SMS)', weight: 8, token: 'internal', purpose: 'CONSENT_MANAGEMENT', status: 200, body: (i) => q(`mutation($id: ID!) { ${i % 2 ? 'grantConsent' : 'withdrawConsent'}(subscriberId: $id, purpose: MARKETING_SMS, source: "soak") { state } }`, sub(i)), check: (b) => (b.data && Object.values(b.data)[0]?.state ? undefined : 'no consent state') },
  { name: 'rejected: no token', weight: 4, token: null, purpose: 'BILLING', status: 401, body: (i) => q(`query($id: ID!) { subscriber(id: $id) { fullName } }`, sub(i)) },
  { name: 'rejected: unknown purpose', weight: 4, token: 'internal', purpose: 'SELLING_DATA', status: 400, body: (i) => q(`query($id: ID!) { subscriber(id: $id) { fullName } }`, sub(i)) },
  { name: 'rejected: purpose not in token', weight: 4, token: 'partner', purpose: 'LAW_ENFORCEMENT', status: 403, body: (i) => q(`query($id: ID!) { subscriber(id: $id) { fullName } }`, sub(i)) },
  { name: 'rejected: page too large', weight: 4, token: 'internal', purpose: 'BILLING', status: 400, body: () => q(`{ subscribers(first: 501) { nodes { id } } }`) },
  { name: 'rejected: syntax error', weight: 3, token: 'internal', purpose: 'BILLING', status: 400, body: () => q(`{ subscriber(id: "x") { fullName `) },
  { name: 'rejected: unknown field', weight: 3, token: 'internal', purpose: 'BILLING', status: 400, body: () => q(`{ subscriber(id: "x") { password } }`) },
];
const WHEEL = KINDS.flatMap((k) => Array.from({ length: k.weight }, () => k));

interface Sample {
  at: number;
  done: number;
  rss: number;
  heap: number;
}

const median = (xs: number[]) => (xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);
const mb = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MB`;
const pct = (xs: number[], p: number) => (xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]);

async function serve(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', GC_HOOK, BIN, 'serve'], {
    env: { ...process.env, ...env, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (b) => (output += b));
  child.stderr!.on('data', (b) => (output += b));
  const deadline = Date.now() + 180_000;
  while (!/listening on (\S+)/.test(output)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`serve did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, url: /listening on (\S+)/.exec(output)![1] };
}

async function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b) => (stdout += b));
  child.stderr!.on('data', (b) => (stderr += b));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  return { code, stdout, stderr };
}

/** RSS from /proc (Linux) and V8 heap used from the gateway's own /metrics. */
async function sample(pid: number, metricsUrl: string): Promise<{ rss: number; heap: number }> {
  let rss = NaN;
  try {
    rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
  } catch {
    // not Linux: RSS from /metrics below
  }
  const text = await (await fetch(metricsUrl)).text();
  const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  if (Number.isNaN(rss)) rss = metric('purposegate_process_resident_memory_bytes');
  return { rss, heap: metric('purposegate_nodejs_heap_size_used_bytes') };
}

async function main(): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'purposegate-soak-'));
  const env: Record<string, string> = { DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', RATE_LIMIT_PER_MINUTE: '0' };
  let dropDatabase: (() => Promise<void>) | undefined;
  const adminUrl = process.env.DATABASE_URL;
  if (adminUrl) {
    const name = `purposegate_soak_${Date.now().toString(36)}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const u = new URL(adminUrl);
    u.pathname = `/${name}`;
    env.DATABASE_URL = u.toString();
    dropDatabase = async () => {
      const a = new pg.Client({ connectionString: adminUrl });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    };
  }
  const store = adminUrl ? `PostgreSQL (${new URL(env.DATABASE_URL!).pathname.slice(1)})` : 'embedded PGlite';
  console.log(`soak: ${REQUESTS} requests at concurrency ${CONCURRENCY}, ${store}, DATA_DIR ${dataDir}`);

  const failures: string[] = [];
  let child: ChildProcess | undefined;
  try {
    let started = Date.now();
    const server = await serve(env);
    child = server.child;
    console.log(`soak: gateway ${server.url} up in ${((Date.now() - started) / 1000).toFixed(1)} s (pid ${server.child.pid})`);
    const metricsUrl = server.url.replace(/\/graphql$/, '/metrics');
    const key = await loadOrCreateIssuerKey(dataDir);
    const config = parseConfig({ ...process.env, ...env });
    const mint = (claims: MintClaims) => mintToken(key, claims, { issuer: config.tokenIssuer, audience: config.tokenAudience, ttlSeconds: 6 * 3600 });
    const tokens: Tokens = {
      internal: await mint({ sub: 'svc-soak', kind: 'internal', purposes: ['BILLING', 'CUSTOMER_SUPPORT', 'MARKETING', 'ANALYTICS', 'CONSENT_MANAGEMENT'] }),
      partner: await mint({ sub: 'partner-soak', kind: 'partner', agency: 'agency-north', purposes: ['CUSTOMER_SUPPORT'] }),
      subscriber: await mint({ sub: 'sub-000001', kind: 'subscriber', purposes: ['SUBJECT_ACCESS'] }),
    };

    const perKind = new Map(KINDS.map((k) => [k.name, { sent: 0, ok: 0, latencies: [] as number[] }]));
    const statuses = new Map<number, number>();
    const unexpected: string[] = [];
    const recordIds = new Set<string>();
    let fiveXx = 0;
    let transportErrors = 0;
    let done = 0;
    let next = 0;
    const samples: Sample[] = [];
    started = Date.now();
    const sampler = setInterval(() => {
      const at = Date.now();
      const d = done;
      sample(server.child.pid!, metricsUrl).then(
        (s) => samples.push({ at, done: d, ...s }),
        () => undefined,
      );
    }, 1000);
    let lastReport = 0;

    // Live heap: with no request in flight, a full collection (SIGUSR2, see gcOnSignal.mjs), then
    // a sample. Taken at the end of warm-up (20 % of the requests) and at the end.
    let inFlight = 0;
    let gate: Promise<void> | undefined;
    const live = async (): Promise<{ rss: number; heap: number }> => {
      while (inFlight > 0) await new Promise((r) => setTimeout(r, 20));
      server.child.kill('SIGUSR2');
      await new Promise((r) => setTimeout(r, 1000));
      return sample(server.child.pid!, metricsUrl);
    };
    const warmAt = Math.floor(REQUESTS * 0.2);
    let warmLive: { rss: number; heap: number } | undefined;

    const worker = async () => {
      for (let i = next++; i < REQUESTS; i = next++) {
        while (gate) await gate;
        const kind = WHEEL[(i * 7919) % WHEEL.length]; // a fixed, well-mixed order
        const stats = perKind.get(kind.name)!;
        stats.sent++;
        const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': `soak-${i}` };
        if (kind.token) headers.authorization = `Bearer ${tokens[kind.token]}`;
        if (kind.purpose) headers['x-purpose'] = kind.purpose;
        const t0 = performance.now();
        inFlight++;
        try {
          const res = await fetch(server.url, { method: 'POST', headers, body: kind.body(i) });
          const body = (await res.json()) as Body;
          stats.latencies.push(performance.now() - t0);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status >= 500) fiveXx++;
          const recordId = body.extensions?.audit?.recordId;
          const problem =
            res.status !== kind.status
              ? `status ${res.status}, expected ${kind.status}`
              : !recordId
                ? 'no extensions.audit.recordId'
                : recordIds.has(recordId)
                  ? `recordId ${recordId} given twice`
                  : kind.check?.(body);
          if (recordId) recordIds.add(recordId);
          if (problem) {
            if (unexpected.length < 20) unexpected.push(`${kind.name} #${i}: ${problem}: ${JSON.stringify(body).slice(0, 300)}`);
            else unexpected.push('');
          } else stats.ok++;
        } catch (err) {
          transportErrors++;
          if (unexpected.length < 20) unexpected.push(`${kind.name} #${i}: ${(err as Error).message}`);
          else unexpected.push('');
        } finally {
          inFlight--;
        }
        done++;
        if (done === warmAt) {
          gate = live().then((m) => {
            warmLive = m;
            gate = undefined;
          });
        }
        if (done - lastReport >= Math.max(1000, Math.floor(REQUESTS / 10))) {
          lastReport = done;
          const s = samples.at(-1);
          console.log(`soak: ${done}/${REQUESTS} in ${((Date.now() - started) / 1000).toFixed(0)} s${s ? `, RSS ${mb(s.rss)}, heap ${mb(s.heap)}` : ''}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const wall = (Date.now() - started) / 1000;
    clearInterval(sampler);
    const endLive = await live();
    samples.push({ at: Date.now(), done, ...endLive });

    // Stop the gateway (SIGTERM: in-flight requests drain, the final checkpoint is signed).
    const exited = new Promise<number | null>((r) => server.child.once('exit', r));
    server.child.kill('SIGTERM');
    const exitCode = await exited;
    if (exitCode !== 0) failures.push(`the gateway exited with ${exitCode} on SIGTERM`);

    // The store, directly: verify, then export and count.
    const verifyStarted = Date.now();
    const verify = await run(['audit', 'verify'], env);
    const verifySeconds = (Date.now() - verifyStarted) / 1000;
    if (verify.code !== 0) failures.push(`audit verify exited ${verify.code}: ${(verify.stderr || verify.stdout).trim().split('\n').slice(-3).join(' | ')}`);
    const exportFile = join(dataDir, 'soak-export.jsonl');
    const exported = await run(['audit', 'export', '--out', exportFile], env);
    if (exported.code !== 0) failures.push(`audit export exited ${exported.code}: ${exported.stderr.trim()}`);
    const logged = new Set<string>();
    if (exported.code === 0) {
      for (const line of readFileSync(exportFile, 'utf8').split('\n')) {
        if (!line) continue;
        const entry = JSON.parse(line) as { type: string; recordId?: string };
        if (entry.type === 'record') logged.add(entry.recordId!);
      }
    }
    const missing = [...recordIds].filter((id) => !logged.has(id));

    // Memory: warm-up window (10-20 % of the requests) against the last 10 %.
    const window = (from: number, to: number) => samples.filter((s) => s.done >= from * REQUESTS && s.done <= to * REQUESTS);
    const warm = window(0.1, 0.2);
    const end = window(0.9, 1);
    const warmRss = median(warm.map((s) => s.rss));
    const endRss = median(end.map((s) => s.rss));
    const peakRss = Math.max(...samples.map((s) => s.rss));

    if (fiveXx > 0) failures.push(`${fiveXx} responses were 5xx`);
    if (transportErrors > 0) failures.push(`${transportErrors} requests failed without a response`);
    const wrong = unexpected.length - transportErrors;
    if (wrong > 0) failures.push(`${wrong} responses were not what their kind expects (first: ${unexpected[0]})`);
    if (recordIds.size !== REQUESTS) failures.push(`${recordIds.size} distinct recordIds for ${REQUESTS} requests`);
    if (logged.size !== REQUESTS) failures.push(`${logged.size} audit records for ${REQUESTS} requests`);
    if (missing.length > 0) failures.push(`${missing.length} recordIds a client received are not in the log (first: ${missing[0]})`);
    if (warm.length === 0 || end.length === 0 || !warmLive) failures.push('too few memory samples to compare warm-up with the end (run more requests)');
    else {
      if (endRss > warmRss * MAX_GROWTH) failures.push(`RSS grew from ${mb(warmRss)} (warm-up) to ${mb(endRss)} (end), more than ×${MAX_GROWTH}`);
      if (endLive.heap > warmLive.heap * MAX_HEAP_GROWTH) {
        failures.push(`the live heap grew from ${mb(warmLive.heap)} (warm-up) to ${mb(endLive.heap)} (end), more than ×${MAX_HEAP_GROWTH}`);
      }
    }

    const all = [...perKind.values()].flatMap((k) => k.latencies);
    console.log('');
    console.log(`requests      ${REQUESTS} at concurrency ${CONCURRENCY} in ${wall.toFixed(1)} s: ${(REQUESTS / wall).toFixed(0)} req/s, p50 ${pct(all, 50).toFixed(0)} ms, p99 ${pct(all, 99).toFixed(0)} ms`);
    console.log(`statuses      ${[...statuses.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}: ${n}`).join(', ')}; 5xx: ${fiveXx}; no response: ${transportErrors}`);
    for (const k of KINDS) {
      const s = perKind.get(k.name)!;
      console.log(`  ${k.name.padEnd(48)} ${String(s.sent).padStart(6)} sent, ${String(s.ok).padStart(6)} as expected (${k.status}), p50 ${pct(s.latencies, 50).toFixed(0)} ms, p99 ${pct(s.latencies, 99).toFixed(0)} ms`);
    }
    console.log(`audit         ${logged.size} records for ${REQUESTS} requests; ${recordIds.size - missing.length} of ${recordIds.size} received recordIds in the log`);
    console.log(`verify        ${verify.code === 0 ? 'ok' : 'FAILED'} in ${verifySeconds.toFixed(1)} s: ${verify.stdout.trim().split('\n').join(' | ')}`);
    console.log(`memory        RSS median warm-up ${mb(warmRss)}, end ${mb(endRss)}, peak ${mb(peakRss)} (${samples.length} samples);` +
        ` live heap after a full GC: warm-up ${warmLive ? mb(warmLive.heap) : '?'}, end ${mb(endLive.heap)}`);
    console.log(failures.length === 0 ? 'soak: all checks passed' : `soak: ${failures.length} checks failed:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    return failures.length === 0 ? 0 : 1;
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); // only after a failure above
    if (process.env.SOAK_KEEP !== '1') {
      await dropDatabase?.();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`soak: ${(err as Error).message}`);
    process.exit(1);
  },
);
