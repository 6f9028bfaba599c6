/**
 * The production topology on real processes: one PostgreSQL database, the seven subgraphs as
 * `purposegate subgraph` services, and several `purposegate serve` gateways using them. Needs a
 * PostgreSQL server other processes can open, so it runs with TEST_DATABASE_URL (as `.ci/run` does).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateIssuerKey, mintToken } from '../../src/auth/index.js';
import { SUBGRAPH_NAMES } from '../../src/subgraphs/index.js';
import { FIXTURES, insertFixtures } from '../fixtures/subscribers.js';
import { openTestDb, type TestDb } from '../harness.js';
import { cli, spawnServe, spawnSubgraph, type ServeProcess, type SubgraphProcess } from '../processes.js';

const A = FIXTURES.adult;

interface Sent {
  gateway: string;
  status: number;
  recordId?: string;
  code?: string;
}

describe.skipIf(!process.env.TEST_DATABASE_URL)('several gateways and subgraph services on one PostgreSQL (real processes)', () => {
  let db: TestDb;
  const dataDir = mkdtempSync(join(tmpdir(), 'purposegate-topology-'));
  let env: Record<string, string>;
  const subgraphs: SubgraphProcess[] = [];
  const gateways: ServeProcess[] = [];
  let token: (purposes: string[], kind?: string) => Promise<string>;

  const startGateway = async () => {
    const gw = await spawnServe({ ...env, PORT: '0', SUBGRAPH_URLS: subgraphs.map((s) => `${s.name}=${s.url}`).join(',') });
    gateways.push(gw);
    return gw;
  };
  const logIdOf = (gw: ServeProcess) => /"auditLog":"([^"]+)"/.exec(gw.output())![1];

  async function ask(url: string, purpose: string | null, query: string, auth?: string | null, ref?: string): Promise<Sent & { body: any }> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const bearer = auth === undefined ? await token([purpose!]) : auth;
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    if (purpose) headers['x-purpose'] = purpose;
    if (ref) headers['x-purpose-ref'] = ref;
    const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query }) });
    const body = (await res.json()) as any;
    return { gateway: url, status: res.status, recordId: body.extensions?.audit?.recordId, code: body.errors?.[0]?.extensions?.code, body };
  }

  /** Mixed requests: allowed, masked, denied fields, and whole-request rejections. */
  const MIX: Array<[purpose: string | null, query: string, auth?: 'none' | 'wrong-purpose', ref?: string]> = [
    ['CUSTOMER_SUPPORT', `{ subscriber(id: "${A.id}") { fullName devices { imei model } billingAccount { balance } } }`],
    ['BILLING', `{ subscriber(id: "${A.id}") { fullName devices { imei } callDetailRecords(first: 3) { nodes { calledNumber } } } }`],
    ['MARKETING', `{ subscribers(first: 10) { nodes { id msisdn lastKnownLocation { latitude } } } }`],
    ['LAW_ENFORCEMENT', `{ subscriber(id: "${A.id}") { fullName lastKnownLocation { latitude longitude } } }`, undefined, 'LP-7'],
    ['BILLING', `{ subscriber(id: "${A.id}") { fullName } }`, 'none'],
    ['LAW_ENFORCEMENT', `{ subscriber(id: "${A.id}") { fullName } }`, 'wrong-purpose'],
  ];

  async function load(urls: string[], count: number, concurrency: number, until?: () => boolean): Promise<{ sent: Sent[]; failed: number }> {
    const sent: Sent[] = [];
    let next = 0;
    let failed = 0;
    const crm = await token(['CUSTOMER_SUPPORT']);
    const worker = async () => {
      while (next < count && !(until?.() ?? false)) {
        const i = next++;
        const [purpose, query, auth, ref] = MIX[i % MIX.length];
        const bearer = auth === 'none' ? null : auth === 'wrong-purpose' ? crm : undefined;
        try {
          const r = await ask(urls[i % urls.length], purpose, query, bearer, ref);
          sent.push({ gateway: r.gateway, status: r.status, recordId: r.recordId, code: r.code });
        } catch {
          failed++; // refused connection: the gateway has stopped accepting
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { sent, failed };
  }

  beforeAll(async () => {
    db = await openTestDb();
    await insertFixtures(db);
    env = { DATA_DIR: dataDir, DATABASE_URL: db.url!, HOST: '127.0.0.1', SEED_SUBSCRIBERS: '0', RATE_LIMIT_PER_MINUTE: '0', LOG_LEVEL: 'info' };
    subgraphs.push(...(await Promise.all(SUBGRAPH_NAMES.map((name) => spawnSubgraph(name, env)))));
    const issuer = await loadOrCreateIssuerKey(dataDir);
    token = (purposes, kind = 'internal') => mintToken(issuer, { sub: 'svc-topology', kind: kind as never, purposes }, { issuer: 'purposegate-local', audience: 'purposegate' });
  }, 180_000);

  afterAll(async () => {
    await Promise.all([...gateways, ...subgraphs].map((p) => p.stop()));
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses a request sent straight to a subgraph process, without the gateway\'s context', async () => {
    const devices = subgraphs.find((s) => s.name === 'devices')!;
    const res = await fetch(devices.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await token(['LAW_ENFORCEMENT'])}`, 'x-purpose': 'LAW_ENFORCEMENT' },
      body: JSON.stringify({ query: `query($r:[_Any!]!){_entities(representations:$r){...on Subscriber{devices{imei}}}}`, variables: { r: [{ __typename: 'Subscriber', id: A.id }] } }),
    });
    expect(res.status).toBe(401);
    const text = await res.text();
    expect(text).toContain('UNAUTHENTICATED');
    expect(text).not.toContain(A.device.imei);
  });

  it('two gateways under mixed load: every request recorded once, verify passes over both logs, a withdrawal through A holds at B', async () => {
    const [a, b] = await Promise.all([startGateway(), startGateway()]);
    for (const gw of [a, b]) expect((await fetch(gw.url.replace(/graphql$/, 'readyz'))).status).toBe(200);

    const { sent, failed } = await load([a.url, b.url], 240, 16);
    expect(failed).toBe(0);
    expect(sent.filter((s) => s.status >= 500)).toEqual([]);
    expect(new Set(sent.map((s) => s.status))).toEqual(new Set([200, 401, 403]));

    // Cross-gateway withdrawal: granted (MARKETING covers MARKETING_SMS) → withdrawn through A → denied at B.
    const q = `{ subscriber(id: "${A.id}") { msisdn } }`;
    const before = await ask(b.url, 'MARKETING_SMS', q);
    expect(before.body.data.subscriber.msisdn).toBe(A.msisdn);
    const withdraw = await ask(a.url, 'CONSENT_MANAGEMENT', `mutation { withdrawConsent(subscriberId: "${A.id}", purpose: MARKETING_SMS, source: "topology-test") { state } }`);
    expect(withdraw.body.data).toEqual({ withdrawConsent: { state: 'WITHDRAWN' } });
    const after = await ask(b.url, 'MARKETING_SMS', q);
    expect(after.body.data.subscriber.msisdn).toBeNull();
    expect(after.body.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'CONSENT_WITHDRAWN' });
    sent.push(before, withdraw, after);

    expect(await a.stop()).toBe(0);
    expect(await b.stop()).toBe(0);
    const logs = [logIdOf(a), logIdOf(b)];
    expect(logs[0]).not.toBe(logs[1]);

    // Every request has a record, in the log of the gateway that answered it; nothing else was written.
    const { rows } = await db.query<{ log_id: string; record_id: string }>('SELECT log_id, record_id FROM audit_records WHERE log_id = ANY($1::text[])', [logs]);
    expect(rows.length).toBe(sent.length);
    const recorded = new Set(rows.map((r) => r.record_id));
    for (const s of sent) expect(recorded.has(s.recordId!), `${s.recordId} recorded`).toBe(true);
    expect(rows.filter((r) => r.log_id === logs[0]).length).toBe(sent.filter((s) => s.gateway === a.url).length);

    const verify = await cli(['audit', 'verify'], env);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    for (const log of logs) expect(verify.stdout).toMatch(new RegExp(`^ok\\s+${log}: \\d+ records, \\d+ checkpoints`, 'm'));
    const replay = await cli(['audit', 'replay'], env);
    expect(replay.code, replay.stdout + replay.stderr).toBe(0);
  });

  it('SIGTERM under load: every accepted request is in the log, and the final checkpoint covers it', async () => {
    const c = await startGateway();
    let stopped = false;
    const running = load([c.url], 100_000, 12, () => stopped);
    await new Promise((r) => setTimeout(r, 1500));
    const exit = c.stop();
    // Keep sending while it drains: those requests are refused at the socket or answered in full.
    setTimeout(() => (stopped = true), 1500);
    expect(await exit).toBe(0);
    stopped = true;
    const { sent, failed } = await running;
    console.log(`SIGTERM under load: ${sent.length} answered (all recorded), ${failed} refused at the socket while stopping`);
    expect(sent.length).toBeGreaterThan(20);
    expect(sent.filter((s) => s.status >= 500)).toEqual([]);

    const log = logIdOf(c);
    const { rows } = await db.query<{ record_id: string }>('SELECT record_id FROM audit_records WHERE log_id = $1', [log]);
    expect(rows.length).toBe(sent.length);
    const recorded = new Set(rows.map((r) => r.record_id));
    for (const s of sent) expect(recorded.has(s.recordId!)).toBe(true);
    const final = await db.query<{ size: string }>('SELECT max(tree_size)::text AS size FROM audit_checkpoints WHERE log_id = $1', [log]);
    expect(Number(final.rows[0].size)).toBe(sent.length);
    expect(c.output()).toMatch(/final checkpoint signed/);

    const verify = await cli(['audit', 'verify'], env);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(new RegExp(`^ok\\s+${log}: ${sent.length} records`, 'm'));
  });
});
