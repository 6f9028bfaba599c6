import type { Db } from '../../src/db/index.js';

/** One subscriber's stored values, read straight from the tables of 001_init.sql (never through the gateway). */
export interface RawSubscriber {
  id: string;
  msisdn: string;
  fullName: string;
  email: string | null;
  postalAddress: string | null;
  dateOfBirth: string | null;
  agencyId: string;
  directoryListing: 'LISTED' | 'UNLISTED';
  devices: Array<{ imei: string; imsi: string; iccid: string; macAddress: string | null; model: string | null; manufacturer: string | null; osVersion: string | null }>;
  location: { cellId: string; latitude: number; longitude: number; accuracyMeters: number; observedAt: string } | null;
  /** Newest first (the schema documents `callDetailRecords` as "Newest first"). */
  cdrs: Array<{ id: string; callingNumber: string; calledNumber: string; startedAt: string; durationSeconds: number; direction: string; cellId: string }>;
  billing: {
    balance: number;
    currency: string;
    card: { brand: string | null; last4: string; expiry: string | null } | null;
    invoices: Array<{ id: string; period: string; amount: number }>;
  } | null;
}

const iso = (v: Date | string) => new Date(v).toISOString();

/** Reads every subscriber's stored values, by id. */
export async function loadRawData(db: Db): Promise<Map<string, RawSubscriber>> {
  const out = new Map<string, RawSubscriber>();
  const subs = await db.query<{ id: string; msisdn: string; full_name: string; email: string | null; postal_address: string | null; dob: string | null; agency_id: string; directory_listing: 'LISTED' | 'UNLISTED' }>(
    `SELECT id, msisdn, full_name, email, postal_address, to_char(date_of_birth, 'YYYY-MM-DD') AS dob, agency_id, directory_listing FROM subscribers`,
  );
  for (const r of subs.rows) {
    out.set(r.id, {
      id: r.id,
      msisdn: r.msisdn,
      fullName: r.full_name,
      email: r.email,
      postalAddress: r.postal_address,
      dateOfBirth: r.dob,
      agencyId: r.agency_id,
      directoryListing: r.directory_listing,
      devices: [],
      location: null,
      cdrs: [],
      billing: null,
    });
  }
  const devices = await db.query<{ subscriber_id: string; imei: string; imsi: string; iccid: string; mac_address: string | null; model: string | null; manufacturer: string | null; os_version: string | null }>(
    `SELECT * FROM devices ORDER BY id`,
  );
  for (const d of devices.rows) {
    out.get(d.subscriber_id)!.devices.push({ imei: d.imei, imsi: d.imsi, iccid: d.iccid, macAddress: d.mac_address, model: d.model, manufacturer: d.manufacturer, osVersion: d.os_version });
  }
  const locations = await db.query<{ subscriber_id: string; cell_id: string; latitude: number; longitude: number; accuracy_meters: number; observed_at: Date | string }>(`SELECT * FROM locations`);
  for (const l of locations.rows) {
    out.get(l.subscriber_id)!.location = { cellId: l.cell_id, latitude: Number(l.latitude), longitude: Number(l.longitude), accuracyMeters: Number(l.accuracy_meters), observedAt: iso(l.observed_at) };
  }
  const cdrs = await db.query<{ id: string; subscriber_id: string; calling_number: string; called_number: string; started_at: Date | string; duration_seconds: number; direction: string; cell_id: string }>(
    `SELECT * FROM call_detail_records ORDER BY started_at DESC, id DESC`,
  );
  for (const c of cdrs.rows) {
    out.get(c.subscriber_id)!.cdrs.push({
      id: c.id,
      callingNumber: c.calling_number,
      calledNumber: c.called_number,
      startedAt: iso(c.started_at),
      durationSeconds: Number(c.duration_seconds),
      direction: c.direction,
      cellId: c.cell_id,
    });
  }
  const accounts = await db.query<{ subscriber_id: string; balance: number; currency: string; card_brand: string | null; card_last4: string | null; card_expiry: string | null }>(`SELECT * FROM billing_accounts`);
  for (const a of accounts.rows) {
    out.get(a.subscriber_id)!.billing = {
      balance: Number(a.balance),
      currency: a.currency,
      card: a.card_last4 === null ? null : { brand: a.card_brand, last4: a.card_last4, expiry: a.card_expiry },
      invoices: [],
    };
  }
  const invoices = await db.query<{ id: string; subscriber_id: string; period: string; amount: number }>(`SELECT * FROM invoices ORDER BY id`);
  for (const i of invoices.rows) out.get(i.subscriber_id)!.billing?.invoices.push({ id: i.id, period: i.period, amount: Number(i.amount) });
  return out;
}
