/**
 * Subgraphs served over HTTP (`purposegate subgraph`, here served by this test process on
 * 127.0.0.1): a subgraph accepts only requests a gateway signed for it and for that exact
 * operation, enforces the same rules as in-process, and reports its decisions to the gateway.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTEXT_HEADER, loadOrCreateSigningKey, mintContextToken, operationHash, type BoundOperation, type RequestContext } from '../../src/auth/index.js';
import { parseConfig } from '../../src/config.js';
import { DEFAULT_SCHEMA_DIR, startSubgraphServer } from '../../src/subgraphs/index.js';
import { FIXTURES } from '../fixtures/subscribers.js';
import { expectAllowed, expectDenied, startTestGateway, type TestGateway } from '../harness.js';

const A = FIXTURES.adult;

/** `_entities` for one subscriber's devices, as a gateway's query planner would send it. */
const ENTITIES: BoundOperation = {
  query: 'query($representations:[_Any!]!){_entities(representations:$representations){...on Subscriber{devices{imei imsi model}}}}',
  variables: { representations: [{ __typename: 'Subscriber', id: A.id }] },
  operationName: null,
};

function contextFor(purpose: string, over: Partial<RequestContext> = {}): RequestContext {
  return { requestId: 'req-test', caller: { sub: 'svc-test', kind: 'internal', purposes: [purpose] }, purpose, at: new Date().toISOString(), ...over };
}

async function post(url: string, op: BoundOperation, token?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers[CONTEXT_HEADER] = token;
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(op) });
  return { status: res.status, body: (await res.json()) as { data?: any; errors?: Array<{ message: string; path?: unknown[]; extensions?: Record<string, any> }>; extensions?: any } };
}

describe('remote subgraphs over HTTP', () => {
  let gw: TestGateway;
  let devicesUrl: string;
  let key: Awaited<ReturnType<typeof loadOrCreateSigningKey>>;

  beforeAll(async () => {
    gw = await startTestGateway({ subgraphs: 'http' });
    devicesUrl = gw.config.subgraphUrls.get('devices')!;
    key = await loadOrCreateSigningKey(gw.dataDir, 'gateway');
  });
  afterAll(() => gw?.close());

  it('serves every subgraph remotely and records the subgraphs\' decisions in the gateway\'s audit record', async () => {
    expect([...gw.config.subgraphUrls.keys()].sort()).toEqual(['audit', 'billing', 'consent', 'devices', 'location', 'subscribers', 'usage']);
    const res = await gw.gql(`{ subscriber(id: "${A.id}") { fullName devices { imei model } lastKnownLocation { cellId } } }`, { purpose: 'CUSTOMER_SUPPORT' });
    expectAllowed(res, ['subscriber', 'fullName'], A.fullName);
    expectAllowed(res, ['subscriber', 'devices', 0, 'imei'], `${'*'.repeat(A.device.imei.length - 4)}${A.device.imei.slice(-4)}`);
    expectDenied(res, ['subscriber', 'lastKnownLocation'], 'PURPOSE_NOT_ALLOWED');
    expect(res.body.extensions?.masked).toEqual([['subscriber', 'devices', 0, 'imei']]);
    const { rows } = await gw.db.query<{ body: string }>('SELECT body FROM audit_records WHERE record_id = $1', [res.body.extensions!.audit.recordId]);
    const decisions = JSON.parse(rows[0].body).decisions as Array<{ subscriberId: string; coordinate: string; effect: string; reason?: string; strategy?: string }>;
    expect(decisions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ subscriberId: A.id, coordinate: 'Subscriber.fullName', effect: 'ALLOW' }),
        expect.objectContaining({ subscriberId: A.id, coordinate: 'Device.imei', effect: 'MASK', strategy: 'LAST4' }),
        expect.objectContaining({ subscriberId: A.id, coordinate: 'Device.model', effect: 'ALLOW' }),
        expect.objectContaining({ subscriberId: A.id, coordinate: 'Subscriber.lastKnownLocation', effect: 'DENY', reason: 'PURPOSE_NOT_ALLOWED' }),
      ]),
    );
  });

  it('a withdrawal recorded through the remote consent subgraph holds on the next request', async () => {
    const q = `{ subscriber(id: "${A.id}") { msisdn } }`;
    expectAllowed(await gw.gql(q, { purpose: 'MARKETING_EMAIL' }), ['subscriber', 'msisdn'], A.msisdn);
    const m = await gw.gql(`mutation { withdrawConsent(subscriberId: "${A.id}", purpose: MARKETING_EMAIL, source: "test") { state } }`, { purpose: 'CONSENT_MANAGEMENT' });
    expect(m.body.data).toEqual({ withdrawConsent: { state: 'WITHDRAWN' } });
    expectDenied(await gw.gql(q, { purpose: 'MARKETING_EMAIL' }), ['subscriber', 'msisdn'], 'CONSENT_WITHDRAWN');
  });

  describe('a request that did not come through a gateway is refused, with no data', () => {
    const refusedWith = async (token: string | undefined, op: BoundOperation = ENTITIES) => {
      const res = await post(devicesUrl, op, token);
      expect(res.status, JSON.stringify(res.body)).toBe(401);
      expect(res.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(res.body.data ?? null).toBeNull();
      expect(JSON.stringify(res.body)).not.toContain(A.device.imei.slice(-4));
      return res.body.errors![0].message;
    };

    it.each<[string, () => Promise<string | undefined>]>([
      ['no context token', async () => undefined],
      ['a malformed one', async () => 'not-a-jwt'],
      ['an access token instead of a context token', async () => gw.mint({ kind: 'internal', purposes: ['LAW_ENFORCEMENT'] })],
      ['one signed by another key', async () => mintContextToken({ ...key, privateKey: (await generateKeyPair('EdDSA', { crv: 'Ed25519' })).privateKey }, contextFor('LAW_ENFORCEMENT'), 'devices', ENTITIES)],
      ['one for another subgraph', () => mintContextToken(key, contextFor('LAW_ENFORCEMENT'), 'location', ENTITIES)],
      [
        'an expired one',
        async () => {
          const now = Math.floor(Date.now() / 1000);
          return new SignJWT({ rid: 'r', kind: 'internal', purposes: ['LAW_ENFORCEMENT'], purpose: 'LAW_ENFORCEMENT', at: new Date().toISOString(), op: operationHash(ENTITIES) })
            .setProtectedHeader({ alg: 'EdDSA', typ: 'purposegate-ctx+jwt', kid: key.kid })
            .setIssuer('purposegate-gateway')
            .setAudience('purposegate-subgraph:devices')
            .setSubject('svc-test')
            .setIssuedAt(now - 600)
            .setJti('j')
            .setExpirationTime(now - 540)
            .sign(key.privateKey);
        },
      ],
    ])('%s → 401 UNAUTHENTICATED', async (_, token) => {
      await refusedWith(await token());
    });

    it('a context token replayed with other variables (another subscriber) → 401', async () => {
      const token = await mintContextToken(key, contextFor('LAW_ENFORCEMENT'), 'devices', ENTITIES);
      const other = { ...ENTITIES, variables: { representations: [{ __typename: 'Subscriber', id: FIXTURES.minor.id }] } };
      expect(await refusedWith(token, other)).toMatch(/another operation/);
    });
  });

  it('with a valid context the subgraph enforces its own rules: masks, denials and decisions reported', async () => {
    const cs = await post(devicesUrl, ENTITIES, await mintContextToken(key, contextFor('CUSTOMER_SUPPORT'), 'devices', ENTITIES));
    expect(cs.status).toBe(200);
    expect(cs.body.data._entities[0].devices[0]).toEqual({ imei: `${'*'.repeat(11)}${A.device.imei.slice(-4)}`, imsi: `${'*'.repeat(A.device.imsi.length - 4)}${A.device.imsi.slice(-4)}`, model: A.device.model });
    expect(cs.body.extensions.purposegate.decisions).toEqual(expect.arrayContaining([expect.objectContaining({ coordinate: 'Device.imei', effect: 'MASK', strategy: 'LAST4' })]));
    expect(cs.body.extensions.purposegate.consentQueries).toBe(1);

    // BILLING may not read devices at all: nothing of them leaves the subgraph.
    const billing = await post(devicesUrl, ENTITIES, await mintContextToken(key, contextFor('BILLING'), 'devices', ENTITIES));
    expect(billing.body.data._entities[0].devices).toBeNull();
    expect(billing.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'PURPOSE_NOT_ALLOWED', coordinate: 'Subscriber.devices' });
    expect(JSON.stringify(billing.body)).not.toContain(A.device.imei.slice(-4));

    // A partner of another agency: out of scope.
    const partner = contextFor('CUSTOMER_SUPPORT', { caller: { sub: 'p', kind: 'partner', agency: 'agency-elsewhere', purposes: ['CUSTOMER_SUPPORT'] } });
    const scoped = await post(devicesUrl, ENTITIES, await mintContextToken(key, partner, 'devices', ENTITIES));
    expect(scoped.body.data._entities[0].devices).toBeNull();
    expect(scoped.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'OUT_OF_SCOPE' });
  });
});

describe('a remote subgraph that is down, or runs another policy', () => {
  let gw: TestGateway;
  let schemaDir: string;

  /** Starts a second gateway on the same store with some subgraph URLs replaced, asks it one query, stops it. */
  async function askThrough(urls: Record<string, string>, purpose: string, query: string, ref?: string) {
    const { startServer } = await import('../../src/gateway/index.js');
    const subgraphUrls = new Map(gw.config.subgraphUrls);
    for (const [name, url] of Object.entries(urls)) subgraphUrls.set(name as never, url);
    const server = await startServer({ ...gw.config, subgraphUrls, subgraphTimeoutMs: 2000 }, { db: gw.db });
    try {
      const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${await gw.mint({ kind: 'internal', purposes: [purpose] })}`, 'x-purpose': purpose };
      if (ref) headers['x-purpose-ref'] = ref;
      const res = await fetch(server.url, { method: 'POST', headers, body: JSON.stringify({ query }) });
      return { status: res.status, body: (await res.json()) as { data: any; errors: any[]; extensions: any } };
    } finally {
      await server.close();
    }
  }

  beforeAll(async () => {
    gw = await startTestGateway({ subgraphs: 'http' });
    // A copy of the policy in which the devices subgraph releases macAddress to CUSTOMER_SUPPORT.
    schemaDir = mkdtempSync(join(tmpdir(), 'purposegate-schema-'));
    cpSync(DEFAULT_SCHEMA_DIR, schemaDir, { recursive: true });
    const devices = join(schemaDir, 'devices.graphql');
    const altered = readFileSync(devices, 'utf8').replace('macAddress: String @purpose(allow: [NETWORK_OPERATIONS,', 'macAddress: String @purpose(allow: [CUSTOMER_SUPPORT, NETWORK_OPERATIONS,');
    expect(altered).not.toBe(readFileSync(devices, 'utf8'));
    writeFileSync(devices, altered);
  });
  afterAll(async () => {
    await gw?.close();
    rmSync(schemaDir, { recursive: true, force: true });
  });

  it('refuses the data of a subgraph that enforces another policy; the rest is served and audited', async () => {
    const rogue = await startSubgraphServer(parseConfig({ DATA_DIR: gw.dataDir, HOST: '127.0.0.1', PORT: '0', SCHEMA_DIR: schemaDir, LOG_LEVEL: 'silent' }), 'devices', { db: gw.db });
    try {
      const { status, body } = await askThrough({ devices: rogue.url }, 'CUSTOMER_SUPPORT', `{ subscriber(id: "${A.id}") { fullName devices { macAddress model } } }`);
      expect(status).toBe(200);
      expect(body.data.subscriber.fullName).toBe(A.fullName);
      expect(body.data.subscriber.devices).toBeNull();
      expect(JSON.stringify(body)).not.toContain(A.device.macAddress);
      expect(body.errors.map((e) => e.extensions.code)).toContain('SUBGRAPH_UNAVAILABLE');
      expect(JSON.stringify(body.errors)).not.toMatch(/devices|127\.0\.0\.1|http:/);
      expect(body.extensions.audit.recordId).toBeDefined();
    } finally {
      await rogue.close();
    }
  });

  /** A proxy in front of the real devices subgraph that rewrites the decisions it reports. */
  async function forging(forge: (report: { decisions: Array<Record<string, unknown>>; consentQueries: unknown }) => void) {
    const target = gw.config.subgraphUrls.get('devices')!;
    const proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k))) as Record<string, string>;
        const upstream = await fetch(target, { method: 'POST', headers, body: Buffer.concat(chunks) });
        const body = (await upstream.json()) as { extensions: { purposegate: { decisions: Array<Record<string, unknown>>; consentQueries: unknown } } };
        forge(body.extensions.purposegate);
        res.writeHead(upstream.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    return { url: `http://127.0.0.1:${(proxy.address() as { port: number }).port}/graphql`, close: () => new Promise<void>((r) => proxy.close(() => r())) };
  }

  it.each<[string, (r: { decisions: Array<Record<string, unknown>>; consentQueries: unknown }) => void]>([
    ['a negative count', (r) => (r.decisions[0]!.count = -5)],
    ['a count of zero', (r) => (r.decisions[0]!.count = 0)],
    ['an effect the policy does not know', (r) => (r.decisions[0]!.effect = 'PERMIT')],
    ['another member', (r) => (r.decisions[0]!.value = 'FORGED-VALUE')],
    ['a subscriber id that is not a string', (r) => (r.decisions[0]!.subscriberId = { id: 'FORGED' })],
    ['a DENY without its reason', (r) => r.decisions.push({ subscriberId: 'FORGED-SUB', coordinate: 'Device.imei', effect: 'DENY', count: 1 })],
    ['an ALLOW with a reason', (r) => r.decisions.push({ subscriberId: 'FORGED-SUB', coordinate: 'Device.imei', effect: 'ALLOW', reason: 'X', count: 1 })],
    ['a decision that is not an object', (r) => r.decisions.push('FORGED' as never)],
    ['a consent query count that is not a count', (r) => (r.consentQueries = 'FORGED')],
  ])('refuses the data of a subgraph that reports %s; nothing forged reaches the audit log', async (_name, forge) => {
    const proxy = await forging(forge);
    try {
      const { status, body } = await askThrough({ devices: proxy.url }, 'CUSTOMER_SUPPORT', `{ subscriber(id: "${A.id}") { fullName devices { model imei } } }`);
      expect(status).toBe(200);
      expect(body.data.subscriber.fullName).toBe(A.fullName);
      expect(body.data.subscriber.devices).toBeNull();
      expect(JSON.stringify(body)).not.toContain(A.device.model);
      expect(body.errors.map((e) => e.extensions.code)).toContain('SUBGRAPH_UNAVAILABLE');
      const { rows } = await gw.db.query<{ body: string }>('SELECT body FROM audit_records WHERE record_id = $1', [body.extensions.audit.recordId]);
      expect(rows[0]!.body).not.toMatch(/FORGED|PERMIT|"count":-5/);
      const coords = (JSON.parse(rows[0]!.body).decisions as Array<{ coordinate: string }>).map((d) => d.coordinate);
      expect(coords).toContain('Subscriber.fullName');
      expect(coords).not.toContain('Device.model');
    } finally {
      await proxy.close();
    }
  });

  it('the same proxy, forging nothing, is served (the refusals above are about the reports)', async () => {
    const proxy = await forging(() => undefined);
    try {
      const { status, body } = await askThrough({ devices: proxy.url }, 'CUSTOMER_SUPPORT', `{ subscriber(id: "${A.id}") { fullName devices { model } } }`);
      expect(status).toBe(200);
      expect(body.data.subscriber.devices[0].model).toBe(A.device.model);
      expect(body.errors).toBeUndefined();
    } finally {
      await proxy.close();
    }
  });

  it('one subgraph down: its fields fail, the rest is served, and the request is audited', async () => {
    // Port 9 (discard): nothing listens there.
    const { status, body } = await askThrough({ location: 'http://127.0.0.1:9/graphql' }, 'LAW_ENFORCEMENT', `{ subscriber(id: "${A.id}") { fullName lastKnownLocation { latitude } devices { imei } } }`, 'LP-9');
    expect(status).toBe(200);
    expect(body.data.subscriber.fullName).toBe(A.fullName);
    expect(body.data.subscriber.devices[0].imei).toBe(A.device.imei);
    expect(body.data.subscriber.lastKnownLocation).toBeNull();
    expect(JSON.stringify(body)).not.toContain(String(A.location.latitude));
    expect(body.errors.map((e) => e.extensions.code)).toEqual(['SUBGRAPH_UNAVAILABLE']);
    const { rows } = await gw.db.query<{ body: string }>('SELECT body FROM audit_records WHERE record_id = $1', [body.extensions.audit.recordId]);
    const coords = (JSON.parse(rows[0].body).decisions as Array<{ coordinate: string }>).map((d) => d.coordinate);
    expect(coords).toContain('Subscriber.fullName');
    expect(coords).toContain('Device.imei');
    expect(coords).not.toContain('Location.latitude');
  });
});
