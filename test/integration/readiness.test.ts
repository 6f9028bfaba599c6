/**
 * /readyz follows what a request needs: the store answering and the audit log writable. While
 * either is lost the gateway fails closed (no subscriber value leaves) and reports not ready; it
 * recovers on its own when they are back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/auth/index.js';
import { parseConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/gateway/index.js';
import { FIXTURES, insertFixtures } from '../fixtures/subscribers.js';
import { openTestDb, startBreakableAuditGateway, type TestDb, type TestGateway } from '../harness.js';
import { startTcpProxy, type TcpProxy } from '../tcpProxy.js';

const A = FIXTURES.adult;
const PROFILE = `{ subscriber(id: "${A.id}") { fullName msisdn devices { imei } } }`;
const SECRETS = [A.fullName, A.msisdn, A.device.imei];

const readyz = async (graphqlUrl: string) => {
  const res = await fetch(graphqlUrl.replace(/graphql$/, 'readyz'));
  return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
};

/** Polls until `check` passes or `ms` elapse (recovery is asynchronous). */
async function eventually<T>(fn: () => Promise<T>, check: (v: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let v = await fn();
  while (!check(v) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    v = await fn();
  }
  return v;
}

describe('/readyz and the audit log', () => {
  let gw: TestGateway;
  let base: TestDb;
  let state: { broken: boolean };

  beforeAll(async () => {
    ({ gw, base, state } = await startBreakableAuditGateway());
  });
  afterAll(() => gw.close());

  it('is ready while the log is writable, not ready once a write failed, and ready again when it can write', async () => {
    expect(await readyz(gw.url)).toEqual({ status: 200, body: { status: 'ready' } });
    state.broken = true;
    const refused = await gw.gql(PROFILE, { purpose: 'LAW_ENFORCEMENT', ref: 'LP-1' });
    expect(refused.status).toBe(503);
    expect(await readyz(gw.url)).toEqual({ status: 503, body: { status: 'unavailable', reason: 'the audit log cannot be written' } });
    state.broken = false;
    // No request is needed to find out: the readiness probe tries a rolled-back write.
    expect(await readyz(gw.url)).toEqual({ status: 200, body: { status: 'ready' } });
    const served = await gw.gql(PROFILE, { purpose: 'LAW_ENFORCEMENT', ref: 'LP-1' });
    expect(served.status).toBe(200);
    expect(served.body.data!.subscriber.fullName).toBe(A.fullName);
  });
});

describe.skipIf(!process.env.TEST_DATABASE_URL)('the database lost mid-run (PostgreSQL behind a proxy that is cut)', () => {
  let db: TestDb;
  let proxy: TcpProxy;
  let server: RunningServer;
  let token: string;
  const dataDir = mkdtempSync(join(tmpdir(), 'purposegate-dblost-'));

  const ask = async () => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-purpose': 'LAW_ENFORCEMENT', 'x-purpose-ref': 'LP-2' },
      body: JSON.stringify({ query: PROFILE }),
    });
    return { status: res.status, text: await res.text() };
  };

  beforeAll(async () => {
    db = await openTestDb();
    await insertFixtures(db);
    const target = new URL(db.url!);
    proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    const viaProxy = new URL(db.url!);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const config = parseConfig({ DATA_DIR: dataDir, DATABASE_URL: viaProxy.toString(), PORT: '0', HOST: '127.0.0.1', SEED_SUBSCRIBERS: '0', RATE_LIMIT_PER_MINUTE: '0', LOG_LEVEL: 'silent', CONSENT_TIMEOUT_MS: '1000' });
    server = await startServer(config);
    token = await mintToken(server.issuerKey, { sub: 'svc-le', kind: 'internal', purposes: ['LAW_ENFORCEMENT'] }, { issuer: config.tokenIssuer, audience: config.tokenAudience });
  });
  afterAll(async () => {
    await server?.close().catch(() => undefined);
    await proxy?.close();
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('fails closed and reports not ready while the database is gone, and recovers when it returns', async () => {
    const ok = await ask();
    expect(ok.status).toBe(200);
    expect(ok.text).toContain(A.fullName);

    proxy.cut();
    for (let i = 0; i < 5; i++) {
      const res = await ask();
      expect(res.status, res.text).toBe(503);
      expect(JSON.parse(res.text).errors[0].extensions.code).toBe('AUDIT_UNAVAILABLE');
      for (const secret of SECRETS) expect(res.text).not.toContain(secret);
      expect(res.text).not.toMatch(/ECONN|postgres|SELECT|INSERT/i);
    }
    const down = await readyz(server.url);
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('unavailable');

    proxy.restore();
    expect((await eventually(() => readyz(server.url), (r) => r.status === 200)).status).toBe(200);
    const back = await ask();
    expect(back.status).toBe(200);
    expect(back.text).toContain(A.fullName);
  });
});
