/**
 * The gateway locates field denials in the response itself (src/gateway/locateDenials.ts) instead
 * of handing each one to Apollo Gateway. Oracle: the same gateway with `denialPaths: 'apollo'`,
 * where Apollo Gateway locates every denial as it locates any subgraph error. Both run on the same
 * store and must answer every operation below with the same status, data, masked paths and
 * errors (as a set: the order of a response's errors carries no meaning).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoData } from '../../src/db/seedDemoData.js';
import { FIXTURES } from '../fixtures/subscribers.js';
import { startTestGateway, SUBGRAPH_MODES, type GqlResponse, type TestGateway } from '../harness.js';

const A = FIXTURES.adult;
/** One mask key for both gateways, so HASH masks agree. */
const MASK_KEY = 'm'.repeat(32);

/** Operations with denials from root fetches and from entity fetches, nested lists, aliases and fragments. */
const CASES: Array<{ name: string; purpose: string; kind?: 'internal' | 'partner'; query: string; variables?: Record<string, unknown> }> = [
  {
    name: 'a 60-row page across four subgraphs (MARKETING)',
    purpose: 'MARKETING',
    query: `{ subscribers(first: 60) { nodes { id msisdn fullName email lastKnownLocation { latitude longitude }
      callDetailRecords(first: 2) { nodes { startedAt durationSeconds direction } } } } }`,
  },
  {
    name: 'one full profile (ANALYTICS)',
    purpose: 'ANALYTICS',
    query: `{ subscriber(id: "${A.id}") { id msisdn fullName email postalAddress agencyId directoryListing
      devices { imei imsi iccid model manufacturer osVersion }
      callDetailRecords(first: 5) { nodes { id callingNumber calledNumber startedAt durationSeconds direction cellId } }
      billingAccount { balance currency paymentCard { last4 } invoices { id period amount } }
      lastKnownLocation { cellId latitude longitude } } }`,
  },
  {
    name: 'aliases, fragments and two lists of the same type (MARKETING)',
    purpose: 'MARKETING',
    query: `query Q($n: Int!) { a: subscribers(first: $n) { nodes { ...F } } b: subscribers(first: 7) { nodes { x: id ...F } }
      c: subscriber(id: "${A.id}") { ...F devices { ... on Device { i: imei model } } } }
      fragment F on Subscriber { e: email fullName lastKnownLocation { lat: latitude lng: longitude } billingAccount { paymentCard { last4 } } }`,
    variables: { n: 25 },
  },
  {
    name: 'a partner: other agencies out of scope (CUSTOMER_SUPPORT)',
    purpose: 'CUSTOMER_SUPPORT',
    kind: 'partner',
    query: `{ subscribers(first: 30) { nodes { id fullName devices { imei } lastKnownLocation { cellId } } }
      other: subscriber(id: "${FIXTURES.south.id}") { fullName email } }`,
  },
  {
    name: 'call detail pages and billing under a purpose that denies some of them (ANALYTICS)',
    purpose: 'ANALYTICS',
    query: `{ subscribers(first: 20) { nodes { callDetailRecords(first: 3) { nodes { callingNumber calledNumber cellId } }
      billingAccount { balance paymentCard { last4 } invoices { amount } } } } }`,
  },
  {
    name: 'a mutation denied at its non-null root field (MARKETING)',
    purpose: 'MARKETING',
    query: `mutation { grantConsent(subscriberId: "${FIXTURES.none.id}", purpose: ANALYTICS) { purpose state } }`,
  },
  {
    name: 'a partner\u2019s mutation for another agency (CONSENT_MANAGEMENT)',
    purpose: 'CONSENT_MANAGEMENT',
    kind: 'partner',
    query: `mutation { withdrawConsent(subscriberId: "${FIXTURES.south.id}", purpose: MARKETING) { purpose state } }`,
  },
];

type Body = GqlResponse['body'];
const sortedErrors = (b: Body) => (b.errors ?? []).map((e) => JSON.stringify(e)).sort();

describe.each(SUBGRAPH_MODES.filter((m) => m !== 'processes'))('field denials located by the gateway (%s subgraphs)', (mode) => {
  let ours: TestGateway;
  let apollo: TestGateway;

  beforeAll(async () => {
    ours = await startTestGateway({ subgraphs: mode, env: { MASK_KEY: MASK_KEY } });
    await seedDemoData(ours.db, { subscribers: 60, seed: 7, now: new Date() });
    apollo = await startTestGateway({ subgraphs: mode, env: { MASK_KEY: MASK_KEY }, db: ours.db, fixtures: false, denialPaths: 'apollo' });
  });
  afterAll(async () => {
    await apollo?.close();
    await ours?.close();
  });

  it.each(CASES)('$name: same response as when Apollo Gateway locates them', async ({ purpose, kind, query, variables }) => {
    const claims = { kind: kind ?? 'internal', purposes: [purpose], ...(kind === 'partner' ? { agency: 'agency-north' } : {}) } as const;
    const [a, b] = await Promise.all([
      ours.gql(query, { purpose, variables, token: await ours.mint(claims) }),
      apollo.gql(query, { purpose, variables, token: await apollo.mint(claims) }),
    ]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    const denials = (a.body.errors ?? []).filter((e) => e.extensions?.code === 'FORBIDDEN');
    expect(denials.length).toBeGreaterThan(0);
    // The whole response but the audit record's id: data, errors (as a set), every extension.
    const { audit: auditA, ...extA } = a.body.extensions ?? {};
    const { audit: auditB, ...extB } = b.body.extensions ?? {};
    expect(auditA.recordId).not.toEqual(auditB.recordId);
    expect(Object.keys(a.body).sort()).toEqual(Object.keys(b.body).sort());
    expect(a.body.data).toEqual(b.body.data);
    expect(sortedErrors(a.body)).toEqual(sortedErrors(b.body));
    expect(extA).toEqual(extB);
    // The gateway located them: they lead the errors (Apollo Gateway orders by fetch), and every
    // denial sits where its field is null (or below a null).
    expect(a.body.errors!.slice(0, denials.length)).toEqual(denials);
    for (const e of denials) {
      let v: unknown = a.body.data;
      for (const k of e.path!) {
        if (v === null) break;
        v = (v as Record<string | number, unknown>)[k];
      }
      expect(v, JSON.stringify(e.path)).toBeNull();
    }
  });

  it('locates denials of entity fetches under list items (a path through _entities)', async () => {
    const res = await ours.gql(`{ subscribers(first: 60) { nodes { lastKnownLocation { latitude } } } }`, { purpose: 'MARKETING' });
    const paths = (res.body.errors ?? []).filter((e) => e.extensions?.code === 'FORBIDDEN').map((e) => e.path);
    expect(paths.length).toBeGreaterThan(0);
    // The location (consent) or its latitude (purpose) is denied, at the row it belongs to.
    for (const p of paths) expect(p!.slice(0, 4)).toEqual(['subscribers', 'nodes', expect.any(Number), 'lastKnownLocation']);
    expect(new Set(paths.map((p) => p![2])).size).toBe(paths.length);
  });
});
