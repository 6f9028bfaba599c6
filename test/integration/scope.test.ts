import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../fixtures/subscribers.js';
import { expectAllowed, expectDenied, startTestGateway, type TestGateway } from '../harness.js';

const ALL = Object.values(FIXTURES);

describe('partner, agent and subject scope', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(() => gw.close());

  it.each(['partner', 'agent'] as const)('a %s sees only its agency in lists, and another agency\u2019s subscriber is OUT_OF_SCOPE', async (kind) => {
    const token = await gw.mint({ kind, agency: 'agency-north', purposes: ['BILLING'] });
    const list = await gw.gql(`{ subscribers(first: 100) { nodes { id agencyId } pageInfo { hasNextPage } } }`, { token, purpose: 'BILLING' });
    const ids = list.body.data!.subscribers.nodes.map((n: { id: string }) => n.id).sort();
    expect(ids).toEqual(ALL.filter((s) => s.agencyId === 'agency-north').map((s) => s.id).sort());
    expect(list.body.errors).toBeUndefined();

    const other = await gw.gql(`{ subscriber(id: "${FIXTURES.south.id}") { id fullName billingAccount { balance } } }`, { token, purpose: 'BILLING' });
    expectDenied(other, ['subscriber'], 'OUT_OF_SCOPE');
    const byNumber = await gw.gql(`{ subscriberByMsisdn(msisdn: "${FIXTURES.east.msisdn}") { fullName } }`, { token, purpose: 'BILLING' });
    expectDenied(byNumber, ['subscriberByMsisdn'], 'OUT_OF_SCOPE');
    const node = await gw.gql(`{ node(id: "${FIXTURES.east.id}") { id ... on Subscriber { fullName } } }`, { token, purpose: 'BILLING' });
    expectDenied(node, ['node'], 'OUT_OF_SCOPE');

    // A subscriber that does not exist looks exactly like another agency's: no enumeration.
    expectDenied(await gw.gql(`{ subscriber(id: "sub-nobody") { id } }`, { token, purpose: 'BILLING' }), ['subscriber'], 'OUT_OF_SCOPE');

    const own = await gw.gql(`{ subscriber(id: "${FIXTURES.adult.id}") { fullName billingAccount { balance } } }`, { token, purpose: 'BILLING' });
    expectAllowed(own, ['subscriber', 'fullName'], FIXTURES.adult.fullName);
    expectAllowed(own, ['subscriber', 'billingAccount', 'balance'], FIXTURES.adult.billing.balance);
  });

  it('pages through a scoped list without leaking other agencies', async () => {
    const token = await gw.mint({ kind: 'partner', agency: 'agency-north', purposes: ['SERVICE_DELIVERY'] });
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 10; i++) {
      const res = await gw.gql(`query($after: String) { subscribers(first: 2, after: $after) { nodes { id agencyId } pageInfo { endCursor hasNextPage } } }`, {
        token,
        purpose: 'SERVICE_DELIVERY',
        variables: { after },
      });
      const page = res.body.data!.subscribers;
      for (const n of page.nodes) {
        expect(n.agencyId).toBe('agency-north');
        seen.push(n.id);
      }
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen.sort()).toEqual(ALL.filter((s) => s.agencyId === 'agency-north').map((s) => s.id).sort());
  });

  it('SUBJECT_ACCESS reads one\u2019s own record only', async () => {
    const token = await gw.mint({ sub: FIXTURES.adult.id, kind: 'subscriber', purposes: ['SUBJECT_ACCESS'] });
    const own = await gw.gql(`{ subscriber(id: "${FIXTURES.adult.id}") { fullName devices { imei } } }`, { token, purpose: 'SUBJECT_ACCESS' });
    expectAllowed(own, ['subscriber', 'devices', 0, 'imei'], FIXTURES.adult.device.imei);
    const other = await gw.gql(`{ subscriber(id: "${FIXTURES.none.id}") { fullName } }`, { token, purpose: 'SUBJECT_ACCESS' });
    expectDenied(other, ['subscriber'], 'OUT_OF_SCOPE');
    const list = await gw.gql(`{ subscribers(first: 100) { nodes { id } } }`, { token, purpose: 'SUBJECT_ACCESS' });
    expect(list.body.data!.subscribers.nodes).toEqual([{ id: FIXTURES.adult.id }]);
  });

  it('subscriberByMsisdn needs a purpose that may read the number', async () => {
    const res = await gw.gql(`{ subscriberByMsisdn(msisdn: "${FIXTURES.adult.msisdn}") { id } }`, { purpose: 'ANALYTICS' });
    expectDenied(res, ['subscriberByMsisdn'], 'PURPOSE_NOT_ALLOWED');
    const ok = await gw.gql(`{ subscriberByMsisdn(msisdn: "${FIXTURES.adult.msisdn}") { id fullName } }`, { purpose: 'EMERGENCY_SERVICES', ref: 'INC-42' });
    expectAllowed(ok, ['subscriberByMsisdn', 'fullName'], FIXTURES.adult.fullName);
  });
});
