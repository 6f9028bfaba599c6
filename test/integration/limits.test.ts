import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../fixtures/subscribers.js';
import { expectAuditedRejection, startTestGateway, type TestGateway } from '../harness.js';

const ID = FIXTURES.adult.id;
const times = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join(' ');

/** An introspection query whose deepest field sits at `depth` (internal callers may introspect). */
const deep = (depth: number) => `{ __schema { types { fields { type { ${'ofType { '.repeat(depth - 5)}name${' }'.repeat(depth - 5)} } } } } }`;
/**
 * A query of exactly `n` lexical tokens: 5 root fields (52 tokens with the braces), the rest leaf
 * fields spread over seven names, so graphql-js's budget for comparing same-named fields holds.
 */
const tokens = (n: number) => {
  const names = ['id', 'msisdn', 'fullName', 'email', 'postalAddress', 'agencyId', 'directoryListing'];
  const leaves: string[][] = [[], [], [], [], []];
  for (let i = 0; i < n - 52; i++) leaves[i % 5].push(names[Math.floor(i / 5) % names.length]);
  return `{ ${leaves.map((l, i) => `s${i}: subscriber(id: "${ID}") { ${l.join(' ')} }`).join(' ')} }`;
};
/** Estimated cost `t + 1 + 500 + 500 * 118`: root __typename fields cost 1, each node field 500. */
const costly = (t: number) => `{ ${'__typename '.repeat(t)} subscribers(first: 500) { nodes { ${'id '.repeat(118)}} } }`;
/** A query padded with a comment so that the JSON body the harness sends is exactly `bytes` long. */
const bodyOf = (bytes: number) => {
  const base = `{ subscriber(id: "${ID}") { id } }\n#`;
  return base + 'x'.repeat(bytes - JSON.stringify({ query: base }).length);
};

/**
 * Each limit at its default passes and one step over is refused with 400 QUERY_TOO_COMPLEX,
 * a message naming the limit, and an audit record of the rejection.
 */
const CASES: Array<{ limit: string; at: string; over: string; message: string }> = [
  { limit: 'depth (12)', at: deep(12), over: deep(13), message: 'The query exceeds the depth limit of 12.' },
  { limit: 'aliases (30)', at: `{ ${times(30, (i) => `a${i}: __typename`)} }`, over: `{ ${times(31, (i) => `a${i}: __typename`)} }`, message: 'The query exceeds the alias limit of 30.' },
  {
    limit: 'root fields (5)',
    at: `{ ${times(5, (i) => `s${i}: subscriber(id: "${ID}") { id }`)} }`,
    over: `{ ${times(6, (i) => `s${i}: subscriber(id: "${ID}") { id }`)} }`,
    message: 'The query exceeds the root field limit of 5.',
  },
  { limit: 'tokens (4000)', at: tokens(4000), over: tokens(4001), message: 'The query exceeds the token limit of 4000.' },
  {
    limit: 'directives (50)',
    at: `{ subscriber(id: "${ID}") { ${'id @include(if: true) '.repeat(50)}} }`,
    over: `{ subscriber(id: "${ID}") { ${'id @include(if: true) '.repeat(51)}} }`,
    message: 'The query exceeds the directive limit of 50.',
  },
  {
    // Counted at each spread, the spread's own directives included (graphql-armor's max-directives drops those on a repeat spread).
    limit: 'directives through a fragment spread again and again (50)',
    at: `{ subscriber(id: "${ID}") { ${'...F @include(if: true) '.repeat(25)}} } fragment F on Subscriber { id @include(if: true) }`,
    over: `{ subscriber(id: "${ID}") { ${'...F @include(if: true) '.repeat(26)}} } fragment F on Subscriber { id @include(if: true) }`,
    message: 'The query exceeds the directive limit of 50.',
  },
  { limit: 'request bytes (65536)', at: bodyOf(65_536), over: bodyOf(65_537), message: 'The request body exceeds the limit of 65536 bytes.' },
  { limit: 'cost (60000)', at: costly(499), over: costly(500), message: 'The query exceeds the cost limit of 60000.' },
  {
    limit: 'first (500)',
    at: `{ subscribers(first: 500) { nodes { id } } }`,
    over: `{ subscribers(first: 501) { nodes { id } } }`,
    message: 'The query exceeds the page size limit of 500 (first: 501).',
  },
];

describe('query limits at and just over their defaults (SPEC §4)', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(() => gw.close());

  it('the defaults are the documented ones', () => {
    expect(gw.config.limits).toEqual({ depth: 12, aliases: 30, rootFields: 5, tokens: 4000, requestBytes: 65_536, cost: 60_000, first: 500, directives: 50 });
  });

  it.each(CASES)('$limit: at the limit → 200', async ({ at }) => {
    const res = await gw.gql(at, { purpose: 'BILLING' });
    expect(res.status, JSON.stringify(res.body).slice(0, 500)).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toBeTruthy();
  });

  it.each(CASES)('$limit: one over → 400 QUERY_TOO_COMPLEX, audited', async ({ over, message }) => {
    const res = await gw.gql(over, { purpose: 'BILLING' });
    await expectAuditedRejection(gw.db, res, 400, 'QUERY_TOO_COMPLEX');
    expect(res.body.errors![0].message).toBe(message);
  });

  describe('what is counted (tight limits: depth 3, 3 aliases, 3 directives, 2 root fields, cost 100)', () => {
    let tight: TestGateway;
    beforeAll(async () => {
      tight = await startTestGateway({
        fixtures: false,
        env: { LIMIT_DEPTH: '3', LIMIT_ALIASES: '3', LIMIT_DIRECTIVES: '3', LIMIT_ROOT_FIELDS: '2', LIMIT_COST: '100' },
      });
    });
    afterAll(() => tight.close());

    it.each([
      ['depth through named fragments', `{ ...A } fragment A on Query { subscriber(id: "${ID}") { ...B } } fragment B on Subscriber { billingAccount { paymentCard { brand } } }`],
      ['depth through inline fragments', `{ subscriber(id: "${ID}") { ... on Subscriber { billingAccount { ... { paymentCard { brand } } } } } }`],
      ['depth inside introspection', `{ __schema { queryType { fields { name } } } }`],
      ['aliases of a fragment spread twice', `{ subscriber(id: "${ID}") { ...F ...F } } fragment F on Subscriber { a: id b: id }`],
      ['directives of a fragment spread twice', `{ subscriber(id: "${ID}") { ...F ...F } } fragment F on Subscriber { id @include(if: true) id @include(if: true) }`],
      ['root fields through a fragment', `{ ...R } fragment R on Query { a: subscriber(id: "1") { id } b: subscriber(id: "2") { id } c: subscriber(id: "3") { id } }`],
      ['cost through a variable page size', `query($n: Int) { subscribers(first: $n) { nodes { id msisdn } } }`],
      ['an operation other than the one selected', `query Small { __typename } query Deep { subscriber(id: "${ID}") { billingAccount { paymentCard { brand } } } }`],
    ])('%s', async (_name, query) => {
      const res = await tight.gql(query, { purpose: 'BILLING', variables: { n: 60 }, operationName: query.startsWith('query Small') ? 'Small' : undefined });
      await expectAuditedRejection(tight.db, res, 400, 'QUERY_TOO_COMPLEX');
    });
  });
});
