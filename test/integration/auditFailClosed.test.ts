import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../fixtures/subscribers.js';
import { expectRejected, startBreakableAuditGateway, type TestDb, type TestGateway } from '../harness.js';

describe('fail closed when the audit log cannot be written', () => {
  let gw: TestGateway;
  let base: TestDb;
  let state: { broken: boolean };

  beforeAll(async () => {
    ({ gw, base, state } = await startBreakableAuditGateway());
  });
  afterAll(() => gw.close());

  const q = `{ subscriber(id: "${FIXTURES.adult.id}") { fullName msisdn devices { imei } } }`;

  it('serves and records while the log is writable, refuses with 503 AUDIT_UNAVAILABLE and no data while it is not, and recovers', async () => {
    const before = await gw.gql(q, { purpose: 'LAW_ENFORCEMENT', ref: 'LP-1' });
    expect(before.status).toBe(200);
    expect(before.body.data!.subscriber.fullName).toBe(FIXTURES.adult.fullName);

    state.broken = true;
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => gw.gql(q, i % 2 ? { purpose: 'LAW_ENFORCEMENT', ref: 'LP-1' } : { purpose: 'CUSTOMER_SUPPORT' })),
    );
    for (const res of responses) {
      expectRejected(res, 503, 'AUDIT_UNAVAILABLE');
      const text = JSON.stringify(res.body);
      for (const value of [FIXTURES.adult.fullName, FIXTURES.adult.msisdn, FIXTURES.adult.device.imei, FIXTURES.adult.device.imei.slice(-4)]) {
        expect(text).not.toContain(value);
      }
      expect(text).not.toMatch(/No space left|INSERT|audit_records/);
    }
    // A mutation would write before its record exists: it is not even started, nothing is written.
    const events = async () => Number((await base.query<{ n: string }>('SELECT count(*)::text AS n FROM consent_events')).rows[0].n);
    const eventsBefore = await events();
    const m = await gw.gql(`mutation { withdrawConsent(subscriberId: "${FIXTURES.adult.id}", purpose: MARKETING) { state } }`, { purpose: 'CONSENT_MANAGEMENT' });
    expectRejected(m, 503, 'AUDIT_UNAVAILABLE');
    expect(await events()).toBe(eventsBefore);

    // A request refused for another reason cannot be recorded either: it is refused as unaudited too.
    expectRejected(await gw.gql(q, { token: null, purpose: 'BILLING' }), 503, 'AUDIT_UNAVAILABLE');

    state.broken = false;
    const after = await gw.gql(q, { purpose: 'LAW_ENFORCEMENT', ref: 'LP-1' });
    expect(after.status).toBe(200);
    expect(after.body.data!.subscriber.fullName).toBe(FIXTURES.adult.fullName);
    expect(after.body.extensions!.audit.recordId).toMatch(/-1$/); // failed writes consumed no sequence number
    const m2 = await gw.gql(`mutation { grantConsent(subscriberId: "${FIXTURES.none.id}", purpose: ANALYTICS) { state } }`, { purpose: 'CONSENT_MANAGEMENT' });
    expect(m2.body.data).toEqual({ grantConsent: { state: 'GRANTED' } });

    const { rows } = await base.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_records');
    expect(Number(rows[0].n)).toBe(3);
  });
});
