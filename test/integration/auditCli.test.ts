import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditWriter, canonicalJson, loadOrCreateAuditSigner, signCheckpoint, verifierKey } from '../../src/audit/index.js';
import { markOpenHere } from '../../src/audit/logLiveness.js';
import { leafHash } from '../../src/audit/merkle.js';
import { openPglite } from '../../src/db/index.js';
import { BIN, cli as runCli, spawnServe, type ServeProcess } from '../processes.js';

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
    // The server signs its log up to now before verifying it: only records that arrive meanwhile would be pending.
    expect(verify.stdout).toMatch(/^ok {5}gw-\S+: \d+ records, \d+ checkpoints, writer running\n/m);
    // --key is the auditor's, also through the server: a file that is not a key is refused, not ignored.
    const junk = join(dataDir, 'junk.pub');
    writeFileSync(junk, 'root:x:0:0:root:/root:/bin/bash\n');
    const badKey = await cli(['audit', 'verify', '--key', junk]);
    expect(badKey.code).toBe(1);
    expect(badKey.stderr.trim()).toBe(`purposegate: ${junk}: Not an Ed25519 note verifier key.`);
    const missing = await cli(['audit', 'verify', '--key', join(dataDir, 'no-such.pub')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`purposegate: Cannot read the audit key ${join(dataDir, 'no-such.pub')}: ENOENT.`);
    // A key given with --key is trusted by the server for this verify, beside its own.
    const other = loadOrCreateAuditSigner(mkdtempSync(join(tmpdir(), 'pg-auditcli-other-')));
    const otherPub = join(dataDir, 'other.pub');
    writeFileSync(otherPub, `${verifierKey(other.name, other.publicKey)}\n`);
    const withOther = await cli(['audit', 'verify', '--key', otherPub]);
    expect(withOther.code, withOther.stderr).toBe(0);
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
    expect(verify.stdout).toMatch(/ok {5}gw-\S+: 16 records, \d+ checkpoints, closed\n/); // 12 queries + 4 audit requests (the two with a bad --key never reach the server)
    const inThread = await cli(['audit', 'verify', '--workers', '0']);
    expect(inThread.code, inThread.stderr).toBe(0);
    expect(inThread.stdout.split('\n')[0]).toBe(verify.stdout.split('\n')[0]);
    for (const bad of ['9', '-1', '1.5', 'two']) {
      const refused = await cli(['audit', 'verify', '--workers', bad]);
      expect(refused.code).toBe(1);
      expect(refused.stderr.trim()).toBe(`purposegate: Pass --workers as a whole number from 0 to 8, not "${bad}".`);
    }
    const noKey = await cli(['audit', 'verify', '--key', join(dataDir, 'no-such.pub')]);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr.trim()).toBe(`purposegate: Cannot read the audit key ${join(dataDir, 'no-such.pub')}: ENOENT.`);

    const proofFile = join(dataDir, 'proof.json');
    expect((await cli(['audit', 'prove', '--record', recordIds[3], '--out', proofFile])).code).toBe(0);
    const check = await cli(['audit', 'check-proof', '--proof', proofFile, '--key', join(dataDir, 'keys', 'audit.pub')]);
    expect(check.code).toBe(0);
    expect(check.stdout).toContain(`ok: record ${recordIds[3]} (index 3) is included`);

    const replay = await cli(['audit', 'replay']);
    expect(replay.code, replay.stdout + replay.stderr).toBe(0);
    expect(replay.stdout).toMatch(/16 records, \d+ decisions replayed .*: 0 mismatches/);

    const html = join(dataDir, 'report.html');
    expect((await cli(['audit', 'report', '--subscriber', 'sub-000002', '--format', 'html', '--out', html])).code).toBe(0);
    expect(readFileSync(html, 'utf8')).toContain('<svg id="chart"');

    const exported = (await cli(['audit', 'export'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(exported.filter((l) => l.type === 'record')).toHaveLength(16);
    expect(exported.filter((l) => l.type === 'checkpoint').length).toBeGreaterThan(0);
  }, 240_000); // thirteen CLI processes one after another: 56-60 s on the evening's loaded 2-core machine

  it('audit seal covers the unsigned records of a log whose writer is gone, and refuses a sealed or unknown log', async () => {
    // A writer that stopped without closing its log (as a killed process leaves it), in this process.
    const db = await openPglite(dataDir);
    let logId: string;
    try {
      const { rows } = await db.query<{ body: string }>('SELECT body FROM audit_records LIMIT 1');
      const policyVersion = (JSON.parse(rows[0]!.body) as { policyVersion: string }).policyVersion;
      const writer = await AuditWriter.open(db, { policyVersion, signer: loadOrCreateAuditSigner(dataDir), checkpointIntervalMs: 3_600_000 });
      logId = writer.logId;
      for (const requestId of ['seal-1', 'seal-2']) {
        await writer.append({ at: new Date().toISOString(), requestId, caller: null, purpose: null, ref: null, operationName: null, documentHash: null, rejection: { code: 'UNAUTHENTICATED', status: 401 }, decisions: [] });
      }
      markOpenHere(logId, false);
    } finally {
      await db.close();
    }
    const broken = await cli(['audit', 'verify']);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain(`BROKEN ${logId}: 2 records, 0 checkpoints — index 0: the records from index 0 to 1 are covered by no signed checkpoint`);
    const seal = await cli(['audit', 'seal', '--log', logId]);
    expect(seal.code, seal.stderr).toBe(0);
    expect(seal.stdout).toBe(`sealed ${logId} at 2 records; records 0 to 1 were under no checkpoint until now\n`);
    const verify = await cli(['audit', 'verify']);
    expect(verify.code, verify.stdout).toBe(0);
    expect(verify.stdout).toContain(`ok     ${logId}: 2 records, 1 checkpoints, sealed by audit-seal (its writer stopped without closing it; records 0 to 1 were signed only then)\n`);
    // A record only the seal covers is proved against it, and check-proof says so.
    const proofFile = join(dataDir, 'sealed-proof.json');
    expect((await cli(['audit', 'prove', '--record', `${logId}-1`, '--out', proofFile])).code).toBe(0);
    const check = await cli(['audit', 'check-proof', '--proof', proofFile, '--key', join(dataDir, 'keys', 'audit.pub')]);
    expect(check.stdout).toBe(`ok: record ${logId}-1 (index 1) is included in purposegate.audit/${logId} at size 2 (a seal signed by audit-seal after its writer stopped)\n`);
    expect((await cli(['audit', 'seal', '--log', logId])).stderr).toBe(`purposegate: Log "${logId}" is already closed or sealed.\n`);
    expect((await cli(['audit', 'seal', '--log', 'gw-nope'])).stderr).toBe('purposegate: No log "gw-nope" in the store.\n');
  }, 120_000);

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

describe('purposegate audit check-proof with a proof on stdin', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-checkproof-'));
  const signer = loadOrCreateAuditSigner(dir);
  const keyFile = join(dir, 'keys', 'audit.pub');
  // A one-record log: its root is the leaf's hash, and the audit path is empty.
  const leaf = canonicalJson({ logId: 'gw-test', seq: 0, recordId: 'gw-test-0' });
  const checkpoint = signCheckpoint({ origin: 'purposegate.audit/gw-test', size: 1, root: leafHash(Buffer.from(leaf, 'utf8')) }, signer);
  const valid = { kind: 'inclusion', logId: 'gw-test', index: 0, leaf, checkpoint, proof: [] };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs check-proof with `input` on stdin. */
  const checkProof = (input: string) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'audit', 'check-proof', '--proof', '-', '--key', keyFile], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b) => (stdout += b));
      child.stderr.on('data', (b) => (stderr += b));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(input);
    });

  it('accepts a well-formed proof that holds', async () => {
    const r = await checkProof(JSON.stringify(valid));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('ok: record gw-test-0 (index 0) is included in purposegate.audit/gw-test at size 1\n');
  });

  it.each([
    { what: '{}', input: '{}', reason: 'The proof\'s "kind" must be "inclusion" or "consistency"; got nothing.' },
    { what: 'an inclusion proof without its audit path', input: JSON.stringify({ ...valid, proof: undefined }), reason: 'The proof\'s "proof" must be an array of base64 SHA-256 hashes; got nothing.' },
    { what: 'a leaf that is a number', input: JSON.stringify({ ...valid, leaf: 42 }), reason: 'The proof\'s "leaf" must be the record\'s canonical JSON (a string holding a JSON object); got 42.' },
    { what: 'a consistency proof without its newer checkpoint', input: JSON.stringify({ kind: 'consistency', logId: 'gw-test', old: checkpoint, proof: [] }), reason: 'The proof\'s "new" must be the newer signed checkpoint note (a string); got nothing.' },
  ])('$what on stdin: exit 1 with one sentence saying what is wrong', async ({ input, reason }) => {
    const r = await checkProof(input);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`purposegate: stdin is not a proof: ${reason[0]!.toLowerCase()}${reason.slice(1)}\n`);
  });

  it('says so when stdin is not JSON', async () => {
    const r = await checkProof('proof?');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('purposegate: stdin is not a proof (JSON expected).\n');
  });
});
