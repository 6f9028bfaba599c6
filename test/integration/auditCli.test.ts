import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../src/db/index.js';
import { cli as runCli, spawnServe, type ServeProcess } from '../processes.js';

describe('purposegate audit (CLI), through a running server and directly', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pg-auditcli-'));
  const env = { DATA_DIR: dataDir, PORT: '0', SEED_SUBSCRIBERS: '30' };
  const cli = (args: string[]) => runCli(args, env);
  let server: ServeProcess;
  let url = '';
  const recordIds: string[] = [];

  const gql = async (token: string, purpose: string, query: string) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-purpose': purpose },
      body: JSON.stringify({ query }),
    });
    const body = (await res.json()) as any;
    recordIds.push(body.extensions.audit.recordId);
    return body;
  };

  beforeAll(async () => {
    server = await spawnServe(env);
    url = server.url;
    const token = (await cli(['token', 'mint', '--sub', 'crm', '--kind', 'internal', '--purposes', 'CUSTOMER_SUPPORT,MARKETING'])).stdout.trim();
    for (let i = 1; i <= 6; i++) {
      const id = `sub-00000${i}`;
      await gql(token, 'CUSTOMER_SUPPORT', `{ subscriber(id: "${id}") { fullName devices { imei } } }`);
      await gql(token, 'MARKETING', `{ subscriber(id: "${id}") { fullName lastKnownLocation { latitude } } }`);
    }
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('audit operations go through the server that holds the DATA_DIR, for auditors only', async () => {
    const verify = await cli(['audit', 'verify']);
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/^ok {5}gw-\S+: \d+ records, \d+ checkpoints/m);
    const report = await cli(['audit', 'report', '--subscriber', 'sub-000001']);
    expect(report.code).toBe(0);
    expect(JSON.parse(report.stdout).accesses.map((a: { purpose: string }) => a.purpose)).toEqual(['CUSTOMER_SUPPORT', 'MARKETING']);
    const internal = (await cli(['token', 'mint', '--sub', 'x', '--kind', 'internal', '--purposes', 'AUDIT'])).stdout.trim();
    const refused = await fetch(url.replace(/\/graphql$/, '/audit/export'), {
      method: 'POST',
      headers: { authorization: `Bearer ${internal}`, 'x-purpose': 'AUDIT', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(refused.status).toBe(403);
  });

  it('after SIGTERM (final checkpoint): verify, prove + offline check-proof, replay, html report, export — directly', async () => {
    expect(await server.stop()).toBe(0);

    const verify = await cli(['audit', 'verify']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/ok {5}gw-\S+: 15 records, \d+ checkpoints/); // 12 queries + 3 audit operations

    const proofFile = join(dataDir, 'proof.json');
    expect((await cli(['audit', 'prove', '--record', recordIds[3], '--out', proofFile])).code).toBe(0);
    const check = await cli(['audit', 'check-proof', '--proof', proofFile, '--key', join(dataDir, 'keys', 'audit.pub')]);
    expect(check.code).toBe(0);
    expect(check.stdout).toContain(`ok: record ${recordIds[3]} (index 3) is included`);

    const replay = await cli(['audit', 'replay']);
    expect(replay.code, replay.stdout + replay.stderr).toBe(0);
    expect(replay.stdout).toMatch(/15 records, \d+ decisions replayed .*: 0 mismatches/);

    const html = join(dataDir, 'report.html');
    expect((await cli(['audit', 'report', '--subscriber', 'sub-000002', '--format', 'html', '--out', html])).code).toBe(0);
    expect(readFileSync(html, 'utf8')).toContain('<svg id="chart"');

    const exported = (await cli(['audit', 'export'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(exported.filter((l) => l.type === 'record')).toHaveLength(15);
    expect(exported.filter((l) => l.type === 'checkpoint').length).toBeGreaterThan(0);
  });

  it('exits non-zero naming the log and index when the log was edited, and when a back-dated event breaks replay', async () => {
    const db = await openPglite(dataDir);
    try {
      const { rows } = await db.query<{ body: string }>("SELECT body FROM audit_records WHERE seq = 1 AND body LIKE '%\"purpose\":\"MARKETING\"%'");
      expect(rows).toHaveLength(1);
      // Back-date a MARKETING withdrawal of every seeded subscriber to one second before the first
      // request: later than any seeded grant, so every consent-dependent MARKETING decision changes.
      const first = (await db.query<{ at: Date }>('SELECT min(at) AS at FROM audit_records')).rows[0].at;
      const at = new Date(new Date(first).getTime() - 1000).toISOString();
      await db.query(`INSERT INTO consent_events (subscriber_id, purpose, action, at, source) SELECT id, 'MARKETING', 'WITHDRAW', $1, 'backdated' FROM subscribers`, [at]);
    } finally {
      await db.close();
    }
    const replay = await cli(['audit', 'replay']);
    expect(replay.code).not.toBe(0);
    expect(replay.stderr).toMatch(/^purposegate: \d+ decisions do not replay\n$/);

    const db2 = await openPglite(dataDir);
    try {
      await db2.query('ALTER TABLE audit_records DISABLE TRIGGER USER'); // an attacker with owner rights
      await db2.query(`UPDATE audit_records SET body = replace(body, '"purpose":"MARKETING"', '"purpose":"BILLING"') WHERE seq = 1`);
    } finally {
      await db2.close();
    }
    const verify = await cli(['audit', 'verify']);
    expect(verify.code).not.toBe(0);
    expect(verify.stderr).toMatch(/^purposegate: audit log broken: log gw-\S+ index 1: record 1 was changed/);
  });
});
