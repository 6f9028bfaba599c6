import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../src/db/index.js';
import { cli, spawnServe, type ServeProcess } from '../processes.js';

describe('purposegate schema check', () => {
  it('passes on the bundled policy and prints the purposes × fields summary', async () => {
    const r = await cli(['schema', 'check']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^policy OK: \d+ protected fields, 15 purposes/);
    // Everything but the auditors' Query.accessLog.
    expect(r.stdout).toMatch(/SUBJECT_ACCESS\s+\d+\s+0\s+1\n/);
    expect(r.stdout).toMatch(/AUDIT\s+2\s+0\s+\d+\n/);
  });

  it('exits non-zero naming the field when a @subject field lacks @purpose', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-schema-'));
    try {
      cpSync(join(import.meta.dirname, '../../schema'), dir, { recursive: true });
      const file = join(dir, 'location.graphql');
      writeFileSync(file, readFileSync(file, 'utf8').replace(/accuracyMeters: Float @purpose\([^)]*\)/, 'accuracyMeters: Float'));
      const r = await cli(['schema', 'check', '--schema', dir]);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain('Field "Location.accuracyMeters" of @subject type "Location" is not covered by @purpose.');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes the matrix as markdown', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'pg-matrix-')), 'matrix.md');
    expect((await cli(['schema', 'matrix', '--out', out])).code).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text).toMatch(/\| Device\.imei \|.*LAST4.*HASH/);
  });
});

describe('usage errors and bad arguments', () => {
  it.each([
    [['audit', 'verify', '--bogus'], "purposegate: unknown option '--bogus' (see --help)"],
    [['token', 'mint'], "purposegate: required option '--sub <sub>' not specified (see --help)"],
    [['nope'], "purposegate: unknown command 'nope' (see --help)"],
    [['audit', 'prove', '--record'], "purposegate: option '--record <id>' argument missing (see --help)"],
    [['audit', 'replay', '--since', '1'], 'purposegate: Pass --since as an ISO 8601 time such as 2026-12-04T10:00:00Z, not "1".'],
    [['audit', 'prove', '--consistency', 'abc', '--log', 'gw-x'], 'purposegate: Pass --consistency as the size of a checkpoint (a whole number from 1), not "abc".'],
  ])('%j: one line on stderr, exit 1', async (args, line) => {
    const r = await cli(args as string[]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`${line}\n`);
    expect(r.stdout).toBe('');
  });
});

describe('--url to a server that is not purposegate', () => {
  it('says so in one line (audit and consent), exit 1', async () => {
    const other = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>hello</html>');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}/graphql`;
    const dataDir = mkdtempSync(join(tmpdir(), 'pg-otherurl-'));
    try {
      const audit = await cli(['audit', 'verify', '--url', url], { DATA_DIR: dataDir });
      expect(audit.code).toBe(1);
      expect(audit.stderr).toBe(`purposegate: ${url.replace(/\/graphql$/, '')} did not answer as a purposegate server (HTTP 200, text/html, not JSON).\n`);
      const consent = await cli(['consent', 'grant', '--subscriber', 'sub-000001', '--purpose', 'MARKETING', '--url', url], { DATA_DIR: dataDir });
      expect(consent.code).toBe(1);
      expect(consent.stderr).toBe(`purposegate: ${url} did not answer as a purposegate server (HTTP 200, text/html, not JSON).\n`);
    } finally {
      other.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('purposegate serve, and the data commands beside it', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pg-serve-'));
  const env = { DATA_DIR: dataDir, PORT: '0', SEED_SUBSCRIBERS: '40' };
  let server: ServeProcess;
  let url = '';
  let output = '';

  beforeAll(async () => {
    server = await spawnServe(env);
    url = server.url;
    output = server.output();
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('seeds demo data on first start and prints a curl that works as printed', async () => {
    expect(output).toContain('seeded 40 demo subscribers');
    const token = /authorization: Bearer (\S+)'/.exec(output)![1];
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-purpose': 'CUSTOMER_SUPPORT' },
      body: JSON.stringify({ query: '{ subscriber(id: "sub-000001") { fullName msisdn devices { imei model } } }' }),
    });
    const body = (await res.json()) as any;
    expect(res.status).toBe(200);
    expect(body.data.subscriber.fullName).toEqual(expect.any(String));
    expect(body.data.subscriber.devices[0].imei).toMatch(/^\*{11}\d{4}$/);
    expect(body.extensions.masked).toContainEqual(['subscriber', 'devices', 0, 'imei']);
  });

  it('serves /healthz, /readyz and /metrics', async () => {
    const base = url.replace(/\/graphql$/, '');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ status: 'ready' });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/purposegate_requests_total\{purpose="CUSTOMER_SUPPORT",status="200"\} \d+/);
    expect(metrics).toMatch(/purposegate_decisions_total\{purpose="CUSTOMER_SUPPORT",effect="MASK",reason=""\} \d+/);
    expect(metrics).toContain('purposegate_request_duration_seconds_bucket');
  });

  it('refuses a second opener of the embedded DATA_DIR with a clear error', async () => {
    await expect(openPglite(dataDir)).rejects.toThrow(/is in use by process \d+ \(server at http:\/\/127\.0\.0\.1:\d+\/graphql\)/);
    const seed = await cli(['seed', '--subscribers', '5'], env);
    expect(seed.code).not.toBe(0);
    expect(seed.stderr).toContain('stop it before seeding');
  });

  it('token mint prints a token the server accepts; bad flags give a one-line reason', async () => {
    const minted = await cli(['token', 'mint', '--sub', 'partner-1', '--kind', 'partner', '--agency', 'agency-north', '--purposes', 'BILLING'], env);
    expect(minted.code).toBe(0);
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${minted.stdout.trim()}`, 'x-purpose': 'BILLING' },
      body: JSON.stringify({ query: '{ subscribers(first: 100) { nodes { agencyId } } }' }),
    });
    const nodes = ((await res.json()) as any).data.subscribers.nodes as Array<{ agencyId: string }>;
    expect(nodes.length).toBeGreaterThan(0);
    expect(new Set(nodes.map((n) => n.agencyId))).toEqual(new Set(['agency-north']));

    for (const args of [
      ['token', 'mint', '--sub', 'p', '--kind', 'partner', '--purposes', 'BILLING'],
      ['token', 'mint', '--sub', 'p', '--kind', 'internal', '--purposes', 'SELLING'],
      ['token', 'mint', '--sub', 'p', '--kind', 'internal', '--purposes', 'BILLING', '--ttl', 'forever'],
    ]) {
      const r = await cli(args, env);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^purposegate: /);
    }
  });

  it('consent grant/withdraw go through the running server and take effect on the next request', async () => {
    const token = (await cli(['token', 'mint', '--sub', 'mkt', '--kind', 'internal', '--purposes', 'MARKETING'], env)).stdout.trim();
    const ask = async () =>
      (await (
        await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-purpose': 'MARKETING' },
          body: JSON.stringify({ query: '{ subscriber(id: "sub-000003") { fullName } }' }),
        })
      ).json()) as any;
    // Make the state known whatever the seed chose, then flip it.
    expect((await cli(['consent', 'grant', '--subscriber', 'sub-000003', '--purpose', 'MARKETING', '--source', 'test'], env)).code).toBe(0);
    const dob = await ask();
    const isMinor = dob.errors?.[0]?.extensions?.reason === 'MINOR';
    if (!isMinor) expect(dob.data.subscriber.fullName).toEqual(expect.any(String));
    const withdrawn = await cli(['consent', 'withdraw', '--subscriber', 'sub-000003', '--purpose', 'MARKETING'], env);
    expect(withdrawn.code).toBe(0);
    expect(JSON.parse(withdrawn.stdout)).toMatchObject({ purpose: 'MARKETING', state: 'WITHDRAWN', source: 'cli' });
    const after = await ask();
    expect(after.data.subscriber).toEqual({ fullName: null });
    expect(after.errors[0].path).toEqual(['subscriber', 'fullName']);
    expect(after.errors[0].extensions.reason).toBe(isMinor ? 'MINOR' : 'CONSENT_WITHDRAWN');
    const unknown = await cli(['consent', 'grant', '--subscriber', 'sub-000003', '--purpose', 'SELLING'], env);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('Purpose "SELLING" is not in the purpose registry.');
  });

  it.each([
    { action: 'withdraw', purpose: 'LAW_ENFORCEMENT', basis: 'LEGAL_OBLIGATION' },
    { action: 'grant', purpose: 'LAW_ENFORCEMENT', basis: 'LEGAL_OBLIGATION' },
    { action: 'withdraw', purpose: 'FRAUD_PREVENTION', basis: 'LEGITIMATE_INTEREST' },
    { action: 'grant', purpose: 'BILLING', basis: 'CONTRACT' },
  ])('consent $action --purpose $purpose exits 1: the purpose does not rest on consent; nothing is recorded', async ({ action, purpose, basis }) => {
    const r = await cli(['consent', action, '--subscriber', 'sub-000002', '--purpose', purpose], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`purposegate: Purpose "${purpose}" does not rest on consent (its basis is ${basis}): there is no consent to grant or withdraw.\n`);
    const token = (await cli(['token', 'mint', '--sub', 'cm', '--kind', 'internal', '--purposes', 'CONSENT_MANAGEMENT'], env)).stdout.trim();
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-purpose': 'CONSENT_MANAGEMENT' },
      body: JSON.stringify({ query: '{ subscriber(id: "sub-000002") { consents { purpose } } }' }),
    });
    const consents = ((await res.json()) as any).data.subscriber.consents as Array<{ purpose: string }>;
    expect(consents.map((c) => c.purpose)).not.toContain(purpose);
  });

  it('stops cleanly on SIGTERM and releases the DATA_DIR', async () => {
    expect(await server.stop()).toBe(0);
    expect(existsSync(join(dataDir, 'purposegate.lock'))).toBe(false);
    expect(readdirSync(join(dataDir, 'checkpoints'))).toHaveLength(1); // final checkpoint, witnessed
    const seed = await cli(['seed', '--subscribers', '3'], env);
    expect(seed.code).toBe(0);
    expect(JSON.parse(seed.stdout)).toMatchObject({ subscribers: 3 });
  });
});

describe('purposegate token mint', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pg-mint-'));
  const mint = ['token', 'mint', '--purposes', 'BILLING'];
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it.each([
    { flags: '--ttl 2d', args: ['--sub', 'svc', '--ttl', '2d'], env: {}, stderr: 'purposegate: --ttl must be at most 86400 s (TOKEN_MAX_AGE_S, the longest lifetime the server accepts); got "2d" (172800 s).' },
    { flags: '--ttl 2h with TOKEN_MAX_AGE_S=3600', args: ['--sub', 'svc', '--ttl', '2h'], env: { TOKEN_MAX_AGE_S: '3600' }, stderr: 'purposegate: --ttl must be at most 3600 s (TOKEN_MAX_AGE_S, the longest lifetime the server accepts); got "2h" (7200 s).' },
    { flags: '--ttl 0s', args: ['--sub', 'svc', '--ttl', '0s'], env: {}, stderr: 'purposegate: --ttl must be a positive lifetime such as 90s, 15m or 12h; got "0s".' },
    { flags: '--sub ""', args: ['--sub', ''], env: {}, stderr: 'purposegate: --sub must be a non-empty name; got "".' },
    { flags: '--act ""', args: ['--sub', 'svc', '--act', ''], env: {}, stderr: 'purposegate: --act must be a non-empty name; got "".' },
    { flags: '--kind partner --agency ""', args: ['--sub', 'p', '--kind', 'partner', '--agency', ''], env: {}, stderr: 'purposegate: --agency must be a non-empty name; got "".' },
    { flags: '--act the --sub itself', args: ['--sub', 'svc', '--act', 'svc'], env: {}, stderr: 'purposegate: --act must name an actor other than the token\'s --sub (a subject never acts for itself); got "svc".' },
  ])('$flags: exit 1, one line naming the flag, what is expected and what arrived', async ({ args, env, stderr }) => {
    const r = await cli([...mint, ...(args.includes('--kind') ? [] : ['--kind', 'internal']), ...args], { DATA_DIR: dataDir, ...(env as Record<string, string>) });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`${stderr}\n`);
  });

  it('mints a token for exactly TOKEN_MAX_AGE_S', async () => {
    const r = await cli([...mint, '--kind', 'internal', '--sub', 'svc', '--ttl', '24h'], { DATA_DIR: dataDir });
    expect(r.code).toBe(0);
    const { iat, exp } = JSON.parse(Buffer.from(r.stdout.trim().split('.')[1]!, 'base64url').toString()) as { iat: number; exp: number };
    expect(exp - iat).toBe(86_400);
  });
});

describe('purposegate consent on the store itself (no server)', () => {
  it('refuses a purpose that does not rest on consent before writing anything', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pg-consent-'));
    try {
      expect((await cli(['seed', '--subscribers', '2'], { DATA_DIR: dataDir })).code).toBe(0);
      const r = await cli(['consent', 'withdraw', '--subscriber', 'sub-000001', '--purpose', 'LAW_ENFORCEMENT'], { DATA_DIR: dataDir });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('purposegate: Purpose "LAW_ENFORCEMENT" does not rest on consent (its basis is LEGAL_OBLIGATION): there is no consent to grant or withdraw.\n');
      const db = await openPglite(dataDir);
      try {
        expect((await db.query("SELECT 1 FROM consent_events WHERE purpose = 'LAW_ENFORCEMENT'")).rows).toHaveLength(0);
      } finally {
        await db.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('configuration errors', () => {
  it.each([
    [{ PORT: 'eighty' }, 'PORT must be an integer from 0 to 65535; got "eighty".'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL must be a postgres: or postgresql: URL; got "mysql://x".'],
    [{ LIMIT_DEPTH: '0' }, 'LIMIT_DEPTH must be an integer from 1 to 1000; got "0".'],
    [{ LIMIT_DIRECTIVES: 'many' }, 'LIMIT_DIRECTIVES must be an integer from 0 to 10000; got "many".'],
    [{ ACTORS_FILE: '/nonexistent/actors.json' }, `ACTORS_FILE must be a readable JSON file; got "/nonexistent/actors.json (ENOENT: no such file or directory, open '/nonexistent/actors.json')".`],
  ])('%o stops serve with a message naming the variable', async (bad, message) => {
    const r = await cli(['serve'], { DATA_DIR: mkdtempSync(join(tmpdir(), 'pg-cfg-')), ...bad });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toBe(`purposegate: ${message}`);
  });
});
