import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscriberAccesses } from '../../src/audit/index.js';
import { FIXTURES } from '../fixtures/subscribers.js';
import { startTestGateway, type TestGateway } from '../harness.js';

const id = FIXTURES.adult.id;
const profile = `{ subscriber(id: "${id}") { id msisdn } }`;

/**
 * Accesses to one subscriber, oldest first. The LAW_ENFORCEMENT ones come first, so they are the
 * oldest entries: a log that hid them after paging would end on a page that claims more.
 */
const ACCESSES = [
  { purpose: 'LAW_ENFORCEMENT', ref: 'LP-2026-0001' },
  { purpose: 'LAW_ENFORCEMENT', ref: 'LP-2026-0002' },
  { purpose: 'CUSTOMER_SUPPORT' },
  { purpose: 'LAW_ENFORCEMENT', ref: 'LP-2026-0003' },
  { purpose: 'EMERGENCY_SERVICES', ref: 'INC-7' },
  { purpose: 'FRAUD_PREVENTION' },
];
const DISCLOSED = ACCESSES.map((a) => a.purpose).filter((p) => p !== 'LAW_ENFORCEMENT').reverse(); // newest first

describe('myAccessLog does not tip off the subject of a legal process', () => {
  let gw: TestGateway;
  let me: string;
  beforeAll(async () => {
    gw = await startTestGateway();
    me = await gw.mint({ sub: id, kind: 'subscriber', purposes: ['SUBJECT_ACCESS'] });
    for (const a of ACCESSES) {
      const res = await gw.gql(profile, { purpose: a.purpose, ref: a.ref });
      expect(res.body.errors, JSON.stringify(res.body)).toBeUndefined();
    }
  });
  afterAll(async () => {
    await gw.close();
  });

  /** Every page of the subscriber's own log, `first` at a time; the last page must say it is the last. */
  async function myLog(first: number): Promise<Array<{ purpose: string; caller: { sub: string } }>> {
    const out = [];
    let after: string | null = null;
    for (let pages = 0; pages < 20; pages++) {
      const res = await gw.gql(`query($first: Int, $after: String) { myAccessLog(first: $first, after: $after) { nodes { purpose caller { sub } } pageInfo { endCursor hasNextPage } } }`, {
        token: me,
        purpose: 'SUBJECT_ACCESS',
        variables: { first, after },
      });
      expect(res.body.errors).toBeUndefined();
      const { nodes, pageInfo } = res.body.data!.myAccessLog;
      out.push(...nodes);
      if (!pageInfo.hasNextPage) return out;
      expect(nodes).toHaveLength(first);
      after = pageInfo.endCursor;
    }
    throw new Error('myAccessLog did not end');
  }

  it.each([1, 2, 50])('pages of %i: every other access, newest first, and no LAW_ENFORCEMENT one', async (first) => {
    const purposes = (await myLog(first)).map((n) => n.purpose).filter((p) => p !== 'SUBJECT_ACCESS');
    expect(purposes).toEqual(DISCLOSED);
  });

  it('auditors still see the LAW_ENFORCEMENT accesses, with their references', async () => {
    const res = await gw.gql(`{ accessLog(filter: { subscriberId: "${id}", purpose: LAW_ENFORCEMENT }) { nodes { purpose ref } } }`, { purpose: 'AUDIT' });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data!.accessLog.nodes).toEqual([
      { purpose: 'LAW_ENFORCEMENT', ref: 'LP-2026-0003' },
      { purpose: 'LAW_ENFORCEMENT', ref: 'LP-2026-0002' },
      { purpose: 'LAW_ENFORCEMENT', ref: 'LP-2026-0001' },
    ]);
  });

  it('the DPO report (audit report) still lists every access', async () => {
    const purposes = (await subscriberAccesses(gw.db, id)).map((a) => a.purpose).filter((p) => p !== 'SUBJECT_ACCESS');
    expect(purposes).toEqual(ACCESSES.map((a) => a.purpose));
  });
});
