import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/index.js';
import { recordConsent } from '../../src/consent/index.js';
import { FIXTURES } from '../fixtures/subscribers.js';
import { expectAllowed, expectDenied, openTestDb, startTestGateway, type TestGateway } from '../harness.js';

const profile = (id: string) => /* GraphQL */ `{ subscriber(id: "${id}") { id msisdn fullName lastKnownLocation { latitude } } }`;

/** Wraps a store so a test can count consent queries, or make them fail. */
function instrument(db: Db) {
  const state = { consentQueries: 0, failConsent: false };
  const wrapped: Db = {
    ...db,
    kind: db.kind,
    query: (async (sql: string, params?: readonly unknown[]) => {
      if (sql.includes('FROM consent_events ce')) {
        state.consentQueries++;
        if (state.failConsent) throw new Error('connection reset');
      }
      return db.query(sql, params);
    }) as Db['query'],
    exec: (sql) => db.exec(sql),
    transaction: (fn) => db.transaction(fn),
    close: () => db.close(),
  };
  return { db: wrapped, state };
}

describe('consent, end to end', () => {
  let gw: TestGateway;
  let base: Awaited<ReturnType<typeof openTestDb>>;
  let state: ReturnType<typeof instrument>['state'];

  beforeAll(async () => {
    base = await openTestDb();
    const inst = instrument(base);
    state = inst.state;
    gw = await startTestGateway({ db: inst.db });
  });
  afterAll(async () => {
    await gw.close();
    await base.drop();
  });

  it('OPT_IN: no consent → CONSENT_REQUIRED; grant → the next request is allowed; withdraw → the next is CONSENT_WITHDRAWN', async () => {
    const id = FIXTURES.none.id;
    expectDenied(await gw.gql(profile(id), { purpose: 'MARKETING' }), ['subscriber', 'fullName'], 'CONSENT_REQUIRED');

    const cm = await gw.mint({ kind: 'internal', purposes: ['CONSENT_MANAGEMENT'] });
    const grant = await gw.gql(`mutation { grantConsent(subscriberId: "${id}", purpose: MARKETING, source: "web") { purpose state source at } }`, {
      token: cm,
      purpose: 'CONSENT_MANAGEMENT',
    });
    expect(grant.body.errors).toBeUndefined();
    expect(grant.body.data!.grantConsent).toMatchObject({ purpose: 'MARKETING', state: 'GRANTED', source: 'web' });

    const allowed = await gw.gql(profile(id), { purpose: 'MARKETING' });
    expectAllowed(allowed, ['subscriber', 'fullName'], FIXTURES.none.fullName);
    expectAllowed(allowed, ['subscriber', 'lastKnownLocation', 'latitude'], Math.round(FIXTURES.none.location.latitude * 100) / 100);

    await gw.gql(`mutation { withdrawConsent(subscriberId: "${id}", purpose: MARKETING) { state } }`, { token: cm, purpose: 'CONSENT_MANAGEMENT' });
    const denied = await gw.gql(profile(id), { purpose: 'MARKETING' });
    expectDenied(denied, ['subscriber', 'fullName'], 'CONSENT_WITHDRAWN');
    expectDenied(denied, ['subscriber', 'msisdn'], 'CONSENT_WITHDRAWN');
    expectDenied(denied, ['subscriber', 'lastKnownLocation'], 'CONSENT_WITHDRAWN');
  });

  it('a withdrawal written straight to the store is enforced on the very next request (no cache across requests)', async () => {
    const id = FIXTURES.east.id;
    expectAllowed(await gw.gql(profile(id), { purpose: 'MARKETING' }), ['subscriber', 'fullName'], FIXTURES.east.fullName);
    await recordConsent(base, { subscriberId: id, purpose: 'MARKETING', action: 'WITHDRAW', source: 'call-centre' });
    expectDenied(await gw.gql(profile(id), { purpose: 'MARKETING' }), ['subscriber', 'fullName'], 'CONSENT_WITHDRAWN');
  });

  it('OPT_OUT: allowed with no event, denied once withdrawn', async () => {
    const q = `{ subscriber(id: "${FIXTURES.adult.id}") { fullName postalAddress } }`;
    expectAllowed(await gw.gql(q, { purpose: 'DIRECTORY_SERVICES' }), ['subscriber', 'fullName'], FIXTURES.adult.fullName);
    await recordConsent(base, { subscriberId: FIXTURES.adult.id, purpose: 'DIRECTORY_SERVICES', action: 'WITHDRAW', source: 'web' });
    expectDenied(await gw.gql(q, { purpose: 'DIRECTORY_SERVICES' }), ['subscriber', 'fullName'], 'CONSENT_WITHDRAWN');
    await recordConsent(base, { subscriberId: FIXTURES.adult.id, purpose: 'DIRECTORY_SERVICES', action: 'GRANT', source: 'web' });
    expectAllowed(await gw.gql(q, { purpose: 'DIRECTORY_SERVICES' }), ['subscriber', 'fullName'], FIXTURES.adult.fullName);
  });

  it('unlisted numbers are hidden from the directory (standing withdrawal)', async () => {
    const res = await gw.gql(`{ subscriber(id: "${FIXTURES.unlisted.id}") { msisdn fullName } }`, { purpose: 'DIRECTORY_SERVICES' });
    expectDenied(res, ['subscriber', 'msisdn'], 'CONSENT_WITHDRAWN');
    expectDenied(res, ['subscriber', 'fullName'], 'CONSENT_WITHDRAWN');
    const consents = await gw.gql(`{ subscriber(id: "${FIXTURES.unlisted.id}") { consents { purpose state source } } }`, { purpose: 'CUSTOMER_SUPPORT' });
    expect(consents.body.data!.subscriber.consents).toContainEqual({ purpose: 'DIRECTORY_SERVICES', state: 'WITHDRAWN', source: 'directory-listing' });
  });

  it('an unlisted number shows one DIRECTORY_SERVICES state, the standing withdrawal, even after a GRANT event', async () => {
    await recordConsent(base, { subscriberId: FIXTURES.unlisted.id, purpose: 'DIRECTORY_SERVICES', action: 'GRANT', source: 'web' });
    expectDenied(await gw.gql(`{ subscriber(id: "${FIXTURES.unlisted.id}") { fullName } }`, { purpose: 'DIRECTORY_SERVICES' }), ['subscriber', 'fullName'], 'CONSENT_WITHDRAWN');
    const res = await gw.gql(`{ subscriber(id: "${FIXTURES.unlisted.id}") { consents { purpose state source } } }`, { purpose: 'CUSTOMER_SUPPORT' });
    const directory = (res.body.data!.subscriber.consents as Array<{ purpose: string }>).filter((c) => c.purpose === 'DIRECTORY_SERVICES');
    expect(directory).toEqual([{ purpose: 'DIRECTORY_SERVICES', state: 'WITHDRAWN', source: 'directory-listing' }]);
  });

  it.each(['MARKETING', 'ANALYTICS'])('minors are denied %s even with consent', async (purpose) => {
    const res = await gw.gql(`{ subscriber(id: "${FIXTURES.minor.id}") { lastKnownLocation { latitude } devices { model } } }`, { purpose });
    expectDenied(res, ['subscriber', 'lastKnownLocation'], 'MINOR');
    // And the same purpose for an adult with consent is allowed: the denial is about age.
    const adult = await gw.gql(`{ subscriber(id: "${FIXTURES.adult.id}") { lastKnownLocation { latitude } } }`, { purpose });
    expect(adult.body.data!.subscriber.lastKnownLocation.latitude).toBe(Math.round(FIXTURES.adult.location.latitude * 100) / 100);
  });

  it('a child purpose withdrawn while the parent is granted is denied; its sibling is covered by the parent', async () => {
    const q = `{ subscriber(id: "${FIXTURES.south.id}") { fullName } }`;
    expectDenied(await gw.gql(q, { purpose: 'MARKETING_SMS' }), ['subscriber', 'fullName'], 'CONSENT_WITHDRAWN');
    expectAllowed(await gw.gql(q, { purpose: 'MARKETING_EMAIL' }), ['subscriber', 'fullName'], FIXTURES.south.fullName);
    expectAllowed(await gw.gql(q, { purpose: 'MARKETING' }), ['subscriber', 'fullName'], FIXTURES.south.fullName);
  });

  it('one consent query per request for the in-process subgraphs, however many subscribers and fields', async () => {
    const q = /* GraphQL */ `{ subscribers(first: 50) { nodes { id msisdn fullName email
        devices { model osVersion } lastKnownLocation { latitude longitude }
        callDetailRecords(first: 5) { nodes { startedAt durationSeconds direction } } } } }`;
    state.consentQueries = 0;
    const res = await gw.gql(q, { purpose: 'MARKETING' });
    expect(res.status).toBe(200);
    expect(res.body.data!.subscribers.nodes.length).toBe(Object.keys(FIXTURES).length);
    // subscribers, devices, location, usage: four subgraphs touched; in-process they share the
    // request's loader, so one query in all (the SPEC's bound is one per subgraph).
    expect(state.consentQueries).toBe(1);
    state.consentQueries = 0;
    await gw.gql(`{ subscriber(id: "${FIXTURES.adult.id}") { devices { model } consents { purpose } billingAccount { balance } } }`, { purpose: 'CUSTOMER_SUPPORT' });
    expect(state.consentQueries).toBe(1);
  });

  it('a consent store that cannot answer denies with CONSENT_UNAVAILABLE, never allows', async () => {
    state.failConsent = true;
    try {
      const res = await gw.gql(profile(FIXTURES.adult.id), { purpose: 'MARKETING' });
      expectDenied(res, ['subscriber'], 'CONSENT_UNAVAILABLE');
      const partner = await gw.mint({ kind: 'partner', agency: 'agency-north', purposes: ['BILLING'] });
      const scoped = await gw.gql(`{ subscribers { nodes { fullName } } }`, { token: partner, purpose: 'BILLING' });
      expect(scoped.body.data!.subscribers.nodes.length).toBeGreaterThan(0);
      for (const [i] of scoped.body.data!.subscribers.nodes.entries()) expectDenied(scoped, ['subscribers', 'nodes', i, 'fullName'], 'CONSENT_UNAVAILABLE');
    } finally {
      state.failConsent = false;
    }
  });

  it('consent mutations need CONSENT_MANAGEMENT, or SUBJECT_ACCESS for one\u2019s own record', async () => {
    const m = (id: string) => `mutation { grantConsent(subscriberId: "${id}", purpose: ANALYTICS) { purpose state } }`;
    expectDenied(await gw.gql(m(FIXTURES.none.id), { purpose: 'MARKETING' }), ['grantConsent'], 'PURPOSE_NOT_ALLOWED');
    const self = await gw.mint({ sub: FIXTURES.none.id, kind: 'subscriber', purposes: ['SUBJECT_ACCESS'] });
    const own = await gw.gql(m(FIXTURES.none.id), { token: self, purpose: 'SUBJECT_ACCESS' });
    expect(own.body.data!.grantConsent).toEqual({ purpose: 'ANALYTICS', state: 'GRANTED' });
    expectDenied(await gw.gql(m(FIXTURES.adult.id), { token: self, purpose: 'SUBJECT_ACCESS' }), ['grantConsent'], 'OUT_OF_SCOPE');
    const partner = await gw.mint({ kind: 'partner', agency: 'agency-south', purposes: ['CONSENT_MANAGEMENT'] });
    expectDenied(await gw.gql(m(FIXTURES.none.id), { token: partner, purpose: 'CONSENT_MANAGEMENT' }), ['grantConsent'], 'OUT_OF_SCOPE');
    const unknown = await gw.gql(m('sub-nobody'), { purpose: 'CONSENT_MANAGEMENT' });
    expect(unknown.body.data).toBeNull();
  });

  it.each([
    { field: 'withdrawConsent', purpose: 'LAW_ENFORCEMENT', basis: 'LEGAL_OBLIGATION', as: 'CONSENT_MANAGEMENT' },
    { field: 'grantConsent', purpose: 'LAW_ENFORCEMENT', basis: 'LEGAL_OBLIGATION', as: 'CONSENT_MANAGEMENT' },
    { field: 'withdrawConsent', purpose: 'FRAUD_PREVENTION', basis: 'LEGITIMATE_INTEREST', as: 'CONSENT_MANAGEMENT' },
    { field: 'withdrawConsent', purpose: 'SERVICE_DELIVERY', basis: 'CONTRACT', as: 'CONSENT_MANAGEMENT' },
    { field: 'withdrawConsent', purpose: 'EMERGENCY_SERVICES', basis: 'VITAL_INTEREST', as: 'CONSENT_MANAGEMENT' },
    { field: 'withdrawConsent', purpose: 'LAW_ENFORCEMENT', basis: 'LEGAL_OBLIGATION', as: 'SUBJECT_ACCESS' },
    { field: 'grantConsent', purpose: 'AUDIT', basis: 'LEGAL_OBLIGATION', as: 'SUBJECT_ACCESS' },
  ])('$field(purpose: $purpose) under $as → BAD_USER_INPUT naming the purpose and its basis; no event written', async ({ field, purpose, basis, as }) => {
    const id = FIXTURES.adult.id;
    const token = as === 'SUBJECT_ACCESS' ? await gw.mint({ sub: id, kind: 'subscriber', purposes: ['SUBJECT_ACCESS'] }) : undefined;
    const before = await base.query<{ n: number }>('SELECT count(*)::int AS n FROM consent_events WHERE subscriber_id = $1', [id]);
    const res = await gw.gql(`mutation { ${field}(subscriberId: "${id}", purpose: ${purpose}, source: "app") { purpose state } }`, { token, purpose: as });
    expect(res.status).toBe(200);
    expect(res.body.data).toBeNull();
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors![0]).toMatchObject({
      message: `Purpose "${purpose}" does not rest on consent (its basis is ${basis}): there is no consent to grant or withdraw.`,
      path: [field],
      extensions: { code: 'BAD_USER_INPUT' },
    });
    expect(res.body.extensions!.audit.recordId).toEqual(expect.any(String));
    const after = await base.query<{ n: number }>('SELECT count(*)::int AS n FROM consent_events WHERE subscriber_id = $1', [id]);
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
    const listed = await gw.gql(`{ subscriber(id: "${id}") { consents { purpose } } }`, { purpose: 'CONSENT_MANAGEMENT' });
    expect(listed.body.data!.subscriber.consents.map((c: { purpose: string }) => c.purpose)).not.toContain(purpose);
  });

  it.each(['MARKETING_SMS', 'DIRECTORY_SERVICES', 'ANALYTICS'])('%s rests on consent: it can be withdrawn and granted', async (purpose) => {
    for (const field of ['withdrawConsent', 'grantConsent']) {
      const res = await gw.gql(`mutation { ${field}(subscriberId: "${FIXTURES.adult.id}", purpose: ${purpose}) { purpose state } }`, { purpose: 'CONSENT_MANAGEMENT' });
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data![field]).toEqual({ purpose, state: field === 'grantConsent' ? 'GRANTED' : 'WITHDRAWN' });
    }
  });
});

describe('consent mutations with the consent subgraph over HTTP', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ subgraphs: 'http' });
  });
  afterAll(async () => {
    await gw.close();
  });

  it('a purpose that does not rest on consent is refused with BAD_USER_INPUT through both error sanitisers', async () => {
    const res = await gw.gql(`mutation { withdrawConsent(subscriberId: "${FIXTURES.adult.id}", purpose: LAW_ENFORCEMENT) { purpose state } }`, { purpose: 'CONSENT_MANAGEMENT' });
    expect(res.body.data).toBeNull();
    expect(res.body.errors).toEqual([
      {
        message: 'Purpose "LAW_ENFORCEMENT" does not rest on consent (its basis is LEGAL_OBLIGATION): there is no consent to grant or withdraw.',
        path: ['withdrawConsent'],
        extensions: { code: 'BAD_USER_INPUT' },
      },
    ]);
    const events = await gw.db.query('SELECT 1 FROM consent_events WHERE purpose = $1', ['LAW_ENFORCEMENT']);
    expect(events.rows).toHaveLength(0);
  });
});
