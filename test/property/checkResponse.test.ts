/**
 * The oracle bites: checkResponse() accepts the response the SPEC asks for and reports each kind
 * of violation in fabricated responses (a leaked denied value, an unmasked IMEI, a wrong reason,
 * an unlisted mask, another agency's subscriber in a list, a missing audit record id, …).
 */
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { FIXTURES, type FixtureSubscriber } from '../fixtures/subscribers.js';
import { checkResponse, type CaseContext, type ResponseLike } from './checkResponse.js';
import { finalise, renderOperation, type ArgValue, type FieldSel, type Operation } from './operations.js';
import type { RawSubscriber } from './rawData.js';
import type { ModelCaller, ModelSubject } from './referenceModel.js';

function raw(f: FixtureSubscriber): RawSubscriber {
  return {
    id: f.id,
    msisdn: f.msisdn,
    fullName: f.fullName,
    email: f.email,
    postalAddress: f.postalAddress,
    dateOfBirth: f.dateOfBirth,
    agencyId: f.agencyId,
    directoryListing: f.directoryListing,
    devices: [f.device],
    location: f.location,
    cdrs: f.cdrs,
    billing: { balance: f.billing.balance, currency: f.billing.currency, card: { brand: f.billing.brand, last4: f.billing.last4, expiry: f.billing.expiry }, invoices: f.invoices },
  };
}

function context(caller: ModelCaller | null, declared: string | null, ref?: string): CaseContext {
  const list = Object.values(FIXTURES);
  const subjects = new Map<string, ModelSubject>(
    list.map((f) => [f.id, { id: f.id, agencyId: f.agencyId, dateOfBirth: f.dateOfBirth, directoryListing: f.directoryListing, events: f.consents.map((e) => ({ ...e, source: 'fixture' })) }]),
  );
  return { caller, declared, ref, now: new Date(), inFlight: [Date.now(), Date.now()], raw: new Map(list.map((f) => [f.id, raw(f)])), subjects, hashes: new Map(), hashOwners: new Map(), stats: new Map() };
}

/** A field of a hand-written operation. */
function f(name: string, children?: FieldSel[], args?: Array<[string, ArgValue]>): FieldSel {
  return { name, wantAlias: false, wrap: 'plain', skip: false, ...(children ? { children } : {}), ...(args ? { args } : {}) };
}
const op = (...roots: FieldSel[]): Operation => finalise({ kind: 'query', roots }, 30);

const AUDIT = { requestId: 'r-1', recordId: 'gw-test-0' };
const ok = (data: Record<string, unknown>, errors: ResponseLike['body']['errors'] = [], masked: unknown[] = []): ResponseLike => ({
  status: 200,
  body: { data, ...(errors.length ? { errors } : {}), extensions: { masked, audit: AUDIT } },
});
const forbidden = (path: Array<string | number>, reason: string, coordinate: string) => ({ message: `Purpose may not read "${coordinate}".`, path, extensions: { code: 'FORBIDDEN', reason, coordinate } });

const internal = (purpose: string): ModelCaller => ({ kind: 'internal', sub: 'svc-test', purposes: [purpose] });
const adult = FIXTURES.adult;
const maskedImei = '*'.repeat(adult.device.imei.length - 4) + adult.device.imei.slice(-4);

describe('checkResponse: the differential oracle', () => {
  const devicesQuery = op(f('subscriber', [f('id'), f('devices', [f('imei'), f('model')])], [['id', adult.id]]));

  it('accepts the response the SPEC asks for (CUSTOMER_SUPPORT: IMEI masked LAST4 and listed)', () => {
    const res = ok({ subscriber: { id: adult.id, devices: [{ imei: maskedImei, model: adult.device.model }] } }, [], [['subscriber', 'devices', 0, 'imei']]);
    expect(checkResponse(devicesQuery, context(internal('CUSTOMER_SUPPORT'), 'CUSTOMER_SUPPORT'), res)).toEqual([]);
  });

  it('reports an unmasked IMEI under CUSTOMER_SUPPORT', () => {
    const res = ok({ subscriber: { id: adult.id, devices: [{ imei: adult.device.imei, model: adult.device.model }] } }, [], [['subscriber', 'devices', 0, 'imei']]);
    const issues = checkResponse(devicesQuery, context(internal('CUSTOMER_SUPPORT'), 'CUSTOMER_SUPPORT'), res);
    expect(issues).toContainEqual(expect.stringContaining(`subscriber.devices[0].imei: expected "${maskedImei}", got "${adult.device.imei}"`));
  });

  it('reports a masked value missing from extensions.masked', () => {
    const res = ok({ subscriber: { id: adult.id, devices: [{ imei: maskedImei, model: adult.device.model }] } });
    expect(checkResponse(devicesQuery, context(internal('CUSTOMER_SUPPORT'), 'CUSTOMER_SUPPORT'), res)).toEqual([
      'masked value at ["subscriber","devices",0,"imei"] not listed in extensions.masked',
    ]);
  });

  it('reports a denied value that is released (MARKETING may not read the date of birth)', () => {
    const q = op(f('subscriber', [f('fullName'), f('dateOfBirth')], [['id', adult.id]]));
    const res = ok({ subscriber: { fullName: adult.fullName, dateOfBirth: adult.dateOfBirth } });
    const issues = checkResponse(q, context(internal('MARKETING'), 'MARKETING'), res);
    expect(issues).toContain(`subscriber.dateOfBirth: released "${adult.dateOfBirth}" but the model denies it (PURPOSE_NOT_ALLOWED)`);
    expect(issues).toContain('missing FORBIDDEN/PURPOSE_NOT_ALLOWED error at ["subscriber","dateOfBirth"] (Subscriber.dateOfBirth)');
  });

  it('reports a denial with the wrong reason (a minor under MARKETING is MINOR, not CONSENT_REQUIRED)', () => {
    const minor = FIXTURES.minor;
    const q = op(f('subscriber', [f('msisdn')], [['id', minor.id]]));
    const res = ok({ subscriber: { msisdn: null } }, [forbidden(['subscriber', 'msisdn'], 'CONSENT_REQUIRED', 'Subscriber.msisdn')]);
    expect(checkResponse(q, context(internal('MARKETING'), 'MARKETING'), res)).toEqual(['error at ["subscriber","msisdn"]: expected FORBIDDEN/MINOR, got FORBIDDEN/CONSENT_REQUIRED']);
  });

  it('reports a withdrawn child purpose released on the strength of its parent', () => {
    const south = FIXTURES.south; // MARKETING granted, then MARKETING_SMS withdrawn
    const q = op(f('subscriber', [f('email')], [['id', south.id]]));
    const res = ok({ subscriber: { email: south.email } });
    expect(checkResponse(q, context(internal('MARKETING_SMS'), 'MARKETING_SMS'), res)).toContain(
      `subscriber.email: released "${south.email}" but the model denies it (CONSENT_WITHDRAWN)`,
    );
  });

  it("reports another agency's subscriber in a partner's list", () => {
    const partner: ModelCaller = { kind: 'partner', sub: 'partner-x', agency: 'agency-south', purposes: ['BILLING'] };
    const q = op(f('subscribers', [f('nodes', [f('id')])], [['first', 5]]));
    const res = ok({ subscribers: { nodes: [{ id: FIXTURES.south.id }, { id: FIXTURES.east.id }] } });
    const issues = checkResponse(q, context(partner, 'BILLING'), res);
    expect(issues).toContain('subscribers.nodes: lists out-of-scope subscriber "sub-east"');
    // The honest answer passes.
    expect(checkResponse(q, context(partner, 'BILLING'), ok({ subscribers: { nodes: [{ id: FIXTURES.south.id }] } }))).toEqual([]);
  });

  it('reports a HASH that is the raw value, and a missing audit record id', () => {
    const q = op(f('subscriber', [f('devices', [f('imei')])], [['id', adult.id]]));
    const res: ResponseLike = { status: 200, body: { data: { subscriber: { devices: [{ imei: adult.device.imei }] } }, extensions: { masked: [['subscriber', 'devices', 0, 'imei']] } } };
    const issues = checkResponse(q, context(internal('ANALYTICS'), 'ANALYTICS'), res);
    expect(issues).toContainEqual(expect.stringContaining('extensions.audit.recordId missing'));
    expect(issues).toContainEqual(expect.stringContaining('subscriber.devices[0].imei: expected a HASH of Device.imei'));
  });

  it('reports data on a request the SPEC rejects (purpose not in the token)', () => {
    const q = op(f('subscriber', [f('msisdn')], [['id', adult.id]]));
    const res = ok({ subscriber: { msisdn: adult.msisdn } });
    expect(checkResponse(q, context(internal('BILLING'), 'MARKETING'), res)).toEqual([
      'expected HTTP 403, got 200',
      'expected rejection PURPOSE_NOT_PERMITTED, got undefined: undefined',
      `a rejected request returned data: {"subscriber":{"msisdn":"${adult.msisdn}"}}`,
    ]);
  });

  it('reports a consent mutation recorded for a caller the model refuses (another agency)', () => {
    const partner: ModelCaller = { kind: 'partner', sub: 'partner-x', agency: 'agency-south', purposes: ['CONSENT_MANAGEMENT'] };
    const m = f('grantConsent', [f('purpose'), f('state')], [['subscriberId', adult.id], ['purpose', { enumValue: 'MARKETING' }], ['source', 'web']]);
    const q = finalise({ kind: 'mutation', roots: [m] }, 30);
    const issues = checkResponse(q, context(partner, 'CONSENT_MANAGEMENT'), ok({ grantConsent: { purpose: 'MARKETING', state: 'GRANTED' } }));
    expect(issues).toContain('(root): expected no data (the mutation is denied: OUT_OF_SCOPE), got {"grantConsent":{"purpose":"MARKETING","state":"GRANTED"}}');
    expect(issues).toContain('missing FORBIDDEN/OUT_OF_SCOPE error at ["grantConsent"] (Mutation.grantConsent)');
  });

  it('reports a withdrawal recorded for a purpose that does not rest on consent, and accepts its refusal', () => {
    const m = f('withdrawConsent', [f('purpose'), f('state')], [['subscriberId', adult.id], ['purpose', { enumValue: 'LAW_ENFORCEMENT' }], ['source', 'app']]);
    const q = finalise({ kind: 'mutation', roots: [m] }, 30);
    const ctx = () => context(internal('CONSENT_MANAGEMENT'), 'CONSENT_MANAGEMENT');
    const message = 'Purpose "LAW_ENFORCEMENT" does not rest on consent (its basis is LEGAL_OBLIGATION): there is no consent to grant or withdraw.';
    const recorded = checkResponse(q, ctx(), ok({ withdrawConsent: { purpose: 'LAW_ENFORCEMENT', state: 'WITHDRAWN' } }));
    expect(recorded).toContain('(root): expected no data (LAW_ENFORCEMENT does not rest on consent), got {"withdrawConsent":{"purpose":"LAW_ENFORCEMENT","state":"WITHDRAWN"}}');
    expect(recorded).toContain(`missing BAD_USER_INPUT error at ["withdrawConsent"] ("${message}")`);
    const refused: ResponseLike = { status: 200, body: { data: null, errors: [{ message, path: ['withdrawConsent'], extensions: { code: 'BAD_USER_INPUT' } }], extensions: { masked: [], audit: AUDIT } } };
    expect(checkResponse(q, ctx(), refused)).toEqual([]);
  });

  it('reports an unknown subscriber answered differently from an out-of-scope one for a scoped caller', () => {
    const partner: ModelCaller = { kind: 'agent', sub: 'agent-x', agency: 'agency-north', purposes: ['CUSTOMER_SUPPORT'] };
    const q = op(f('subscriber', [f('id')], [['id', 'sub-nope']]));
    expect(checkResponse(q, context(partner, 'CUSTOMER_SUPPORT'), ok({ subscriber: null }))).toEqual(['missing FORBIDDEN/OUT_OF_SCOPE error at ["subscriber"] (Subscriber.id)']);
  });

  it('drops a field whose every child was dropped (past the alias budget), never rendering an empty selection', () => {
    // Two `nodes` merge; the second one's only child clashes with the first one's and no alias is
    // left: it is dropped, and so is the second `nodes` (seen in a differential run: `nodes {  }`).
    const cdrs = (arg: [string, ArgValue]) => f('callDetailRecords', [f('__typename')], [arg]);
    const q = finalise({ kind: 'query', roots: [f('subscribers', [f('nodes', [cdrs(['first', 1])]), f('nodes', [cdrs(['until', '2026-12-05T04:36:19.289Z'])])], [['first', 0]])] }, 0);
    const [first, second] = q.roots[0].children!;
    expect(first.dropped).toBeUndefined();
    expect(second.children![0].dropped).toBe(true);
    expect(second.dropped).toBe(true);
    const { query } = renderOperation(q, (id) => id);
    expect(query).not.toMatch(/\{\s*\}/);
    expect(() => parse(query)).not.toThrow();
  });
});
