import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditLeaf } from '../../src/audit/index.js';
import type { Db } from '../../src/db/index.js';
import { FIXTURES } from '../fixtures/subscribers.js';
import { auditRecordOf, expectAllowed, expectDenied, openTestDb, startTestGateway, type GqlResponse, type TestGateway } from '../harness.js';
import { cli, spawnServe, type ServeProcess } from '../processes.js';

/** Every value of every fixture subscriber that a consent-based purpose could read. */
const FIXTURE_VALUES = Object.values(FIXTURES).flatMap((f) => [
  f.msisdn,
  f.fullName,
  f.email,
  f.postalAddress,
  f.device.imei,
  f.device.model,
  f.location.cellId,
  String(f.location.latitude).slice(0, 5),
  String(f.location.longitude).slice(0, 5),
]);

/** Asserts no fixture value appears anywhere in a response. */
function expectNoValue(res: GqlResponse): void {
  const text = JSON.stringify(res.body);
  for (const v of FIXTURE_VALUES) expect(text, `response leaks ${v}`).not.toContain(v);
}

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('database down at start', () => {
  it('`purposegate serve` exits 1 with one line naming DATABASE_URL and the reason, no stack trace', async () => {
    const port = await closedPort();
    const dataDir = mkdtempSync(join(tmpdir(), 'pg-dbdown-'));
    try {
      const r = await cli(['serve'], { DATA_DIR: dataDir, PORT: '0', DATABASE_URL: `postgres://gw:s3cret@127.0.0.1:${port}/purposegate` });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`purposegate: The PostgreSQL server at 127.0.0.1:${port}/purposegate (DATABASE_URL) cannot be used: connection refused.\n`);
      expect(r.stdout).not.toContain('listening');
      expect(r.stderr + r.stdout).not.toContain('s3cret');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/** A store whose subject/consent query (src/consent/loadSubjects.ts) hangs until released. */
function slowConsent(db: Db) {
  const held: Array<() => void> = [];
  const state = { slow: false, held: 0 };
  const wrapped: Db = {
    kind: db.kind,
    query: ((sql: string, params?: readonly unknown[]) => {
      if (state.slow && sql.includes('FROM consent_events ce')) {
        state.held++;
        return new Promise<unknown>((resolve, reject) => held.push(() => void db.query(sql, params).then(resolve, reject)));
      }
      return db.query(sql, params);
    }) as Db['query'],
    exec: (sql) => db.exec(sql),
    transaction: (fn) => db.transaction(fn),
    session: (fn) => db.session(fn),
    close: () => db.close(),
  };
  const release = () => {
    state.slow = false;
    for (const go of held.splice(0)) go();
  };
  return { db: wrapped, state, release };
}

describe('consent store slower than CONSENT_TIMEOUT_MS', () => {
  let gw: TestGateway;
  let base: Awaited<ReturnType<typeof openTestDb>>;
  let slow: ReturnType<typeof slowConsent>;

  beforeAll(async () => {
    base = await openTestDb();
    slow = slowConsent(base);
    gw = await startTestGateway({ db: slow.db, env: { CONSENT_TIMEOUT_MS: '300' } });
  });
  afterAll(async () => {
    slow.release();
    await gw.close();
    await base.drop();
  });

  const profile = `{ subscriber(id: "${FIXTURES.adult.id}") { id msisdn fullName email postalAddress lastKnownLocation { latitude longitude } devices { imei model } } }`;
  const list = `{ subscribers(first: 50) { nodes { id msisdn fullName email lastKnownLocation { latitude longitude } devices { imei model } } } }`;

  it.each(['MARKETING', 'MARKETING_SMS', 'ANALYTICS', 'DIRECTORY_SERVICES'])(
    '%s (consent-based): denied with CONSENT_UNAVAILABLE within the timeout, no value released, the request audited',
    async (purpose) => {
      slow.state.slow = true;
      try {
        const started = Date.now();
        const one = await gw.gql(profile, { purpose });
        const many = await gw.gql(list, { purpose });
        expect(Date.now() - started).toBeLessThan(5_000);
        expectDenied(one, ['subscriber'], 'CONSENT_UNAVAILABLE');
        for (const res of [one, many]) {
          expect(res.status).toBe(200);
          expectNoValue(res);
          for (const e of res.body.errors ?? []) expect(e.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'CONSENT_UNAVAILABLE' });
          const leaf: AuditLeaf = await auditRecordOf(gw.db, res);
          expect(leaf.purpose).toBe(purpose);
          expect(leaf.rejection).toBeNull();
          expect(leaf.decisions.length).toBeGreaterThan(0);
          for (const d of leaf.decisions) expect(d).toMatchObject({ effect: 'DENY', reason: 'CONSENT_UNAVAILABLE' });
        }
        // A list whose subjects cannot be checked releases nothing: `data` is null (Subscriber.id is
        // non-null and denied), or each node's fields are.
        for (const node of many.body.data?.subscribers?.nodes ?? []) {
          for (const [k, v] of Object.entries(node as Record<string, unknown>)) if (k !== 'id') expect(v, k).toBeNull();
        }
      } finally {
        slow.release();
      }
      expect(slow.state.held).toBeGreaterThan(0); // the store really was asked, and really was slow
      slow.state.held = 0;
    },
  );

  it('a partner (scope needs the store) is denied too; an internal contract purpose, which needs neither scope nor consent, is served', async () => {
    slow.state.slow = true;
    try {
      const partner = await gw.mint({ kind: 'partner', agency: FIXTURES.adult.agencyId, purposes: ['BILLING'] });
      const scoped = await gw.gql(profile, { token: partner, purpose: 'BILLING' });
      expectDenied(scoped, ['subscriber'], 'CONSENT_UNAVAILABLE');
      expectNoValue(scoped);
      const internal = await gw.gql(`{ subscriber(id: "${FIXTURES.adult.id}") { fullName } }`, { purpose: 'BILLING' });
      expectAllowed(internal, ['subscriber', 'fullName'], FIXTURES.adult.fullName);
    } finally {
      slow.release();
    }
  });

  it('recovers on the next request once the store answers again', async () => {
    const res = await gw.gql(`{ subscriber(id: "${FIXTURES.adult.id}") { fullName } }`, { purpose: 'MARKETING' });
    expectAllowed(res, ['subscriber', 'fullName'], FIXTURES.adult.fullName);
  });
});

describe('kill -9 under load, then a restart on the same DATA_DIR', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pg-kill-'));
  const env = { DATA_DIR: dataDir, PORT: '0', SEED_SUBSCRIBERS: '30', RATE_LIMIT_PER_MINUTE: '0' };
  let server: ServeProcess | undefined;

  afterAll(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('every recordId a client received is in the log, and `audit verify` passes', async () => {
    server = await spawnServe(env);
    const url = server.url;
    const token = (await cli(['token', 'mint', '--sub', 'svc-load', '--kind', 'internal', '--purposes', 'CUSTOMER_SUPPORT,MARKETING,BILLING,CONSENT_MANAGEMENT'], env)).stdout.trim();
    const requests: Array<{ purpose: string; query: string }> = [
      { purpose: 'CUSTOMER_SUPPORT', query: '{ subscriber(id: "sub-000003") { fullName devices { imei } lastKnownLocation { cellId } } }' },
      { purpose: 'MARKETING', query: '{ subscribers(first: 10) { nodes { id msisdn lastKnownLocation { latitude } } } }' },
      { purpose: 'BILLING', query: '{ subscriber(id: "sub-000005") { billingAccount { balance invoices { amount } } } }' },
      { purpose: 'CONSENT_MANAGEMENT', query: 'mutation { grantConsent(subscriberId: "sub-000007", purpose: ANALYTICS, source: "kill-test") { state } }' },
      { purpose: 'SELLING_DATA', query: '{ subscriber(id: "sub-000001") { fullName } }' }, // 400, audited
    ];
    const TOTAL = 400;
    const KILL_AFTER = 250;
    const received: string[] = [];
    let answered = 0;
    let failed = 0;
    let next = 0;
    let killed = false;
    const worker = async () => {
      while (next < TOTAL && !killed) {
        const r = requests[next++ % requests.length];
        try {
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-purpose': r.purpose },
            body: JSON.stringify({ query: r.query }),
          });
          const body = (await res.json()) as { extensions?: { audit?: { recordId?: string } } };
          if (body.extensions?.audit?.recordId) received.push(body.extensions.audit.recordId);
          if (++answered === KILL_AFTER) {
            killed = true;
            server!.child.kill('SIGKILL');
          }
        } catch {
          failed++; // in flight when the process died
        }
      }
    };
    const exited = new Promise((r) => server!.child.once('exit', r));
    await Promise.all(Array.from({ length: 8 }, worker));
    await exited;
    expect(killed).toBe(true);
    expect(received.length).toBeGreaterThanOrEqual(KILL_AFTER);

    // Before any restart: the dead gateway's newest records are under no signature, and verify
    // (straight on the store: the lock's process is gone) says so.
    const broken = await cli(['audit', 'verify'], env);
    expect(broken.code).toBe(1);
    const deadLog = /^BROKEN (gw-\S+): \d+ records, \d+ checkpoints — index \d+: the records from index \d+ to \d+ are covered by no signed checkpoint, and the log's writer is not running/m.exec(broken.stdout)?.[1];
    expect(deadLog, broken.stdout).toBeDefined();

    server = await spawnServe(env); // takes over the dead process's lock
    const verify = await cli(['audit', 'verify'], env);
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
    expect(verify.stdout.match(/^ok {5}gw-/gm)?.length).toBeGreaterThanOrEqual(1);
    // The killed process's log was sealed by the restarted gateway: verify says so, and which of
    // its records only that seal covers (those written after its last checkpoint).
    expect(verify.stdout).toMatch(new RegExp(`^ok {5}${deadLog}: \\d+ records, \\d+ checkpoints, sealed by gw-\\S+ \\(its writer stopped without closing it; records \\d+ to \\d+ were signed only then\\)`, 'm'));
    // Sealing by hand is for PostgreSQL: here the server did it, and says so.
    const seal = await cli(['audit', 'seal', '--log', deadLog!], env);
    expect(seal.code).toBe(1);
    expect(seal.stderr).toBe('purposegate: A server holds the embedded DATA_DIR: it sealed the logs of stopped gateways when it started (audit verify shows them).\n');
    const out = join(dataDir, 'export.jsonl');
    expect((await cli(['audit', 'export', '--out', out], env)).code).toBe(0);
    const logged = new Set(
      readFileSync(out, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as { recordId: string }).recordId),
    );
    const missing = received.filter((id) => !logged.has(id));
    expect(missing, `${missing.length} of ${received.length} received record ids are not in the log (${failed} requests died in flight)`).toEqual([]);

    // The restarted gateway serves and records again.
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-purpose': 'BILLING' },
      body: JSON.stringify({ query: '{ subscriber(id: "sub-000005") { fullName } }' }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { extensions: { audit: { recordId: string } } }).extensions.audit.recordId).toMatch(/^gw-/);
  }, 180_000); // two starts, a few hundred requests and three CLI runs: slow on a loaded machine
});
