import { describe, expect, it } from 'vitest';
import { readRegistry } from '../../directives/index.js';
import { loadPolicySources } from '../../src/subgraphs/index.js';
import {
  admitRequest,
  applyMask,
  decide,
  fieldAllows,
  purposeAllows,
  type Caller,
  type ConsentEvent,
  type Decision,
  type FieldPolicy,
  type SubjectState,
} from '../../src/policy/index.js';

const registry = loadPolicySources().registry;
const AT = '2026-11-25T12:00:00.000Z';

const field = (allow: string[], masks: Record<string, string> = {}, identifier = false): FieldPolicy => ({
  coordinate: 'T.f',
  allow: new Set(allow),
  masks: new Map(Object.entries(masks)) as FieldPolicy['masks'],
  identifier,
});
const internal = (purposes: string[] = []): Caller => ({ sub: 'svc', kind: 'internal', purposes });
const subject = (
  over: Partial<{ id: string; agencyId: string; dateOfBirth: string | null; directoryListing: 'LISTED' | 'UNLISTED' }> = {},
  consents: Record<string, ConsentEvent['action']> = {},
): SubjectState => ({
  status: 'found',
  subject: { id: 'sub-1', agencyId: 'agency-north', dateOfBirth: '1980-01-01', directoryListing: 'LISTED', ...over },
  // Events are one day apart, in the order given.
  consents: new Map(Object.entries(consents).map(([p, action], i) => [p, { id: String(i + 1), action, at: new Date(Date.UTC(2026, 0, 1 + i)).toISOString() }])),
});

type Row = [name: string, f: FieldPolicy, purpose: string, caller: Caller, s: SubjectState, expected: Partial<Decision>];

const rows: Row[] = [
  ['contract purpose listed on the field', field(['BILLING']), 'BILLING', internal(), subject(), { effect: 'ALLOW' }],
  ['purpose not on the field', field(['BILLING']), 'MARKETING', internal(), subject(), { effect: 'DENY', reason: 'PURPOSE_NOT_ALLOWED' }],
  ['unknown purpose', field(['BILLING']), 'NOPE', internal(), subject(), { effect: 'DENY', reason: 'PURPOSE_NOT_ALLOWED' }],
  ['child inherits the parent allow', field(['MARKETING']), 'MARKETING_SMS', internal(), subject({}, { MARKETING: 'GRANT' }), { effect: 'ALLOW', consentEventId: '1' }],
  ['parent does not inherit a child allow', field(['MARKETING_SMS']), 'MARKETING', internal(), subject({}, { MARKETING: 'GRANT' }), { effect: 'DENY', reason: 'PURPOSE_NOT_ALLOWED' }],
  ['OPT_IN without consent', field(['MARKETING']), 'MARKETING', internal(), subject(), { effect: 'DENY', reason: 'CONSENT_REQUIRED' }],
  ['OPT_IN granted', field(['MARKETING']), 'MARKETING', internal(), subject({}, { MARKETING: 'GRANT' }), { effect: 'ALLOW' }],
  ['OPT_IN withdrawn', field(['MARKETING']), 'MARKETING', internal(), subject({}, { MARKETING: 'WITHDRAW' }), { effect: 'DENY', reason: 'CONSENT_WITHDRAWN' }],
  ['child withdrawn while parent granted', field(['MARKETING']), 'MARKETING_SMS', internal(), subject({}, { MARKETING: 'GRANT', MARKETING_SMS: 'WITHDRAW' }), { effect: 'DENY', reason: 'CONSENT_WITHDRAWN', consentEventId: '2' }],
  ['sibling unaffected by child withdrawal', field(['MARKETING']), 'MARKETING_EMAIL', internal(), subject({}, { MARKETING: 'GRANT', MARKETING_SMS: 'WITHDRAW' }), { effect: 'ALLOW' }],
  ['child granted after the parent was withdrawn', field(['MARKETING']), 'MARKETING_SMS', internal(), subject({}, { MARKETING: 'WITHDRAW', MARKETING_SMS: 'GRANT' }), { effect: 'ALLOW', consentEventId: '2' }],
  ['parent withdrawn after the child was granted', field(['MARKETING']), 'MARKETING_SMS', internal(), subject({}, { MARKETING_SMS: 'GRANT', MARKETING: 'WITHDRAW' }), { effect: 'DENY', reason: 'CONSENT_WITHDRAWN', consentEventId: '2' }],
  ['own withdrawal stands against a later parent grant', field(['MARKETING']), 'MARKETING_SMS', internal(), subject({}, { MARKETING_SMS: 'WITHDRAW', MARKETING: 'GRANT' }), { effect: 'DENY', reason: 'CONSENT_WITHDRAWN', consentEventId: '1' }],
  ['malformed birth date fails closed', field(['MARKETING']), 'MARKETING', internal(), subject({ dateOfBirth: 'not-a-date' }, { MARKETING: 'GRANT' }), { effect: 'DENY', reason: 'MINOR' }],
  ['OPT_OUT with no event', field(['DIRECTORY_SERVICES']), 'DIRECTORY_SERVICES', internal(), subject(), { effect: 'ALLOW' }],
  ['OPT_OUT withdrawn', field(['DIRECTORY_SERVICES']), 'DIRECTORY_SERVICES', internal(), subject({}, { DIRECTORY_SERVICES: 'WITHDRAW' }), { effect: 'DENY', reason: 'CONSENT_WITHDRAWN' }],
  ['unlisted number: standing withdrawal', field(['DIRECTORY_SERVICES']), 'DIRECTORY_SERVICES', internal(), subject({ directoryListing: 'UNLISTED' }), { effect: 'DENY', reason: 'CONSENT_WITHDRAWN' }],
  ['minor with consent', field(['MARKETING']), 'MARKETING', internal(), subject({ dateOfBirth: '2010-06-01' }, { MARKETING: 'GRANT' }), { effect: 'DENY', reason: 'MINOR' }],
  ['18th birthday is adult', field(['MARKETING']), 'MARKETING', internal(), subject({ dateOfBirth: '2008-11-25' }, { MARKETING: 'GRANT' }), { effect: 'ALLOW' }],
  ['day before 18th birthday is minor', field(['MARKETING']), 'MARKETING', internal(), subject({ dateOfBirth: '2008-11-26' }, { MARKETING: 'GRANT' }), { effect: 'DENY', reason: 'MINOR' }],
  ['unknown birth date fails closed', field(['ANALYTICS']), 'ANALYTICS', internal(), subject({ dateOfBirth: null }, { ANALYTICS: 'GRANT' }), { effect: 'DENY', reason: 'MINOR' }],
  ['minor under a contract purpose', field(['BILLING']), 'BILLING', internal(), subject({ dateOfBirth: '2012-01-01' }), { effect: 'ALLOW' }],
  ['partner, own agency', field(['BILLING']), 'BILLING', { sub: 'p', kind: 'partner', agency: 'agency-north', purposes: [] }, subject(), { effect: 'ALLOW' }],
  ['partner, other agency', field(['BILLING']), 'BILLING', { sub: 'p', kind: 'partner', agency: 'agency-south', purposes: [] }, subject(), { effect: 'DENY', reason: 'OUT_OF_SCOPE' }],
  ['agent, other agency, identifier field', field(['BILLING'], {}, true), 'BILLING', { sub: 'a', kind: 'agent', agency: 'x', purposes: [] }, subject(), { effect: 'DENY', reason: 'OUT_OF_SCOPE' }],
  ['SUBJECT_ACCESS own record', field(['SUBJECT_ACCESS']), 'SUBJECT_ACCESS', { sub: 'sub-1', kind: 'subscriber', purposes: [] }, subject(), { effect: 'ALLOW' }],
  ['SUBJECT_ACCESS someone else', field(['SUBJECT_ACCESS']), 'SUBJECT_ACCESS', { sub: 'sub-2', kind: 'subscriber', purposes: [] }, subject(), { effect: 'DENY', reason: 'OUT_OF_SCOPE' }],
  ['SUBJECT_ACCESS by an internal caller for another id', field(['SUBJECT_ACCESS']), 'SUBJECT_ACCESS', internal(), subject(), { effect: 'DENY', reason: 'OUT_OF_SCOPE' }],
  ['subject unknown', field(['BILLING']), 'BILLING', internal(), { status: 'not_found' }, { effect: 'DENY', reason: 'OUT_OF_SCOPE' }],
  ['store down, consent purpose', field(['MARKETING']), 'MARKETING', internal(), { status: 'unavailable' }, { effect: 'DENY', reason: 'CONSENT_UNAVAILABLE' }],
  ['store down, partner scope', field(['BILLING']), 'BILLING', { sub: 'p', kind: 'partner', agency: 'agency-north', purposes: [] }, { status: 'unavailable' }, { effect: 'DENY', reason: 'CONSENT_UNAVAILABLE' }],
  ['store down, internal contract purpose', field(['BILLING']), 'BILLING', internal(), { status: 'unavailable' }, { effect: 'ALLOW' }],
  ['identifier under consent purpose needs no consent', field(['MARKETING'], {}, true), 'MARKETING', internal(), subject(), { effect: 'ALLOW' }],
  ['mask for the purpose', field(['CUSTOMER_SUPPORT'], { CUSTOMER_SUPPORT: 'LAST4' }), 'CUSTOMER_SUPPORT', internal(), subject(), { effect: 'MASK', strategy: 'LAST4' }],
  ['mask inherited by a child purpose', field(['MARKETING'], { MARKETING: 'COARSE_LOCATION' }), 'MARKETING_SMS', internal(), subject({}, { MARKETING: 'GRANT' }), { effect: 'MASK', strategy: 'COARSE_LOCATION', consentEventId: '1' }],
  ['mask only for its purpose', field(['CUSTOMER_SUPPORT', 'FRAUD_PREVENTION'], { CUSTOMER_SUPPORT: 'LAST4' }), 'FRAUD_PREVENTION', internal(), subject(), { effect: 'ALLOW' }],
  ['denial wins over mask', field(['MARKETING'], { MARKETING: 'COARSE_LOCATION' }), 'MARKETING', internal(), subject(), { effect: 'DENY', reason: 'CONSENT_REQUIRED' }],
];

describe('decide()', () => {
  it.each(rows)('%s', (_name, f, purpose, caller, s, expected) => {
    expect(decide({ registry, field: f, purpose, caller, subject: s, at: AT })).toMatchObject(expected);
  });

  it('answers the same when a field is asked again, and per registry: what it works out once per (field, purpose) is kept apart by registry', () => {
    // Every row once more, with the same field objects, in reverse order and with a consent
    // subject in between: nothing of one answer may leak into another.
    for (const [name, f, purpose, caller, s, expected] of [...rows].reverse()) {
      expect(decide({ registry, field: f, purpose, caller, subject: s, at: AT }), name).toMatchObject(expected);
      decide({ registry, field: f, purpose: 'MARKETING', caller, subject: subject({}, { MARKETING: 'GRANT' }), at: AT });
      // What the field rules ask for a static denial is @purpose's own answer.
      for (const p of [purpose, 'MARKETING', 'BILLING', 'NOPE']) expect(fieldAllows(registry, f, p), `${name}: ${p}`).toBe(purposeAllows(registry, f, p));
    }
    expect(fieldAllows(registry, field(['MARKETING']), 'MARKETING_SMS')).toBe(true);
    expect(fieldAllows(registry, field(['MARKETING_SMS']), 'MARKETING')).toBe(false);
    // The same field object under a registry where MARKETING is opt-out and masks nothing.
    const f = field(['MARKETING'], { MARKETING: 'COARSE_LOCATION' });
    expect(decide({ registry, field: f, purpose: 'MARKETING', caller: internal(), subject: subject(), at: AT })).toEqual({ effect: 'DENY', reason: 'CONSENT_REQUIRED' });
    const optOut = new Map(registry);
    optOut.set('MARKETING', { ...registry.get('MARKETING')!, consent: 'OPT_OUT' });
    expect(decide({ registry: optOut, field: f, purpose: 'MARKETING', caller: internal(), subject: subject(), at: AT })).toEqual({ effect: 'MASK', strategy: 'COARSE_LOCATION' });
    expect(decide({ registry, field: f, purpose: 'MARKETING', caller: internal(), subject: subject(), at: AT })).toEqual({ effect: 'DENY', reason: 'CONSENT_REQUIRED' });
    // A shared decision cannot be changed by whoever holds it.
    const shared = decide({ registry, field: field(['BILLING']), purpose: 'BILLING', caller: internal(), subject: subject(), at: AT });
    expect(() => Object.assign(shared, { effect: 'DENY' })).toThrow(TypeError);
    expect(decide({ registry, field: field(['BILLING']), purpose: 'BILLING', caller: internal(), subject: subject(), at: AT })).toEqual({ effect: 'ALLOW' });
  });

  it('binds purposes to kinds of caller: auditors only AUDIT, subscribers only SUBJECT_ACCESS', () => {
    expect(admitRequest(registry, { sub: 'a', kind: 'auditor', purposes: ['AUDIT', 'LAW_ENFORCEMENT'] }, 'LAW_ENFORCEMENT', 'LP-1')).toMatchObject({ ok: false, code: 'PURPOSE_NOT_PERMITTED' });
    expect(admitRequest(registry, { sub: 'a', kind: 'auditor', purposes: ['AUDIT'] }, 'AUDIT', undefined)).toEqual({ ok: true });
    expect(admitRequest(registry, { sub: 's', kind: 'subscriber', purposes: ['SUBJECT_ACCESS', 'BILLING'] }, 'BILLING', undefined)).toMatchObject({ ok: false });
    expect(admitRequest(registry, { sub: 's', kind: 'subscriber', purposes: ['SUBJECT_ACCESS'] }, 'SUBJECT_ACCESS', undefined)).toEqual({ ok: true });
  });
});

describe('admitRequest()', () => {
  const caller = internal(['BILLING', 'EMERGENCY_SERVICES', 'AUDIT', 'SUBJECT_ACCESS']);
  it.each([
    [undefined, undefined, 'PURPOSE_REQUIRED'],
    ['', undefined, 'PURPOSE_REQUIRED'],
    ['SELLING_DATA', undefined, 'UNKNOWN_PURPOSE'],
    ['MARKETING', undefined, 'PURPOSE_NOT_PERMITTED'],
    ['EMERGENCY_SERVICES', undefined, 'PURPOSE_REF_REQUIRED'],
    ['EMERGENCY_SERVICES', 'INC-7', undefined],
    ['AUDIT', undefined, 'PURPOSE_NOT_PERMITTED'],
    ['SUBJECT_ACCESS', undefined, 'PURPOSE_NOT_PERMITTED'],
    ['BILLING', undefined, undefined],
  ] as const)('purpose %s ref %s → %s', (purpose, ref, code) => {
    const a = admitRequest(registry, caller, purpose, ref);
    if (code === undefined) expect(a.ok).toBe(true);
    else expect(a).toMatchObject({ ok: false, code });
  });
});

describe('applyMask()', () => {
  const ctx = { key: 'k'.repeat(32), subjectId: 'sub-1', coordinate: 'Device.imei' };
  it.each([
    ['LAST4', '352099001761481', '***********1481'],
    ['LAST4', '123', '***'],
    ['PREFIX8', '352099001761481', '35209900*******'],
    ['COARSE_LOCATION', 51.501364, 51.5],
    ['COARSE_LOCATION', -0.14189, -0.14],
    ['LAST4', null, null],
  ] as const)('%s(%s) = %s', (strategy, value, expected) => {
    expect(applyMask(strategy, value, ctx)).toEqual(expected);
  });

  it('HASH is keyed, stable per subscriber, and differs across subscribers and keys', () => {
    const a = applyMask('HASH', '352099001761481', ctx);
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(applyMask('HASH', '352099001761481', ctx)).toBe(a);
    expect(applyMask('HASH', '352099001761481', { ...ctx, subjectId: 'sub-2' })).not.toBe(a);
    expect(applyMask('HASH', '352099001761481', { ...ctx, key: 'j'.repeat(32) })).not.toBe(a);
  });
});

describe('readRegistry()', () => {
  it('reads bases, consent modes, references and the purpose tree', () => {
    expect(registry.get('MARKETING_SMS')).toEqual({ name: 'MARKETING_SMS', basis: 'CONSENT', consent: 'OPT_IN', parent: 'MARKETING' });
    expect(registry.get('DIRECTORY_SERVICES')).toMatchObject({ basis: 'CONSENT', consent: 'OPT_OUT' });
    expect(registry.get('LAW_ENFORCEMENT')).toMatchObject({ basis: 'LEGAL_OBLIGATION', ref: 'legal process' });
    expect(registry.get('EMERGENCY_SERVICES')).toMatchObject({ basis: 'VITAL_INTEREST', ref: 'incident' });
  });

  it('refuses a consent purpose without a mode and an unknown parent', () => {
    expect(() => readRegistry(/* GraphQL */ `enum Purpose { A @basis(kind: CONSENT) }`)).toThrow('Purpose "A" has basis CONSENT but no consent mode.');
    expect(() => readRegistry(/* GraphQL */ `enum Purpose { A @basis(kind: CONTRACT, parent: B) }`)).toThrow('Purpose "A" has parent "B", which is not in the registry.');
  });
});
