import { execute, parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SubjectLoader } from '../../src/consent/index.js';
import { DecisionLog, type EnforcementContext } from '../../src/shield/index.js';
import { createSubgraphSchema, loadPolicySources } from '../../src/subgraphs/index.js';
import { FIXTURES } from '../fixtures/subscribers.js';
import { at, errorAt, expectDenied, startTestGateway, type TestGateway } from '../harness.js';

const { imei } = FIXTURES.adult.device;
const id = FIXTURES.adult.id;

/** Every string in a response body, to prove a raw value appears nowhere (not even under another key). */
function leaks(body: unknown, value: string): boolean {
  return JSON.stringify(body).includes(value);
}

describe('no route around a rule', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(() => gw.close());

  // MARKETING may never read Device.imei; the adult subscriber has MARKETING consent, so only the field rule stops it.
  it.each([
    ['aliases', `{ s: subscriber(id: "${id}") { d: devices { x: imei y: imei } } }`, ['s', 'd']],
    ['named fragments', `{ subscriber(id: "${id}") { ...S } } fragment S on Subscriber { devices { ...D } } fragment D on Device { imei }`, ['subscriber', 'devices']],
    ['inline fragments', `{ subscriber(id: "${id}") { ... on Subscriber { devices { ... on Device { imei } } } } }`, ['subscriber', 'devices']],
    ['inline fragments on an interface', `{ node(id: "${id}") { id ... on Subscriber { devices { imei } } } }`, ['node', 'devices']],
    ['__typename tricks', `{ subscriber(id: "${id}") { __typename devices { __typename imei t: __typename } } }`, ['subscriber', 'devices']],
    ['a list root', `{ subscribers(first: 100) { nodes { id devices { imei } } } }`, null],
  ] as const)('%s do not release a denied value', async (_name, query, devicesPath) => {
    const res = await gw.gql(query, { purpose: 'MARKETING' });
    expect(res.status).toBe(200);
    expect(leaks(res.body.data, imei)).toBe(false);
    if (devicesPath) expectDenied(res, devicesPath, 'PURPOSE_NOT_ALLOWED');
  });

  it('an aliased masked field is listed under its alias in extensions.masked', async () => {
    const res = await gw.gql(`{ s: subscriber(id: "${id}") { d: devices { a: imei } } }`, { purpose: 'CUSTOMER_SUPPORT' });
    expect(at(res.body.data, ['s', 'd', 0, 'a'])).toBe('*'.repeat(imei.length - 4) + imei.slice(-4));
    expect(res.body.extensions!.masked).toEqual([['s', 'd', 0, 'a']]);
    expect(leaks(res.body, imei)).toBe(false);
  });

  it('the same field selected twice under different aliases is decided for each', async () => {
    const res = await gw.gql(`{ subscriber(id: "${id}") { a: dateOfBirth b: dateOfBirth } }`, { purpose: 'MARKETING' });
    expectDenied(res, ['subscriber', 'a'], 'PURPOSE_NOT_ALLOWED');
    expectDenied(res, ['subscriber', 'b'], 'PURPOSE_NOT_ALLOWED');
  });

  it('page cursors are sealed: they carry no start time or record id, and a forged one is refused', async () => {
    const res = await gw.gql(`{ subscriber(id: "${id}") { callDetailRecords(first: 1) { nodes { durationSeconds } pageInfo { endCursor hasNextPage } } } }`, { purpose: 'ANALYTICS' });
    const cursor = res.body.data!.subscriber.callDetailRecords.pageInfo.endCursor as string;
    const decoded = Buffer.from(cursor, 'base64url').toString('latin1');
    const newest = FIXTURES.adult.cdrs[0];
    expect(decoded).not.toContain(newest.id);
    expect(decoded).not.toContain(new Date(newest.startedAt).toISOString().slice(0, 16));
    const next = await gw.gql(`query($a: String) { subscriber(id: "${id}") { callDetailRecords(first: 5, after: $a) { nodes { durationSeconds } } } }`, { purpose: 'ANALYTICS', variables: { a: cursor } });
    expect(next.body.data!.subscriber.callDetailRecords.nodes).toHaveLength(FIXTURES.adult.cdrs.length - 1);
    const forged = Buffer.from(JSON.stringify([newest.startedAt, newest.id])).toString('base64url');
    const bad = await gw.gql(`{ subscriber(id: "${id}") { callDetailRecords(after: "${forged}") { nodes { durationSeconds } } } }`, { purpose: 'ANALYTICS' });
    expect(bad.body.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
  });

  it('time filters are no oracle for a start time the purpose may not read', async () => {
    const t = new Date(new Date(FIXTURES.adult.cdrs[0].startedAt).getTime() - 1000).toISOString();
    const res = await gw.gql(`{ subscriber(id: "${id}") { callDetailRecords(since: "${t}") { nodes { durationSeconds } } } }`, { purpose: 'ANALYTICS' });
    expectDenied(res, ['subscriber', 'callDetailRecords'], 'PURPOSE_NOT_ALLOWED');
    expect(errorAt(res, ['subscriber', 'callDetailRecords'])!.extensions!.coordinate).toBe('CallDetailRecord.startedAt');
    const billing = await gw.gql(`{ subscriber(id: "${id}") { callDetailRecords(since: "${t}") { nodes { startedAt } } } }`, { purpose: 'BILLING' });
    expect(billing.body.data!.subscriber.callDetailRecords.nodes).toHaveLength(1);
  });

  it.each([
    ['an interface field', `{ node(id: "${id}") { ... on Subscriber { devices { imei } } } }`, ['node', 'devices', 0, 'imei']],
    ['an interface fragment inside an object', `{ subscriber(id: "${id}") { ... on Node { ... on Subscriber { devices { imei } } } } }`, ['subscriber', 'devices', 0, 'imei']],
  ])('masked values selected through %s are listed in extensions.masked', async (_name, query, path) => {
    const res = await gw.gql(query, { purpose: 'CUSTOMER_SUPPORT' });
    expect(at(res.body.data, path)).toMatch(/^\*+\d{4}$/);
    expect(res.body.extensions!.masked).toEqual([path]);
  });

  it('a number lookup under a purpose that may not read numbers answers alike for known and unknown numbers', async () => {
    const known = await gw.gql(`{ subscriberByMsisdn(msisdn: "${FIXTURES.adult.msisdn}") { id } }`, { purpose: 'ANALYTICS' });
    const unknown = await gw.gql(`{ subscriberByMsisdn(msisdn: "+447700900999") { id } }`, { purpose: 'ANALYTICS' });
    expectDenied(known, ['subscriberByMsisdn'], 'PURPOSE_NOT_ALLOWED');
    expect(unknown.body).toEqual({ ...known.body, extensions: { ...known.body.extensions, audit: unknown.body.extensions!.audit } });
  });

  it('_entities is not reachable through the gateway', async () => {
    const res = await gw.gql(`{ _entities(representations: [{ __typename: "Subscriber", id: "${id}" }]) { ... on Subscriber { devices { imei } } } }`, {
      purpose: 'MARKETING',
    });
    expect(res.status).toBe(400);
    expect(res.body.errors![0].extensions!.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(leaks(res.body, imei)).toBe(false);
  });

  it('a denied field never carries a stack trace, SQL or a service name', async () => {
    const res = await gw.gql(`{ subscriber(id: "${id}") { devices { imei } } }`, { purpose: 'MARKETING' });
    const err = errorAt(res, ['subscriber', 'devices'])!;
    expect(err.message).toBe('Purpose "MARKETING" may not read "Subscriber.devices".');
    expect(Object.keys(err.extensions!).sort()).toEqual(['code', 'coordinate', 'reason']);
    expect(JSON.stringify(res.body)).not.toMatch(/stacktrace|serviceName|SELECT|devices subgraph/i);
  });
});

describe('_entities sent straight to a subgraph', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(() => gw.close());

  const run = async (purpose: string, representations: unknown[], caller: EnforcementContext['scope']['caller'] = { sub: 's', kind: 'internal', purposes: [purpose] }) => {
    const sources = loadPolicySources();
    const { schema } = createSubgraphSchema('devices', { db: gw.db, sources, maskKey: 'k'.repeat(32) });
    const ctx: EnforcementContext = {
      scope: { requestId: 'r', caller, purpose, at: new Date().toISOString(), decisions: new DecisionLog() },
      subgraph: 'devices',
      subjects: new SubjectLoader(gw.db),
      loaders: new Map(),
    };
    const result = await execute({
      schema,
      document: parse(`query($r: [_Any!]!) { _entities(representations: $r) { ... on Subscriber { id devices { imei model } } } }`),
      variableValues: { r: representations },
      contextValue: ctx,
    });
    return { result, decisions: ctx.scope.decisions.list() };
  };

  it('runs the same field rules: MARKETING gets no IMEI, LAW_ENFORCEMENT does', async () => {
    const denied = await run('MARKETING', [{ __typename: 'Subscriber', id }]);
    expect(JSON.stringify(denied.result.data)).not.toContain(imei);
    expect(denied.result.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'PURPOSE_NOT_ALLOWED' });
    expect(denied.decisions).toContainEqual(expect.objectContaining({ subscriberId: id, coordinate: 'Subscriber.devices', effect: 'DENY' }));

    const allowed = await run('LAW_ENFORCEMENT', [{ __typename: 'Subscriber', id }]);
    expect(allowed.result.errors).toBeUndefined();
    expect((allowed.result.data as any)._entities[0].devices[0].imei).toBe(imei);
  });

  it('a partner cannot fetch another agency\u2019s subscriber by representation', async () => {
    const { result } = await run('FRAUD_PREVENTION', [{ __typename: 'Subscriber', id: FIXTURES.south.id }], {
      sub: 'p',
      kind: 'partner',
      agency: 'agency-north',
      purposes: ['FRAUD_PREVENTION'],
    });
    expect(JSON.stringify(result.data)).not.toContain(FIXTURES.south.device.imei);
    expect(result.errors?.map((e) => e.extensions?.reason)).toContain('OUT_OF_SCOPE');
  });

  it('an unknown subscriber id releases nothing', async () => {
    const { result } = await run('LAW_ENFORCEMENT', [{ __typename: 'Subscriber', id: 'sub-nobody' }]);
    // Subscriber.id (non-null) is denied, so the whole entity is null.
    expect((result.data as any)._entities[0]).toBeNull();
    expect(JSON.stringify(result.data)).not.toContain('imei');
    expect(result.errors?.[0].extensions?.reason).toBe('OUT_OF_SCOPE');
  });
});

describe('DateTime arguments', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(() => gw.close());

  it('accepts ISO 8601 with a zone as a DateTime variable, and refuses anything else', async () => {
    const q = `query($s: DateTime) { subscriber(id: "${id}") { callDetailRecords(since: $s) { nodes { id } } } }`;
    const t = new Date(Date.now() - 36 * 3600_000).toISOString();
    const ok = await gw.gql(q, { purpose: 'BILLING', variables: { s: t } });
    expect(ok.body.errors).toBeUndefined();
    expect(ok.body.data!.subscriber.callDetailRecords.nodes.map((n: { id: string }) => n.id)).toEqual([FIXTURES.adult.cdrs[0].id]);
    const bad = await gw.gql(q, { purpose: 'BILLING', variables: { s: 'yesterday' } });
    // The gateway passes custom scalars through; the usage subgraph refuses the value.
    expect(bad.body.errors![0].message).toContain('DateTime must be an ISO 8601 date-time');
    expect(bad.body.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
    expect(JSON.stringify(bad.body.data)).not.toContain('cdr-');
    // A year the store has no such date for: refused as input, not an internal error from the store.
    for (const s of ['0000-01-01T00:00:00Z', '2026-02-30T00:00:00Z']) {
      const refused = await gw.gql(q, { purpose: 'BILLING', variables: { s } });
      expect(refused.body.errors![0].extensions!.code).toBe('BAD_USER_INPUT');
    }
  });
});
