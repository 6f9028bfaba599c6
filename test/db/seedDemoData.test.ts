import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../src/db/index.js';
import { isValidImei, luhnCheckDigit, seedDemoData, type SeedSummary } from '../../src/db/seedDemoData.js';

const NOW = new Date('2025-06-15T12:00:00Z');
const DAY_MS = 86_400_000;

/** Tables and the column that orders their rows. */
const TABLES = [
  ['subscribers', 'id'],
  ['devices', 'id'],
  ['locations', 'subscriber_id'],
  ['call_detail_records', 'id'],
  ['billing_accounts', 'subscriber_id'],
  ['invoices', 'id'],
  ['consent_events', 'id'],
] as const;

async function countOf(db: Db, table: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return rows[0]!.n;
}

async function digest(db: Db): Promise<string> {
  const hash = createHash('sha256');
  for (const [table, key] of TABLES) {
    const { rows } = await db.query(`SELECT * FROM ${table} ORDER BY ${key}`);
    hash.update(table + '\n' + JSON.stringify(rows) + '\n');
  }
  return hash.digest('hex');
}

function ageAt(birth: Date, now: Date): number {
  let age = now.getUTCFullYear() - birth.getUTCFullYear();
  const m = now.getUTCMonth() - birth.getUTCMonth();
  if (m < 0 || (m === 0 && now.getUTCDate() < birth.getUTCDate())) age--;
  return age;
}

const isValidLuhn = (digits: string): boolean => luhnCheckDigit(digits.slice(0, -1)) === Number(digits.slice(-1));

describe('luhn helpers', () => {
  it('computes check digits of known numbers', () => {
    expect(luhnCheckDigit('7992739871')).toBe(3);
    expect(luhnCheckDigit('49015420323751')).toBe(8);
    expect(isValidImei('490154203237518')).toBe(true);
  });

  it('rejects a wrong check digit and malformed IMEIs', () => {
    expect(isValidImei('490154203237517')).toBe(false);
    expect(isValidImei('49015420323751')).toBe(false);
    expect(isValidImei('4901542032375180')).toBe(false);
    expect(isValidImei('49015420323751a')).toBe(false);
  });
});

describe('seedDemoData', () => {
  let db: Db;
  let summary: SeedSummary;

  beforeAll(async () => {
    db = await openDb({ dataDir: 'memory://' });
    summary = await seedDemoData(db, { subscribers: 60, seed: 42, now: NOW });
  }, 60_000);

  afterAll(async () => {
    await db?.close();
  });

  it('reports the row counts that are in the tables', async () => {
    expect(summary.subscribers).toBe(60);
    expect(await countOf(db, 'subscribers')).toBe(summary.subscribers);
    expect(await countOf(db, 'devices')).toBe(summary.devices);
    expect(await countOf(db, 'call_detail_records')).toBe(summary.cdrs);
    expect(await countOf(db, 'invoices')).toBe(summary.invoices);
    expect(await countOf(db, 'consent_events')).toBe(summary.consentEvents);
    expect(await countOf(db, 'locations')).toBe(60);
    expect(await countOf(db, 'billing_accounts')).toBe(60);
    expect(summary.devices).toBeGreaterThanOrEqual(60);
    expect(summary.devices).toBeLessThanOrEqual(120);
    expect(summary.cdrs).toBeGreaterThanOrEqual(60 * 20);
    expect(summary.cdrs).toBeLessThanOrEqual(60 * 60);
    expect(summary.invoices).toBeGreaterThanOrEqual(60 * 3);
    expect(summary.invoices).toBeLessThanOrEqual(60 * 6);
  });

  it('spreads subscribers over at least three agencies', async () => {
    expect(summary.agencies).toEqual(['agency-east', 'agency-north', 'agency-south']);
    const { rows } = await db.query<{ agency_id: string; n: number }>(
      'SELECT agency_id, count(*)::int AS n FROM subscribers GROUP BY agency_id',
    );
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const r of rows) expect(r.n).toBe(20);
  });

  it('writes well-formed subscribers', async () => {
    const { rows } = await db.query<{
      id: string;
      msisdn: string;
      full_name: string;
      email: string;
      postal_address: string;
      date_of_birth: Date | string;
      directory_listing: string;
    }>('SELECT * FROM subscribers ORDER BY id');
    expect(rows[0]!.id).toBe('sub-000001');
    expect(rows[59]!.id).toBe('sub-000060');
    expect(new Set(rows.map((r) => r.msisdn)).size).toBe(rows.length);
    for (const r of rows) {
      expect(r.msisdn).toMatch(/^\+[1-9]\d{7,14}$/);
      expect(r.full_name).toMatch(/^\S+ \S+$/);
      expect(r.email).toMatch(/^[a-z._]+\d+@[a-z.]+$/);
      expect(r.postal_address).toMatch(/^\d+ .+, .+ [A-Z]{1,2}\d{1,2} \d[A-Z]{2}$/);
      const age = ageAt(new Date(r.date_of_birth), NOW);
      expect(age).toBeGreaterThanOrEqual(13);
      expect(age).toBeLessThanOrEqual(85);
    }
    expect(rows.some((r) => ageAt(new Date(r.date_of_birth), NOW) < 18)).toBe(true);
    expect(rows.some((r) => r.directory_listing === 'UNLISTED')).toBe(true);
    expect(rows.some((r) => r.directory_listing === 'LISTED')).toBe(true);
  });

  it('writes devices with valid IMEIs, IMSIs, ICCIDs and MACs', async () => {
    const { rows } = await db.query<Record<string, string>>('SELECT * FROM devices ORDER BY id');
    const perSubscriber = new Map<string, number>();
    for (const r of rows) {
      expect(r.id).toMatch(/^dev-/);
      expect(isValidImei(r.imei!)).toBe(true);
      expect(r.imsi).toMatch(/^23415\d{10}$/);
      expect(r.iccid).toMatch(/^8944\d{15}$/);
      expect(isValidLuhn(r.iccid!)).toBe(true);
      expect(r.mac_address).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
      expect(r.model).toBeTruthy();
      expect(r.manufacturer).toBeTruthy();
      expect(r.os_version).toMatch(/^(Android|iOS|iPadOS|watchOS|Wear OS) \d/);
      perSubscriber.set(r.subscriber_id!, (perSubscriber.get(r.subscriber_id!) ?? 0) + 1);
    }
    expect(perSubscriber.size).toBe(60);
    for (const n of perSubscriber.values()) expect([1, 2]).toContain(n);
  });

  it('places everyone in the UK within the last week', async () => {
    const { rows } = await db.query<{
      cell_id: string;
      latitude: number;
      longitude: number;
      accuracy_meters: number;
      observed_at: Date;
    }>('SELECT * FROM locations');
    for (const r of rows) {
      expect(r.cell_id).toMatch(/^234-15-\d{4}-\d{5}$/);
      expect(r.latitude).toBeGreaterThanOrEqual(50);
      expect(r.latitude).toBeLessThanOrEqual(58.5);
      expect(r.longitude).toBeGreaterThanOrEqual(-5.5);
      expect(r.longitude).toBeLessThanOrEqual(1.7);
      expect(String(r.latitude)).toMatch(/\.\d{5,}$/);
      expect(String(r.longitude)).toMatch(/\.\d{5,}$/);
      expect(r.accuracy_meters).toBeGreaterThanOrEqual(10);
      expect(r.accuracy_meters).toBeLessThanOrEqual(2000);
      const t = new Date(r.observed_at).getTime();
      expect(t).toBeLessThan(NOW.getTime());
      expect(t).toBeGreaterThan(NOW.getTime() - 7 * DAY_MS);
    }
  });

  it('writes months of call detail records around the subscriber', async () => {
    const { rows } = await db.query<{
      id: string;
      msisdn: string;
      calling_number: string;
      called_number: string;
      started_at: Date;
      duration_seconds: number;
      direction: string;
      cell_id: string;
    }>(`SELECT c.*, s.msisdn FROM call_detail_records c JOIN subscribers s ON s.id = c.subscriber_id ORDER BY c.id`);
    const durations: number[] = [];
    for (const r of rows) {
      expect(r.id).toMatch(/^cdr-/);
      expect(r.calling_number).toMatch(/^\+[1-9]\d{7,14}$/);
      expect(r.called_number).toMatch(/^\+[1-9]\d{7,14}$/);
      if (r.direction === 'OUTBOUND') expect(r.calling_number).toBe(r.msisdn);
      else expect(r.called_number).toBe(r.msisdn);
      const t = new Date(r.started_at).getTime();
      expect(t).toBeLessThan(NOW.getTime());
      expect(t).toBeGreaterThan(NOW.getTime() - 90 * DAY_MS);
      expect(r.duration_seconds).toBeGreaterThanOrEqual(0);
      expect(r.duration_seconds).toBeLessThanOrEqual(3600);
      expect(r.cell_id).toMatch(/^234-15-\d{4}-\d{5}$/);
      durations.push(r.duration_seconds);
    }
    durations.sort((a, b) => a - b);
    expect(durations[Math.floor(durations.length / 2)]).toBeLessThan(300); // skewed short
    const days = new Set(rows.map((r) => new Date(r.started_at).toISOString().slice(0, 7)));
    expect(days.size).toBeGreaterThanOrEqual(3); // spread over months
  });

  it('writes billing accounts and monthly invoices', async () => {
    const accounts = await db.query<Record<string, string | number>>('SELECT * FROM billing_accounts');
    for (const a of accounts.rows) {
      expect(a.currency).toBe('GBP');
      expect(['VISA', 'MASTERCARD', 'AMEX']).toContain(a.card_brand);
      expect(a.card_last4).toMatch(/^\d{4}$/);
      const [, mm, yy] = /^(\d{2})\/(\d{2})$/.exec(String(a.card_expiry))!;
      expect(Number(mm)).toBeGreaterThanOrEqual(1);
      expect(Number(mm)).toBeLessThanOrEqual(12);
      expect((2000 + Number(yy)) * 12 + Number(mm) - 1).toBeGreaterThan(NOW.getUTCFullYear() * 12 + NOW.getUTCMonth());
    }
    const invoices = await db.query<{ id: string; period: string; amount: number }>('SELECT * FROM invoices');
    for (const i of invoices.rows) {
      expect(i.id).toMatch(/^inv-/);
      expect(i.period).toMatch(/^\d{4}-(0[1-9]|1[0-2])$/);
      expect(i.period < '2025-06').toBe(true);
      expect(i.amount).toBeGreaterThan(0);
    }
  });

  it('writes a realistic consent history', async () => {
    const { rows } = await db.query<{
      subscriber_id: string;
      purpose: string;
      action: string;
      at: Date;
      source: string;
      evidence: Record<string, unknown>;
    }>('SELECT * FROM consent_events ORDER BY id');
    expect(rows.some((r) => r.action === 'GRANT')).toBe(true);
    expect(rows.some((r) => r.action === 'WITHDRAW')).toBe(true);
    expect(rows.some((r) => r.purpose === 'MARKETING' && r.action === 'GRANT')).toBe(true);
    const last = new Map<string, number>();
    for (const r of rows) {
      expect(['MARKETING', 'MARKETING_SMS', 'MARKETING_EMAIL', 'ANALYTICS', 'DIRECTORY_SERVICES']).toContain(r.purpose);
      expect(['app', 'web', 'call-centre', 'retail']).toContain(r.source);
      expect(r.evidence).toMatchObject({ channel: r.source });
      const t = new Date(r.at).getTime();
      expect(t).toBeLessThan(NOW.getTime());
      const key = `${r.subscriber_id}/${r.purpose}`;
      if (last.has(key)) expect(t).toBeGreaterThan(last.get(key)!);
      last.set(key, t);
    }
    // Many subscribers have no consent events at all.
    const withEvents = new Set(rows.map((r) => r.subscriber_id));
    expect(withEvents.size).toBeGreaterThan(0);
    expect(withEvents.size).toBeLessThan(60);
  });

  it('appends after the highest existing id without collisions', async () => {
    const more = await seedDemoData(db, { subscribers: 60, seed: 42, now: NOW });
    expect(more.subscribers).toBe(60);
    expect(await countOf(db, 'subscribers')).toBe(120);
    const { rows } = await db.query<{ id: string; msisdn: string }>('SELECT id, msisdn FROM subscribers ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual(Array.from({ length: 120 }, (_, i) => `sub-${String(i + 1).padStart(6, '0')}`));
    expect(new Set(rows.map((r) => r.msisdn)).size).toBe(120);
    expect(await countOf(db, 'devices')).toBe(summary.devices + more.devices);
    expect(await countOf(db, 'call_detail_records')).toBe(summary.cdrs + more.cdrs);
    expect(await countOf(db, 'invoices')).toBe(summary.invoices + more.invoices);
    expect(await countOf(db, 'consent_events')).toBe(summary.consentEvents + more.consentEvents);
  }, 30_000);
});

describe('seedDemoData determinism', () => {
  const dbs: Db[] = [];
  afterAll(async () => {
    for (const db of dbs) await db.close();
  });

  async function fresh(): Promise<Db> {
    const db = await openDb({ dataDir: 'memory://' });
    dbs.push(db);
    return db;
  }

  it('produces identical rows for the same seed and now, different rows for another seed', async () => {
    const a = await fresh();
    const b = await fresh();
    const sa = await seedDemoData(a, { subscribers: 60, seed: 7, now: NOW });
    const sb = await seedDemoData(b, { subscribers: 60, seed: 7, now: NOW });
    expect(sb).toEqual(sa);
    const digestA = await digest(a);
    expect(await digest(b)).toBe(digestA);

    const c = await fresh();
    await seedDemoData(c, { subscribers: 60, seed: 8, now: NOW });
    expect(await digest(c)).not.toBe(digestA);
  }, 60_000);

  it('seeds 1,000 subscribers', async () => {
    const db = await fresh();
    const started = performance.now();
    const summary = await seedDemoData(db, { subscribers: 1000, now: NOW });
    const elapsed = Math.round(performance.now() - started);
    console.log(`seeded 1,000 subscribers in ${elapsed} ms`, summary);
    expect(summary.subscribers).toBe(1000);
    expect(await countOf(db, 'subscribers')).toBe(1000);
    expect(await countOf(db, 'call_detail_records')).toBe(summary.cdrs);
    const minors = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM subscribers WHERE date_of_birth > ($1::date - interval '18 years')`,
      [NOW.toISOString().slice(0, 10)],
    );
    expect(minors.rows[0]!.n).toBeGreaterThan(20);
    expect(minors.rows[0]!.n).toBeLessThan(120);
  }, 60_000);
});
