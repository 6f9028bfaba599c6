import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, SignJWT, base64url } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../fixtures/subscribers.js';
import { auditRecordOf, expectAuditedRejection, expectRejected, startTestGateway, type TestGateway } from '../harness.js';

const Q = `{ subscriber(id: "${FIXTURES.adult.id}") { fullName } }`;

describe('request-level rejections (SPEC §4 table)', () => {
  let gw: TestGateway;
  const sign = async (
    claims: Record<string, unknown>,
    over: { alg?: string; typ?: string; kid?: string; key?: CryptoKey | Uint8Array; iss?: string; aud?: string; exp?: number; iat?: number; nbf?: number } = {},
  ) => {
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({ kind: 'internal', purposes: ['BILLING'], ...claims })
      .setProtectedHeader({ alg: over.alg ?? 'EdDSA', typ: over.typ ?? 'at+jwt', kid: over.kid ?? gw.server.issuerKey.kid })
      .setSubject('svc')
      .setIssuer(over.iss ?? gw.config.tokenIssuer)
      .setAudience(over.aud ?? gw.config.tokenAudience)
      .setIssuedAt(over.iat ?? now)
      .setJti('j1')
      .setExpirationTime(over.exp ?? now + 300);
    if (over.nbf !== undefined) jwt.setNotBefore(over.nbf);
    return jwt.sign(over.key ?? gw.server.issuerKey.privateKey);
  };

  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(() => gw.close());

  it.each<[string, () => Promise<string | null>, RegExp]>([
    ['no token', async () => null, /Send an access token/],
    ['a malformed token', async () => 'not.a.jwt', /malformed/],
    ['an expired token', () => sign({}, { exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 7200 }), /expired/],
    ['a token signed by another key', async () => sign({}, { key: (await generateKeyPair('EdDSA', { crv: 'Ed25519' })).privateKey }), /signature is not valid/],
    ['an unknown kid (signed by the issuer key)', () => sign({}, { kid: 'no-such-key' }), /not signed by a known key/],
    ['an unknown kid (signed by another key)', async () => sign({}, { kid: 'attacker-key', key: (await generateKeyPair('EdDSA', { crv: 'Ed25519' })).privateKey }), /not signed by a known key/],
    ['nbf in the future', () => sign({}, { nbf: Math.floor(Date.now() / 1000) + 3600 }), /"nbf" claim/],
    ['a wrong issuer', () => sign({}, { iss: 'https://evil.example' }), /"iss" claim/],
    ['a wrong audience', () => sign({}, { aud: 'someone-else' }), /"aud" claim/],
    ['typ JWT instead of at+jwt', () => sign({}, { typ: 'JWT' }), /"typ" claim/],
    [
      'alg none',
      async () => {
        const now = Math.floor(Date.now() / 1000);
        const h = base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt' }));
        const p = base64url.encode(JSON.stringify({ sub: 'svc', kind: 'internal', purposes: ['BILLING'], iss: gw.config.tokenIssuer, aud: gw.config.tokenAudience, iat: now, exp: now + 300, jti: 'x' }));
        return `${h}.${p}.`;
      },
      /algorithm that is not accepted/,
    ],
    [
      'HS256 signed with the public key',
      async () => {
        const { kty, crv, x } = gw.server.issuerKey.publicJwk;
        return sign({}, { alg: 'HS256', key: new TextEncoder().encode(JSON.stringify({ kty, crv, x })) });
      },
      /algorithm that is not accepted/,
    ],
    [
      'a tampered payload with the old signature',
      async () => {
        const [h, , s] = (await sign({})).split('.');
        const p = base64url.encode(JSON.stringify({ sub: 'svc', kind: 'internal', purposes: ['LAW_ENFORCEMENT'], iss: gw.config.tokenIssuer, aud: gw.config.tokenAudience, iat: 1, exp: 9999999999, jti: 'x' }));
        return `${h}.${p}.${s}`;
      },
      /signature is not valid/,
    ],
    ['purposes that is not an array', () => sign({ purposes: 'BILLING' }), /"purposes" must be an array/],
    ['purposes naming an unknown purpose', () => sign({ purposes: ['BILLING', 'SELLING'] }), /unknown purpose "SELLING"/],
    ['a partner without agency', () => sign({ kind: 'partner' }), /A partner token must carry an "agency" claim/],
    ['an agent without agency', () => sign({ kind: 'agent' }), /An agent token must carry an "agency" claim/],
    ['an unknown kind', () => sign({ kind: 'root' }), /"kind" must be one of/],
    ['an act chain naming the subject itself', () => sign({ act: { sub: 'svc' } }), /Actor "svc" is not permitted to act for "svc"/],
    ['an act claim without a sub', () => sign({ act: { client_id: 'x' } }), /"act" must be an object with a non-empty "sub"/],
  ])('%s → 401 UNAUTHENTICATED, audited, no data', async (_name, token, message) => {
    const res = await gw.gql(Q, { token: await token(), purpose: 'BILLING' });
    await expectAuditedRejection(gw.db, res, 401, 'UNAUTHENTICATED');
    expect(res.body.errors![0].message).toMatch(message);
    expect(JSON.stringify(res.body)).not.toContain(FIXTURES.adult.fullName);
  });

  it.each([
    ['no X-Purpose', { purpose: null }, 400, 'PURPOSE_REQUIRED'],
    ['a purpose not in the registry', { purpose: 'SELLING_DATA' }, 400, 'UNKNOWN_PURPOSE'],
    ['a purpose not in the token', { purpose: 'MARKETING' }, 403, 'PURPOSE_NOT_PERMITTED'],
    ['EMERGENCY_SERVICES without an incident reference', { purpose: 'EMERGENCY_SERVICES' }, 403, 'PURPOSE_REF_REQUIRED'],
    ['LAW_ENFORCEMENT without a legal process reference', { purpose: 'LAW_ENFORCEMENT' }, 403, 'PURPOSE_REF_REQUIRED'],
  ] as const)('%s → %i %s, audited', async (_name, o, status, code) => {
    const token = await gw.mint({ kind: 'internal', purposes: ['BILLING', 'EMERGENCY_SERVICES', 'LAW_ENFORCEMENT'] });
    const res = await gw.gql(Q, { token, purpose: o.purpose ?? undefined });
    const leaf = await expectAuditedRejection(gw.db, res, status, code);
    expect(leaf.caller?.sub).toBe('svc-test');
  });

  it.each([
    ['too deep', `{ subscriber(id: "x") { billingAccount { paymentCard { brand } } } }`, { LIMIT_DEPTH: '3' }],
    ['too many aliases', `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: __typename`).join(' ')} }`, {}],
    ['too many root fields', `{ a: subscriber(id: "1") { id } b: subscriber(id: "2") { id } c: subscriber(id: "3") { id } d: subscriber(id: "4") { id } e: subscriber(id: "5") { id } f: subscriber(id: "6") { id } }`, {}],
    ['first above the page limit', `{ subscribers(first: 501) { nodes { id } } }`, {}],
    ['too costly (lists multiply)', `{ subscribers(first: 500) { nodes { callDetailRecords(first: 500) { nodes { id durationSeconds } } } } }`, {}],
    ['too costly through variable defaults', `query($n: Int = 500) { subscribers(first: $n) { nodes { callDetailRecords(first: $n) { nodes { id durationSeconds } } } } }`, {}],
    ['too many tokens', `{ subscribers { nodes { ${'id '.repeat(5000)} } } }`, {}],
    ['too many bytes', `{ subscribers { nodes { id } } } # ${'x'.repeat(70_000)}`, {}],
  ])('%s → 400 QUERY_TOO_COMPLEX', async (_name, query, env) => {
    const local = Object.keys(env).length ? await startTestGateway({ env, fixtures: false }) : gw;
    try {
      const res = await local.gql(query, { purpose: 'BILLING' });
      expectRejected(res, 400, 'QUERY_TOO_COMPLEX');
    } finally {
      if (local !== gw) await local.close();
    }
  });

  it('refuses batched requests', async () => {
    const token = await gw.mint({ kind: 'internal', purposes: ['BILLING'] });
    const res = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-purpose': 'BILLING' },
      body: JSON.stringify([{ query: Q }, { query: Q }]),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).errors[0].extensions.code).toBe('BAD_REQUEST');
  });

  it('introspection only for internal callers', async () => {
    const intro = `{ __schema { queryType { name } } }`;
    const internal = await gw.gql(intro, { purpose: 'BILLING' });
    expect(internal.body.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    const partner = await gw.mint({ kind: 'partner', agency: 'agency-north', purposes: ['BILLING'] });
    expectRejected(await gw.gql(intro, { token: partner, purpose: 'BILLING' }), 400, 'GRAPHQL_VALIDATION_FAILED');
  });

  it('field suggestions only for internal callers', async () => {
    const q = `{ subscriber(id: "x") { fullNam } }`;
    const internal = await gw.gql(q, { purpose: 'BILLING' });
    expect(internal.status).toBe(400);
    expect(internal.body.errors![0].message).toMatch(/Did you mean "fullName"\?/);
    const partner = await gw.mint({ kind: 'partner', agency: 'agency-north', purposes: ['BILLING'] });
    const res = await gw.gql(q, { token: partner, purpose: 'BILLING' });
    expect(res.status).toBe(400);
    expect(res.body.errors![0].message).toBe('Cannot query field "fullNam" on type "Subscriber".');
  });

  it.each<[string, Record<string, number>]>([
    ['issued in the future', { iat: 3600, exp: 7200 }],
    ['living longer than TOKEN_MAX_AGE_S', { iat: 0, exp: 2 * 86_400 }],
  ])('a token %s → 401', async (_name, t) => {
    const now = Math.floor(Date.now() / 1000);
    const token = await sign({}, { iat: now + t.iat, exp: now + t.exp });
    expectRejected(await gw.gql(Q, { token, purpose: 'BILLING' }), 401, 'UNAUTHENTICATED');
  });

  it('echoes X-Request-Id, and makes one when none (or a bad one) is sent', async () => {
    const a = await gw.gql(Q, { purpose: 'BILLING', headers: { 'x-request-id': 'req-123' } });
    expect(a.headers.get('x-request-id')).toBe('req-123');
    const b = await gw.gql(Q, { purpose: 'BILLING', headers: { 'x-request-id': 'bad id with spaces' } });
    expect(b.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const rejected = await gw.gql(Q, { token: null, purpose: 'BILLING', headers: { 'x-request-id': 'req-456' } });
    expect(rejected.headers.get('x-request-id')).toBe('req-456');
  });
});

describe('delegated tokens without ACTORS_FILE: the issuer vouches for the chain', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(() => gw.close());

  it('serves a delegated token and logs the whole chain; decisions use the top-level claims', async () => {
    const token = await gw.mint({ sub: 'svc-billing', kind: 'internal', purposes: ['BILLING'], act: { sub: 'assistant-bot', act: { sub: 'ops-console' } } });
    const res = await gw.gql(Q, { token, purpose: 'BILLING' });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ subscriber: { fullName: FIXTURES.adult.fullName } });
    const leaf = await auditRecordOf(gw.db, res);
    expect(leaf.caller).toMatchObject({ sub: 'svc-billing', kind: 'internal', act: { sub: 'assistant-bot', act: { sub: 'ops-console' } } });
  });
});

describe('delegated tokens (RFC 8693 act): only actors ACTORS_FILE permits for the subject', () => {
  let gw: TestGateway;
  const token = (sub: string, act: Record<string, unknown>) =>
    new SignJWT({ kind: 'internal', purposes: ['BILLING'], act })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: gw.server.issuerKey.kid })
      .setSubject(sub)
      .setIssuer(gw.config.tokenIssuer)
      .setAudience(gw.config.tokenAudience)
      .setIssuedAt()
      .setJti(`j-${sub}-${JSON.stringify(act).length}`)
      .setExpirationTime('5m')
      .sign(gw.server.issuerKey.privateKey);

  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'purposegate-actors-'));
    const file = join(dir, 'actors.json');
    writeFileSync(file, JSON.stringify({ 'svc-billing': ['assistant-bot', 'ops-console'], 'svc-other': ['rogue-bot'] }));
    gw = await startTestGateway({ env: { ACTORS_FILE: file } });
  });
  afterAll(async () => {
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a permitted actor is served, and the whole chain is logged', async () => {
    const res = await gw.gql(Q, { token: await token('svc-billing', { sub: 'assistant-bot', act: { sub: 'ops-console' } }), purpose: 'BILLING' });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ subscriber: { fullName: FIXTURES.adult.fullName } });
    const leaf = await auditRecordOf(gw.db, res);
    expect(leaf.caller).toMatchObject({ sub: 'svc-billing', act: { sub: 'assistant-bot', act: { sub: 'ops-console' } } });
  });

  it.each<[string, string, Record<string, unknown>, string]>([
    ['an actor not listed for the subject', 'svc-billing', { sub: 'rogue-bot' }, 'rogue-bot'],
    ['a permitted actor acting through a prior actor that is not', 'svc-billing', { sub: 'assistant-bot', act: { sub: 'rogue-bot' } }, 'rogue-bot'],
    ['an actor listed for another subject only', 'svc-crm', { sub: 'assistant-bot' }, 'assistant-bot'],
    ['the subject acting for itself', 'svc-billing', { sub: 'svc-billing' }, 'svc-billing'],
  ])('%s → 401 UNAUTHENTICATED naming the actor; audited with the caller and its chain', async (_name, sub, act, actor) => {
    const res = await gw.gql(Q, { token: await token(sub, act), purpose: 'BILLING' });
    const leaf = await expectAuditedRejection(gw.db, res, 401, 'UNAUTHENTICATED');
    expect(res.body.errors![0].message).toBe(`Actor "${actor}" is not permitted to act for "${sub}" (token claim "act").`);
    expect(leaf.caller).toMatchObject({ sub, kind: 'internal', act });
    expect(JSON.stringify(res.body)).not.toContain(FIXTURES.adult.fullName);
  });

  it('a chain deeper than 5 actors → 401', async () => {
    let act: Record<string, unknown> = { sub: 'assistant-bot' };
    for (let i = 0; i < 5; i++) act = { sub: 'assistant-bot', act };
    expectRejected(await gw.gql(Q, { token: await token('svc-billing', act), purpose: 'BILLING' }), 401, 'UNAUTHENTICATED');
  });
});

describe('ill-formed text and operations that cannot run: 400, audited, and the gateway keeps serving', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(() => gw.close());

  const ok = `{ subscriber(id: "${FIXTURES.adult.id}") { fullName } }`;
  const NUL = String.fromCharCode(0);
  const LONE = String.fromCharCode(0xd800);

  it.each<[string, Parameters<TestGateway['gql']>, number, string]>([
    ['an unpaired surrogate in operationName', [ok, { purpose: 'BILLING', operationName: LONE }], 400, 'BAD_REQUEST'],
    ['an unpaired surrogate in operationName, without a token', [ok, { purpose: 'BILLING', token: null, operationName: LONE }], 400, 'BAD_REQUEST'],
    ['an unpaired surrogate in a variable', ['query($id: ID!) { subscriber(id: $id) { fullName } }', { purpose: 'BILLING', variables: { id: LONE } }], 400, 'BAD_REQUEST'],
    ['a NUL in a variable of a mutation', ['mutation($s: ID!) { withdrawConsent(subscriberId: $s, purpose: MARKETING) { state } }', { purpose: 'CONSENT_MANAGEMENT', variables: { s: NUL } }], 400, 'BAD_REQUEST'],
    ['a NUL in a variable name', ['{ __typename }', { purpose: 'BILLING', variables: { [`a${NUL}`]: 1 } }], 400, 'BAD_REQUEST'],
    ['a NUL in a string literal', [`{ subscriber(id: "a\\u0000b") { fullName } }`, { purpose: 'BILLING' }], 400, 'BAD_REQUEST'],
    ['two operations and no operationName', ['query A { __typename } query B { __typename }', { purpose: 'BILLING' }], 400, 'OPERATION_RESOLUTION_FAILURE'],
    ['an operationName the document does not have', ['query A { __typename }', { purpose: 'BILLING', operationName: 'Z' }], 400, 'OPERATION_RESOLUTION_FAILURE'],
    ['a document of fragments only', ['fragment F on Query { __typename }', { purpose: 'BILLING' }], 400, 'OPERATION_RESOLUTION_FAILURE'],
    ['a subscription', ['subscription { __typename }', { purpose: 'BILLING' }], 400, 'BAD_REQUEST'],
  ])('%s → %i %s', async (_name, [query, options], status, code) => {
    const res = await gw.gql(query, options);
    if (options?.token === null) expectRejected(res, status, code);
    else await expectAuditedRejection(gw.db, res, status, code);
    expect(JSON.stringify(res.body)).not.toMatch(/stack|at .*\.ts:\d+/);
    const after = await gw.gql(ok, { purpose: 'BILLING' });
    expect(after.body.data).toEqual({ subscriber: { fullName: FIXTURES.adult.fullName } });
  });

  it.each([
    ['an anonymous operation', `{ subscriber(id: "${FIXTURES.adult.id}") { fullName } }`],
    ['one named operation', `query A { subscriber(id: "${FIXTURES.adult.id}") { fullName } }`],
  ])('an empty operationName is no name: %s runs (200), never an internal error', async (_name, query) => {
    const res = await gw.gql(query, { purpose: 'BILLING', operationName: '' });
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toEqual({ subscriber: { fullName: FIXTURES.adult.fullName } });
  });

  it('an empty operationName with two operations → 400 OPERATION_RESOLUTION_FAILURE', async () => {
    const res = await gw.gql('query A { __typename } query B { __typename }', { purpose: 'BILLING', operationName: '' });
    await expectAuditedRejection(gw.db, res, 400, 'OPERATION_RESOLUTION_FAILURE');
  });

  it('a token whose claims hold a NUL → 401, and the refusal is recorded', async () => {
    const token = await new SignJWT({ kind: 'internal', purposes: ['BILLING'] })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: gw.server.issuerKey.kid })
      .setSubject(`svc${NUL}x`)
      .setIssuer(gw.config.tokenIssuer)
      .setAudience(gw.config.tokenAudience)
      .setIssuedAt()
      .setJti('j-nul')
      .setExpirationTime('5m')
      .sign(gw.server.issuerKey.privateKey);
    const res = await gw.gql(ok, { token, purpose: 'BILLING' });
    await expectAuditedRejection(gw.db, res, 401, 'UNAUTHENTICATED');
    expect(res.body.errors![0].message).toMatch(/well-formed/);
  });

  it('a partner asking for an id that does not exist: OUT_OF_SCOPE, and the denial is in the record', async () => {
    const token = await gw.mint({ kind: 'partner', agency: FIXTURES.adult.agencyId, purposes: ['BILLING'] });
    const res = await gw.gql('{ subscriber(id: "sub-nobody") { fullName } }', { token, purpose: 'BILLING' });
    expect(res.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'OUT_OF_SCOPE' });
    const leaf = await auditRecordOf(gw.db, res);
    expect(leaf.decisions).toEqual([expect.objectContaining({ subscriberId: 'sub-nobody', coordinate: 'Subscriber.id', effect: 'DENY', reason: 'OUT_OF_SCOPE' })]);
  });
});
