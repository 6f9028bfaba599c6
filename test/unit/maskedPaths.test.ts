import { buildSchema, Kind, parse, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { readPolicyMap } from '../../directives/index.js';
import { composeSupergraph } from '../../src/gateway/composeSupergraph.js';
import { createMaskedPaths } from '../../src/gateway/maskedPaths.js';
import { loadPolicySources } from '../../src/subgraphs/index.js';
import { maskedPaths as oracle } from './maskedPathsOracle.js';

const sources = loadPolicySources();
const supergraph = composeSupergraph(sources);
const policy = readPolicyMap(supergraph.supergraphSdl, sources.registry);
const schema = buildSchema(supergraph.apiSdl);

const device = (n: number) => ({ imei: `35000000000000${n}`, imsi: `23415000000000${n}`, iccid: null, model: 'X' });
const cdr = (n: number) => ({ id: `cdr-${n}`, callingNumber: `+4470000000${n}`, calledNumber: null, startedAt: '2026-01-01T00:00:00Z' });

/** Queries and the data a gateway could answer them with (nulls, aliases, fragments, abstract types). */
const CASES: Array<{ name: string; purpose: string; query: string; data: Record<string, unknown> }> = [
  {
    name: 'a full profile',
    purpose: 'CUSTOMER_SUPPORT',
    query: `{ subscriber(id: "s") { id msisdn devices { imei imsi iccid model } callDetailRecords(first: 3) { nodes { id callingNumber calledNumber startedAt } } } }`,
    data: { subscriber: { id: 's', msisdn: '+44', devices: [device(1), null, device(2)], callDetailRecords: { nodes: [cdr(1), cdr(2), null] } } },
  },
  {
    name: 'aliases and a field selected twice',
    purpose: 'CUSTOMER_SUPPORT',
    query: `{ a: subscriber(id: "s") { d1: devices { imei } d2: devices { imei iccid } devices { imei } devices { imsi } } b: subscriber(id: "t") { devices { model } } }`,
    data: { a: { d1: [{ imei: '1' }], d2: [{ imei: '2', iccid: '3' }], devices: [{ imei: '4', imsi: '5' }] }, b: { devices: [{ model: 'Y' }] } },
  },
  {
    name: 'fragments spread twice, nested, and inline fragments',
    purpose: 'CUSTOMER_SUPPORT',
    query: `query Q { subscriber(id: "s") { ...S ...S ... on Subscriber { ...S devices { ...D } } } }
      fragment S on Subscriber { devices { ...D ...D } callDetailRecords(first: 1) { nodes { ...C } } }
      fragment D on Device { imei ... on Device { iccid } }
      fragment C on CallDetailRecord { calledNumber }`,
    data: { subscriber: { devices: [{ imei: '1', iccid: '2' }, { imei: null, iccid: '3' }], callDetailRecords: { nodes: [{ calledNumber: '+44' }] } } },
  },
  {
    name: 'an interface, with __typename',
    purpose: 'CUSTOMER_SUPPORT',
    query: `{ node(id: "s") { __typename ... on Subscriber { devices { imei } } } }`,
    data: { node: { __typename: 'Subscriber', devices: [{ imei: '1' }] } },
  },
  {
    name: 'an interface, without __typename',
    purpose: 'CUSTOMER_SUPPORT',
    query: `{ node(id: "s") { ... on Subscriber { devices { imei } } } }`,
    data: { node: { devices: [{ imei: '1' }] } },
  },
  {
    name: 'an interface, with another field aliased as __typename',
    purpose: 'CUSTOMER_SUPPORT',
    query: `{ node(id: "s") { ... on Subscriber { __typename: fullName devices { imei } } } }`,
    data: { node: { __typename: 'Ann', devices: [{ imei: '1' }] } },
  },
  {
    name: 'another purpose',
    purpose: 'ANALYTICS',
    query: `{ subscriber(id: "s") { devices { imei imsi } lastKnownLocation { latitude longitude } } }`,
    data: { subscriber: { devices: [device(1)], lastKnownLocation: { latitude: 51.5, longitude: -0.1 } } },
  },
  {
    name: 'no data',
    purpose: 'CUSTOMER_SUPPORT',
    query: `{ subscriber(id: "s") { devices { imei } } }`,
    data: { subscriber: null },
  },
];

const sorted = (paths: Array<Array<string | number>>) => [...new Set(paths.map((p) => JSON.stringify(p)))].sort();

describe('masked paths', () => {
  const maskedPaths = createMaskedPaths(schema, policy, sources.registry);

  it.each(CASES)('are those the walk of every selection finds: $name', ({ purpose, query, data }) => {
    const doc = parse(query);
    const operation = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
    const expected = sorted(oracle(schema, policy, sources.registry, purpose, doc, operation, data));
    const first = maskedPaths(purpose, doc, operation, data);
    expect(sorted(first)).toEqual(expected);
    expect(first).toHaveLength(expected.length); // each path once
    expect(maskedPaths(purpose, doc, operation, data)).toEqual(first); // the compiled plan, reused
  });

  it('finds what the full-profile case should: exactly the masked values that are not null', () => {
    const { query, data } = CASES[0];
    const doc = parse(query);
    const operation = doc.definitions[0] as OperationDefinitionNode;
    expect(sorted(maskedPaths('CUSTOMER_SUPPORT', doc, operation, data))).toEqual(
      sorted([
        ['subscriber', 'devices', 0, 'imei'],
        ['subscriber', 'devices', 0, 'imsi'],
        ['subscriber', 'devices', 2, 'imei'],
        ['subscriber', 'devices', 2, 'imsi'],
        ['subscriber', 'callDetailRecords', 'nodes', 0, 'callingNumber'],
        ['subscriber', 'callDetailRecords', 'nodes', 1, 'callingNumber'],
      ]),
    );
    expect(maskedPaths('BILLING', doc, operation, data)).toEqual([]);
  });

  it('follows each fragment once per selection, however often and deeply it is spread', () => {
    // F0 spreads F1 twice, F1 spreads F2 twice, …: a walk that followed every spread would visit 2^24 selections.
    const depth = 24;
    const frags = Array.from({ length: depth }, (_, i) => `fragment F${i} on Device { imei ${i + 1 < depth ? `...F${i + 1} ...F${i + 1}` : ''} }`).join('\n');
    const doc = parse(`{ subscriber(id: "s") { devices { ...F0 } } }\n${frags}`);
    const operation = doc.definitions[0] as OperationDefinitionNode;
    // Without the fragment bookkeeping this does not finish within the test's timeout.
    expect(maskedPaths('CUSTOMER_SUPPORT', doc, operation, { subscriber: { devices: [{ imei: '1' }] } })).toEqual([['subscriber', 'devices', 0, 'imei']]);
  });
});
