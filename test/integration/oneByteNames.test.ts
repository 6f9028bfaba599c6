import { serialize } from 'node:v8';
import { parse, visit } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../harness.js';

/**
 * Whether V8's string table holds `name` one byte per character in this process: a fresh string
 * with its characters, used as a property key, comes back as the table's entry, and
 * v8.serialize tags a one-byte string '"' (0x22) and a two-byte one 'c'.
 */
function internedOneByte(name: string): boolean {
  const fresh = [...name].join('');
  const entry = Object.keys({ [fresh]: 0 })[0];
  return serialize(entry)[2] === 0x22;
}

describe('schema names are interned one byte per character', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('v8.serialize tells the two forms apart (the check can fail)', () => {
    const twoByte = 'ab\u0100'.slice(0, 2);
    expect(serialize(twoByte)[2]).toBe(0x63);
    expect(serialize('ab')[2]).toBe(0x22);
  });

  it('every name of the API schema, after a request, is interned one-byte', async () => {
    // A request that reaches every subgraph, so every code path that meets the names has run.
    const res = await gw.gql(
      `{ subscriber(id: "sub-001") { id msisdn fullName email postalAddress agencyId directoryListing
          devices { imei imsi iccid model manufacturer osVersion }
          callDetailRecords(first: 5) { nodes { id callingNumber calledNumber startedAt durationSeconds direction cellId } }
          billingAccount { balance currency paymentCard { last4 } invoices { id period amount } }
          consents { purpose state source at } } }`,
      { purpose: 'CUSTOMER_SUPPORT' },
    );
    expect(res.status).toBe(200);
    const names = new Set<string>();
    visit(parse(gw.server.gateway.supergraph.apiSdl), {
      Name(node) {
        names.add(node.value);
      },
    });
    // Response keys and enum values that used to come out two-byte (composition produced them so).
    for (const n of ['fullName', 'postalAddress', 'durationSeconds', 'last4', 'GRANTED']) expect(names).toContain(n);
    const twoByte = [...names].filter((n) => !internedOneByte(n));
    expect(twoByte).toEqual([]);
  });
});
