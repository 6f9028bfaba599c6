/**
 * The SPEC's §3 "Reference policy" table, cell by cell, over real HTTP.
 *
 * The expectation table below is written by hand from SPEC.md §3 (and §4 for account metadata and
 * containers), NOT read from schema/*.graphql: it checks the SDL against the SPEC independently.
 * Every purpose × every field (leaves and containers) of `subscriber(id: "sub-adult")` is checked:
 * released → exact fixture value; masked → exact masked value and listed in `extensions.masked`;
 * denied → null + FORBIDDEN / PURPOSE_NOT_ALLOWED at its path. A container none of whose fields is
 * released is expected denied itself, and its children are then covered by that denial.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../fixtures/subscribers.js';
import { at, errorAt, expectAllowed, expectDenied, startTestGateway, SUBGRAPH_MODES, type GqlResponse, type TestGateway } from '../harness.js';

const S = FIXTURES.adult;

// ---------------------------------------------------------------------------------------------
// Purposes and how to call them
// ---------------------------------------------------------------------------------------------

const PURPOSES = [
  'SERVICE_DELIVERY',
  'BILLING',
  'CUSTOMER_SUPPORT',
  'NETWORK_OPERATIONS',
  'FRAUD_PREVENTION',
  'EMERGENCY_SERVICES',
  'LAW_ENFORCEMENT',
  'DIRECTORY_SERVICES',
  'MARKETING',
  'MARKETING_SMS',
  'MARKETING_EMAIL',
  'ANALYTICS',
  'SUBJECT_ACCESS',
  'CONSENT_MANAGEMENT',
  'AUDIT',
] as const;
type Purpose = (typeof PURPOSES)[number];

/** Purposes that need X-Purpose-Ref. */
const REFS: Partial<Record<Purpose, string>> = { EMERGENCY_SERVICES: 'INC-1', LAW_ENFORCEMENT: 'LP-2026-1' };

const QUERY = /* GraphQL */ `{
  subscriber(id: "${S.id}") {
    id msisdn fullName email postalAddress dateOfBirth agencyId directoryListing
    devices { imei imsi iccid macAddress model manufacturer osVersion }
    lastKnownLocation { cellId latitude longitude accuracyMeters observedAt }
    callDetailRecords(first: 10) { nodes { id callingNumber calledNumber startedAt durationSeconds direction cellId } }
    billingAccount { balance currency paymentCard { brand last4 expiry } invoices { id period amount } }
    consents { purpose state source at }
  }
}`;

// ---------------------------------------------------------------------------------------------
// The expectation table, by hand from SPEC §3 (columns) and §4 (account metadata, id)
// ---------------------------------------------------------------------------------------------

type Mask = 'LAST4' | 'COARSE_LOCATION' | 'HASH';
type Cell = 'yes' | 'no' | Mask;

const IDENTITY = ['msisdn', 'fullName', 'email', 'postalAddress', 'dateOfBirth'] as const;
const DEVICE_IDS = ['imei', 'imsi', 'iccid', 'macAddress'] as const;
const DEVICE_INFO = ['model', 'manufacturer', 'osVersion'] as const;
const LOCATION = ['cellId', 'latitude', 'longitude', 'accuracyMeters', 'observedAt'] as const;
const CDR = ['id', 'callingNumber', 'calledNumber', 'startedAt', 'durationSeconds', 'direction', 'cellId'] as const;
const BILLING = ['balance', 'currency', 'paymentCard.brand', 'paymentCard.last4', 'paymentCard.expiry', 'invoices.id', 'invoices.period', 'invoices.amount'] as const;
const CONSENT = ['purpose', 'state', 'source', 'at'] as const;

/** 'all' = every field of the column released; 'none' = every field denied; a map: listed fields as given, the rest denied. */
type Group<F extends string> = 'all' | 'none' | Partial<Record<F, Cell>>;

/** One row of the SPEC table. Every column is required, so none can be forgotten. */
interface Row {
  id: Cell;
  identity: Group<(typeof IDENTITY)[number]>;
  /** agencyId, directoryListing (SPEC §4 "Account metadata"). */
  accountMetadata: Cell;
  deviceIds: Group<(typeof DEVICE_IDS)[number]>;
  deviceInfo: Group<(typeof DEVICE_INFO)[number]>;
  location: Group<(typeof LOCATION)[number]>;
  callDetailRecords: Group<(typeof CDR)[number]>;
  billing: Group<(typeof BILLING)[number]>;
  consents: Group<(typeof CONSENT)[number]>;
}

const MARKETING_ROW: Row = {
  id: 'yes',
  identity: { msisdn: 'yes', fullName: 'yes', email: 'yes' },
  accountMetadata: 'no',
  deviceIds: 'none',
  deviceInfo: 'none',
  location: { latitude: 'COARSE_LOCATION', longitude: 'COARSE_LOCATION' },
  callDetailRecords: { startedAt: 'yes', durationSeconds: 'yes', direction: 'yes' },
  billing: 'none',
  consents: 'none',
};

const TABLE: Record<Purpose, Row> = {
  SERVICE_DELIVERY: {
    id: 'yes',
    identity: 'all',
    accountMetadata: 'yes',
    deviceIds: 'none',
    deviceInfo: 'all',
    location: 'none',
    callDetailRecords: 'none',
    billing: 'none',
    consents: 'none',
  },
  BILLING: {
    id: 'yes',
    identity: { msisdn: 'yes', fullName: 'yes', email: 'yes', postalAddress: 'yes' },
    accountMetadata: 'yes',
    deviceIds: 'none',
    deviceInfo: 'none',
    location: 'none',
    callDetailRecords: 'all',
    billing: 'all',
    consents: 'none',
  },
  CUSTOMER_SUPPORT: {
    id: 'yes',
    identity: { msisdn: 'yes', fullName: 'yes', email: 'yes', postalAddress: 'yes' },
    accountMetadata: 'yes',
    deviceIds: { imei: 'LAST4', imsi: 'LAST4', iccid: 'LAST4' },
    deviceInfo: 'all',
    location: 'none',
    callDetailRecords: { id: 'yes', callingNumber: 'LAST4', calledNumber: 'LAST4', startedAt: 'yes', durationSeconds: 'yes', direction: 'yes', cellId: 'yes' },
    // "yes (card LAST4 only)": the card's last4 is released, its brand and expiry are not.
    billing: { balance: 'yes', currency: 'yes', 'paymentCard.last4': 'yes', 'invoices.id': 'yes', 'invoices.period': 'yes', 'invoices.amount': 'yes' },
    consents: 'all',
  },
  NETWORK_OPERATIONS: {
    id: 'yes',
    identity: { msisdn: 'yes' },
    accountMetadata: 'no',
    deviceIds: 'all',
    deviceInfo: 'all',
    location: { cellId: 'yes' },
    // SPEC: "duration/direction/cellId, no numbers" — and no record id.
    callDetailRecords: { durationSeconds: 'yes', direction: 'yes', cellId: 'yes' },
    billing: 'none',
    consents: 'none',
  },
  FRAUD_PREVENTION: {
    id: 'yes',
    identity: 'all',
    accountMetadata: 'yes',
    deviceIds: 'all',
    deviceInfo: 'all',
    location: { cellId: 'yes' },
    callDetailRecords: 'all',
    billing: 'all',
    consents: 'none',
  },
  EMERGENCY_SERVICES: {
    id: 'yes',
    identity: { msisdn: 'yes', fullName: 'yes', postalAddress: 'yes' },
    accountMetadata: 'no',
    deviceIds: 'none',
    deviceInfo: 'none',
    location: 'all',
    callDetailRecords: 'none',
    billing: 'none',
    consents: 'none',
  },
  LAW_ENFORCEMENT: {
    id: 'yes',
    identity: 'all',
    accountMetadata: 'yes',
    deviceIds: 'all',
    deviceInfo: 'all',
    location: 'all',
    callDetailRecords: 'all',
    billing: 'all',
    consents: 'none',
  },
  DIRECTORY_SERVICES: {
    id: 'yes',
    identity: { msisdn: 'yes', fullName: 'yes', postalAddress: 'yes' },
    accountMetadata: 'yes',
    deviceIds: 'none',
    deviceInfo: 'none',
    location: 'none',
    callDetailRecords: 'none',
    billing: 'none',
    consents: 'none',
  },
  MARKETING: MARKETING_ROW,
  MARKETING_SMS: MARKETING_ROW,
  MARKETING_EMAIL: MARKETING_ROW,
  ANALYTICS: {
    id: 'yes',
    identity: 'none',
    accountMetadata: 'no',
    deviceIds: { imei: 'HASH' },
    deviceInfo: 'all',
    location: { latitude: 'COARSE_LOCATION', longitude: 'COARSE_LOCATION' },
    callDetailRecords: { durationSeconds: 'yes', direction: 'yes' },
    billing: 'none',
    consents: 'none',
  },
  SUBJECT_ACCESS: {
    id: 'yes',
    identity: 'all',
    accountMetadata: 'yes',
    deviceIds: 'all',
    deviceInfo: 'all',
    location: 'all',
    callDetailRecords: 'all',
    billing: 'all',
    consents: 'all',
  },
  CONSENT_MANAGEMENT: {
    id: 'yes',
    identity: 'none',
    accountMetadata: 'no',
    deviceIds: 'none',
    deviceInfo: 'none',
    location: 'none',
    callDetailRecords: 'none',
    billing: 'none',
    consents: 'all',
  },
  AUDIT: {
    id: 'yes',
    identity: 'none',
    accountMetadata: 'no',
    deviceIds: 'none',
    deviceInfo: 'none',
    location: 'none',
    callDetailRecords: 'none',
    billing: 'none',
    consents: 'none',
  },
};

function expand<F extends string>(fields: readonly F[], group: Group<F>, coord: (f: F) => string, out: Record<string, Cell>): void {
  for (const f of fields) out[coord(f)] = group === 'all' ? 'yes' : group === 'none' ? 'no' : (group[f] ?? 'no');
}

const BILLING_COORD: Record<(typeof BILLING)[number], string> = {
  balance: 'BillingAccount.balance',
  currency: 'BillingAccount.currency',
  'paymentCard.brand': 'PaymentCard.brand',
  'paymentCard.last4': 'PaymentCard.last4',
  'paymentCard.expiry': 'PaymentCard.expiry',
  'invoices.id': 'Invoice.id',
  'invoices.period': 'Invoice.period',
  'invoices.amount': 'Invoice.amount',
};

/** A container is released when at least one of its (transitive) children is. */
const CONTAINER_CHILDREN: Record<string, string[]> = {
  'Subscriber.devices': [...DEVICE_IDS, ...DEVICE_INFO].map((f) => `Device.${f}`),
  'Subscriber.lastKnownLocation': LOCATION.map((f) => `Location.${f}`),
  'Subscriber.callDetailRecords': CDR.map((f) => `CallDetailRecord.${f}`),
  'BillingAccount.paymentCard': ['PaymentCard.brand', 'PaymentCard.last4', 'PaymentCard.expiry'],
  'BillingAccount.invoices': ['Invoice.id', 'Invoice.period', 'Invoice.amount'],
  'Subscriber.billingAccount': Object.values(BILLING_COORD),
  'Subscriber.consents': CONSENT.map((f) => `Consent.${f}`),
};

/** Every cell (coordinate → expectation) of one purpose. */
function expectationsFor(row: Row): Record<string, Cell> {
  const out: Record<string, Cell> = { 'Subscriber.id': row.id };
  expand(IDENTITY, row.identity, (f) => `Subscriber.${f}`, out);
  out['Subscriber.agencyId'] = row.accountMetadata;
  out['Subscriber.directoryListing'] = row.accountMetadata;
  expand(DEVICE_IDS, row.deviceIds, (f) => `Device.${f}`, out);
  expand(DEVICE_INFO, row.deviceInfo, (f) => `Device.${f}`, out);
  expand(LOCATION, row.location, (f) => `Location.${f}`, out);
  expand(CDR, row.callDetailRecords, (f) => `CallDetailRecord.${f}`, out);
  expand(BILLING, row.billing, (f) => BILLING_COORD[f], out);
  expand(CONSENT, row.consents, (f) => `Consent.${f}`, out);
  for (const [container, children] of Object.entries(CONTAINER_CHILDREN)) {
    out[container] = children.some((c) => out[c] !== 'no') ? 'yes' : 'no';
  }
  return out;
}

const EXPECT = Object.fromEntries(PURPOSES.map((p) => [p, expectationsFor(TABLE[p])])) as Record<Purpose, Record<string, Cell>>;

// ---------------------------------------------------------------------------------------------
// Where each field appears in the response, and its fixture value there
// ---------------------------------------------------------------------------------------------

type Path = ReadonlyArray<string | number>;
interface Instance {
  path: Path;
  /** The unmasked fixture value (leaves), or a function of the response for order-free lists. */
  raw?: unknown | ((res: GqlResponse) => unknown);
}
interface FieldDef {
  coord: string;
  /** The enclosing container's coordinate. */
  parent?: string;
  container?: { list?: { path: Path; length: number } };
  instances: Instance[];
}

const iso = (x: string) => new Date(x).toISOString();
const sub = (...p: Array<string | number>): Path => ['subscriber', ...p];

/** Current consent state per purpose, from the fixture's events (last event wins). */
const EXPECTED_CONSENTS = (() => {
  const m = new Map<string, { purpose: string; state: string; source: string; at: string }>();
  for (const e of S.consents) m.set(e.purpose, { purpose: e.purpose, state: e.action === 'GRANT' ? 'GRANTED' : 'WITHDRAWN', source: 'fixture', at: iso(e.at) });
  return [...m.values()].sort((a, b) => a.purpose.localeCompare(b.purpose));
})();
/** Invoices are ordered by period, newest first. */
const INVOICES = [...S.invoices].sort((a, b) => b.period.localeCompare(a.period));

const FIELDS: FieldDef[] = [];
const scalars: Array<[string, unknown]> = [
  ['id', S.id],
  ['msisdn', S.msisdn],
  ['fullName', S.fullName],
  ['email', S.email],
  ['postalAddress', S.postalAddress],
  ['dateOfBirth', S.dateOfBirth],
  ['agencyId', S.agencyId],
  ['directoryListing', S.directoryListing],
];
for (const [f, v] of scalars) FIELDS.push({ coord: `Subscriber.${f}`, instances: [{ path: sub(f), raw: v }] });

FIELDS.push({ coord: 'Subscriber.devices', container: { list: { path: sub('devices'), length: 1 } }, instances: [{ path: sub('devices') }] });
for (const f of [...DEVICE_IDS, ...DEVICE_INFO]) {
  FIELDS.push({ coord: `Device.${f}`, parent: 'Subscriber.devices', instances: [{ path: sub('devices', 0, f), raw: S.device[f] }] });
}

FIELDS.push({ coord: 'Subscriber.lastKnownLocation', container: {}, instances: [{ path: sub('lastKnownLocation') }] });
for (const f of LOCATION) {
  const raw = f === 'observedAt' ? iso(S.location.observedAt) : S.location[f];
  FIELDS.push({ coord: `Location.${f}`, parent: 'Subscriber.lastKnownLocation', instances: [{ path: sub('lastKnownLocation', f), raw }] });
}

FIELDS.push({
  coord: 'Subscriber.callDetailRecords',
  container: { list: { path: sub('callDetailRecords', 'nodes'), length: S.cdrs.length } },
  instances: [{ path: sub('callDetailRecords') }],
});
for (const f of CDR) {
  FIELDS.push({
    coord: `CallDetailRecord.${f}`,
    parent: 'Subscriber.callDetailRecords',
    // Newest first: FIXTURES.adult.cdrs[0] is the newest.
    instances: S.cdrs.map((c, i) => ({ path: sub('callDetailRecords', 'nodes', i, f), raw: f === 'startedAt' ? iso(c.startedAt) : c[f] })),
  });
}

FIELDS.push({ coord: 'Subscriber.billingAccount', container: {}, instances: [{ path: sub('billingAccount') }] });
FIELDS.push({ coord: 'BillingAccount.balance', parent: 'Subscriber.billingAccount', instances: [{ path: sub('billingAccount', 'balance'), raw: S.billing.balance }] });
FIELDS.push({ coord: 'BillingAccount.currency', parent: 'Subscriber.billingAccount', instances: [{ path: sub('billingAccount', 'currency'), raw: S.billing.currency }] });
FIELDS.push({ coord: 'BillingAccount.paymentCard', parent: 'Subscriber.billingAccount', container: {}, instances: [{ path: sub('billingAccount', 'paymentCard') }] });
for (const f of ['brand', 'last4', 'expiry'] as const) {
  FIELDS.push({ coord: `PaymentCard.${f}`, parent: 'BillingAccount.paymentCard', instances: [{ path: sub('billingAccount', 'paymentCard', f), raw: S.billing[f] }] });
}
FIELDS.push({
  coord: 'BillingAccount.invoices',
  parent: 'Subscriber.billingAccount',
  container: { list: { path: sub('billingAccount', 'invoices'), length: INVOICES.length } },
  instances: [{ path: sub('billingAccount', 'invoices') }],
});
for (const f of ['id', 'period', 'amount'] as const) {
  FIELDS.push({ coord: `Invoice.${f}`, parent: 'BillingAccount.invoices', instances: INVOICES.map((inv, i) => ({ path: sub('billingAccount', 'invoices', i, f), raw: inv[f] })) });
}

FIELDS.push({
  coord: 'Subscriber.consents',
  container: { list: { path: sub('consents'), length: EXPECTED_CONSENTS.length } },
  instances: [{ path: sub('consents') }],
});
for (const f of CONSENT) {
  FIELDS.push({
    coord: `Consent.${f}`,
    parent: 'Subscriber.consents',
    // The SPEC fixes no order for consents: match each returned entry by its purpose (the set of
    // purposes is checked on the container), falling back to purpose order.
    instances: EXPECTED_CONSENTS.map((_, i) => ({
      path: sub('consents', i, f),
      raw: (res: GqlResponse) => {
        const p = at(res.body.data, sub('consents', i, 'purpose'));
        return (EXPECTED_CONSENTS.find((c) => c.purpose === p) ?? EXPECTED_CONSENTS[i])[f];
      },
    })),
  });
}

// ---------------------------------------------------------------------------------------------
// Masks, as SPEC §3 describes them
// ---------------------------------------------------------------------------------------------

function masked(mask: Exclude<Mask, 'HASH'>, raw: unknown): unknown {
  if (mask === 'LAST4') {
    const s = String(raw);
    return '*'.repeat(Math.max(0, s.length - 4)) + s.slice(-4);
  }
  return Math.round(Number(raw) * 100) / 100; // COARSE_LOCATION: 2 decimals (≈1 km)
}

// ---------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------

const FIELD_COUNT = 46; // 8 Subscriber scalars, devices+7, location+6, CDRs+7, billing+10, consents+4
const TOTAL_CELLS = 15 * FIELD_COUNT; // 690

/** purpose → coordinates whose cell was evaluated (directly, or covered by a denied container). */
const covered = new Map<Purpose, Set<string>>();
/** Number of individual (purpose, coordinate) cells asserted directly on the response. */
let directCells = 0;

async function request(gw: TestGateway, purpose: Purpose): Promise<GqlResponse> {
  const token = purpose === 'SUBJECT_ACCESS' ? await gw.mint({ sub: S.id, kind: 'subscriber', purposes: ['SUBJECT_ACCESS'] }) : undefined;
  return gw.gql(QUERY, { purpose, token, ref: REFS[purpose] });
}

function attempt(failures: string[], label: string, fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    failures.push(`${label}: ${(e as Error).message.split('\n')[0]}`);
    return false;
  }
}

async function checkPurpose(gw: TestGateway, purpose: Purpose): Promise<string[]> {
  const cells = EXPECT[purpose];
  const failures: string[] = [];
  const seen = new Set<string>();
  covered.set(purpose, seen);

  const res = await request(gw, purpose);
  expect(res.status, `${purpose}: HTTP status, body ${JSON.stringify(res.body).slice(0, 500)}`).toBe(200);
  expect(at(res.body.data, ['subscriber']), `${purpose}: subscriber must be returned`).not.toBeNull();
  const hasHash = Object.values(cells).includes('HASH');
  const second = hasHash ? await request(gw, purpose) : undefined;

  const expectedDenied = new Set<string>();
  const expectedMasked = new Set<string>();
  /** Containers whose children are not checked: expected denied, or unexpectedly null. */
  const closed = new Set<string>();
  const actualMasked: unknown[] = Array.isArray(res.body.extensions?.masked) ? res.body.extensions!.masked : [];
  const maskedSet = new Set(actualMasked.map((p) => JSON.stringify(p)));

  for (const field of FIELDS) {
    const cell = cells[field.coord];
    let ancestor = field.parent;
    let isClosed = false;
    while (ancestor) {
      if (closed.has(ancestor)) isClosed = true;
      ancestor = FIELDS.find((f) => f.coord === ancestor)!.parent;
    }
    seen.add(field.coord);
    if (isClosed) continue; // covered by the container's denial (or its failure, already reported)
    directCells++;

    for (const inst of field.instances) {
      const label = `${purpose} ${field.coord} [${cell}] at ${inst.path.join('.')}`;
      const raw = typeof inst.raw === 'function' ? (inst.raw as (r: GqlResponse) => unknown)(res) : inst.raw;

      if (cell === 'no') {
        expectedDenied.add(JSON.stringify(inst.path));
        attempt(failures, label, () => expectDenied(res, inst.path, 'PURPOSE_NOT_ALLOWED'));
        if (field.container && at(res.body.data, inst.path) === null) closed.add(field.coord);
        continue;
      }

      if (field.container) {
        const ok = attempt(failures, label, () => {
          expect(errorAt(res, inst.path), `no error at ${inst.path.join('.')}: ${JSON.stringify(errorAt(res, inst.path))}`).toBeUndefined();
          expect(at(res.body.data, inst.path), `container released`).not.toBeNull();
          expect(at(res.body.data, inst.path), `container released`).toBeDefined();
          const list = field.container!.list;
          if (list) {
            const v = at(res.body.data, list.path);
            expect(Array.isArray(v), `${list.path.join('.')} is a list`).toBe(true);
            expect((v as unknown[]).length, `${list.path.join('.')} length`).toBe(list.length);
          }
          if (field.coord === 'Subscriber.consents' && cells['Consent.purpose'] !== 'no') {
            const got = (at(res.body.data, inst.path) as Array<{ purpose: unknown }>).map((c) => c.purpose).sort();
            expect(got, 'consent purposes').toEqual(EXPECTED_CONSENTS.map((c) => c.purpose));
          }
        });
        if (!ok && (at(res.body.data, inst.path) ?? null) === null) closed.add(field.coord);
        continue;
      }

      if (cell === 'yes') {
        attempt(failures, label, () => {
          expectAllowed(res, inst.path, raw);
          expect(maskedSet.has(JSON.stringify(inst.path)), 'an unmasked value must not be listed in extensions.masked').toBe(false);
        });
      } else if (cell === 'HASH') {
        expectedMasked.add(JSON.stringify(inst.path));
        attempt(failures, label, () => {
          expect(errorAt(res, inst.path), `no error at ${inst.path.join('.')}`).toBeUndefined();
          const v = at(res.body.data, inst.path);
          expect(v, 'HASH is 32 lowercase hex').toMatch(/^[0-9a-f]{32}$/);
          expect(v, 'HASH differs from the raw value').not.toBe(String(raw));
          expect(at(second!.body.data, inst.path), 'HASH is stable across requests').toBe(v);
          expect(maskedSet.has(JSON.stringify(inst.path)), 'listed in extensions.masked').toBe(true);
        });
      } else {
        expectedMasked.add(JSON.stringify(inst.path));
        const want = masked(cell, raw);
        attempt(failures, label, () => {
          expect(want, 'the mask changes the value').not.toEqual(raw);
          expectAllowed(res, inst.path, want);
          expect(maskedSet.has(JSON.stringify(inst.path)), 'listed in extensions.masked').toBe(true);
        });
      }
    }
  }

  // extensions.masked lists exactly the masked leaves.
  attempt(failures, `${purpose} extensions.masked`, () =>
    expect([...maskedSet].sort(), 'extensions.masked = exactly the masked leaf paths').toEqual([...expectedMasked].sort()),
  );
  // No error anywhere but at the expected denials.
  for (const e of res.body.errors ?? []) {
    const key = JSON.stringify(e.path ?? null);
    if (!expectedDenied.has(key)) failures.push(`${purpose} unexpected error at ${(e.path ?? []).join('.')}: ${e.extensions?.code}/${e.extensions?.reason} ${e.message}`);
  }
  return failures;
}

// The same table with the subgraphs in the gateway's process, served over HTTP (context tokens,
// decisions reported back), and, on PostgreSQL, as `purposegate subgraph` processes.
describe.each(SUBGRAPH_MODES)('SPEC §3 reference policy, every purpose × every field (sub-adult over HTTP; subgraphs %s)', (mode) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ subgraphs: mode });
  });
  afterAll(() => gw?.close());

  it.each(PURPOSES)('%s releases, masks and denies exactly per the SPEC table', async (purpose) => {
    const failures = await checkPurpose(gw, purpose);
    expect(failures, `${purpose}: ${failures.length} cell mismatch(es):\n${failures.join('\n')}`).toEqual([]);
  });

  it('records every decision of the request in the gateway\'s audit log', async () => {
    const res = await gw.gql(QUERY, { purpose: 'CUSTOMER_SUPPORT' });
    const recordId = res.body.extensions?.audit?.recordId;
    const { rows } = await gw.db.query<{ body: string }>('SELECT body FROM audit_records WHERE record_id = $1', [recordId]);
    const decisions = (JSON.parse(rows[0].body) as { decisions: Array<{ coordinate: string; effect: string; strategy?: string }> }).decisions;
    const coords = new Set(decisions.map((d) => d.coordinate));
    // Decided in five different subgraphs: the subscribers, devices, usage, billing and consent ones.
    for (const c of ['Subscriber.fullName', 'Device.imei', 'CallDetailRecord.callingNumber', 'PaymentCard.last4', 'Consent.state', 'Subscriber.lastKnownLocation']) expect(coords, c).toContain(c);
    expect(decisions.find((d) => d.coordinate === 'Device.imei')).toMatchObject({ effect: 'MASK', strategy: 'LAST4' });
  });
});

describe('SPEC §3 reference policy table', () => {
  it(`checks every cell: 15 purposes × ${FIELD_COUNT} fields = ${TOTAL_CELLS}`, () => {
    expect(PURPOSES.length).toBe(15);
    expect(new Set(FIELDS.map((f) => f.coord)).size).toBe(FIELD_COUNT);
    expect(FIELDS.length).toBe(FIELD_COUNT);
    for (const p of PURPOSES) {
      expect(Object.keys(EXPECT[p]).sort(), `${p}: an expectation for every field`).toEqual(FIELDS.map((f) => f.coord).sort());
    }
    const total = PURPOSES.reduce((n, p) => n + (covered.get(p)?.size ?? 0), 0);
    for (const p of PURPOSES) expect(covered.get(p)?.size ?? 0, `${p}: cells evaluated`).toBe(FIELD_COUNT);
    expect(total, `cells evaluated (${directCells} asserted directly, the rest covered by a denied container)`).toBe(TOTAL_CELLS);
  });
});
