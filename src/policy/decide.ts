import { ageAt } from './age.js';
import { maskFor, purposeAllows } from './fieldRules.js';
import { purposeChain } from './purposeTree.js';
import type { Caller, ConsentEvent, ConsentMode, Decision, DecideInput, FieldPolicy, MaskStrategy, PurposeDef, PurposeRegistry, SubjectState } from './types.js';

/** Event order: by time, then by id (ids grow with insertion). */
function isNewer(a: ConsentEvent, b: ConsentEvent): boolean {
  const ta = Date.parse(a.at);
  const tb = Date.parse(b.at);
  return ta !== tb ? ta > tb : BigInt(a.id) > BigInt(b.id);
}

/** Age below which consent-based purposes are denied (SPEC §3). */
export const ADULT_AGE = 18;

const DIRECTORY_SERVICES = 'DIRECTORY_SERVICES';
const SUBJECT_ACCESS = 'SUBJECT_ACCESS';

function needsScope(caller: Caller, purpose: string): boolean {
  return caller.kind === 'partner' || caller.kind === 'agent' || caller.kind === 'subscriber' || purpose === SUBJECT_ACCESS;
}

function outOfScope(caller: Caller, purpose: string, subject: Extract<SubjectState, { status: 'found' }>['subject']): boolean {
  if ((caller.kind === 'partner' || caller.kind === 'agent') && subject.agencyId !== caller.agency) return true;
  if ((caller.kind === 'subscriber' || purpose === SUBJECT_ACCESS) && subject.id !== caller.sub) return true;
  return false;
}

/**
 * What decide() reads of the registry and the field for one purpose, which no subject changes:
 * worked out once per (field, purpose) instead of once per decision (a full profile makes about
 * thirty decisions a request). Its release decisions are shared and frozen.
 */
interface FieldPurpose {
  def: PurposeDef | undefined;
  allowed: boolean;
  chain: readonly string[];
  /** DIRECTORY_SERVICES is on the purpose's chain. */
  directory: boolean;
  /** The consent mode of the nearest purpose of the chain that declares one. */
  mode: ConsentMode;
  strategy: MaskStrategy | undefined;
  /** The release without a consent event: ALLOW, or MASK with `strategy`. */
  release: Decision;
}

const fieldPurposes = new WeakMap<PurposeRegistry, WeakMap<FieldPolicy, Map<string, FieldPurpose>>>();

const PURPOSE_NOT_ALLOWED: Decision = Object.freeze({ effect: 'DENY', reason: 'PURPOSE_NOT_ALLOWED' });
const OUT_OF_SCOPE: Decision = Object.freeze({ effect: 'DENY', reason: 'OUT_OF_SCOPE' });
const CONSENT_UNAVAILABLE: Decision = Object.freeze({ effect: 'DENY', reason: 'CONSENT_UNAVAILABLE' });
const MINOR: Decision = Object.freeze({ effect: 'DENY', reason: 'MINOR' });
const CONSENT_WITHDRAWN: Decision = Object.freeze({ effect: 'DENY', reason: 'CONSENT_WITHDRAWN' });
const CONSENT_REQUIRED: Decision = Object.freeze({ effect: 'DENY', reason: 'CONSENT_REQUIRED' });

/** What decide() knows of a name that is not a registry purpose: that no field allows it. */
const UNKNOWN_PURPOSE: FieldPurpose = Object.freeze({
  def: undefined,
  allowed: false,
  chain: Object.freeze([]),
  directory: false,
  mode: 'OPT_IN',
  strategy: undefined,
  release: PURPOSE_NOT_ALLOWED, // never given: decide() denies an unknown purpose first
});

function fieldPurpose(registry: PurposeRegistry, field: FieldPolicy, purpose: string): FieldPurpose {
  let byField = fieldPurposes.get(registry);
  if (!byField) fieldPurposes.set(registry, (byField = new WeakMap()));
  let byPurpose = byField.get(field);
  if (!byPurpose) byField.set(field, (byPurpose = new Map()));
  const known = byPurpose.get(purpose);
  if (known) return known;
  const def = registry.get(purpose);
  // Not a registry purpose (a name from a caller): denied, and nothing is kept for it, so that
  // such names cannot grow the cache.
  if (def === undefined) return UNKNOWN_PURPOSE;
  const chain = purposeChain(registry, purpose);
  const strategy = maskFor(registry, field, purpose);
  const fp: FieldPurpose = {
    def,
    allowed: purposeAllows(registry, field, purpose),
    chain,
    directory: chain.includes(DIRECTORY_SERVICES),
    mode: chain.map((p) => registry.get(p)?.consent).find((m) => m !== undefined) ?? 'OPT_IN',
    strategy,
    release: Object.freeze(strategy ? { effect: 'MASK', strategy } : { effect: 'ALLOW' }),
  };
  byPurpose.set(purpose, fp);
  return fp;
}

/** Whether the field's @purpose allows `purpose` (or an ancestor): `purposeAllows`, worked out once per (field, purpose). */
export function fieldAllows(registry: PurposeRegistry, field: FieldPolicy, purpose: string): boolean {
  return fieldPurpose(registry, field, purpose).allowed;
}

/**
 * The whole policy: whether one field of one subscriber is released to this caller for this
 * purpose, and how. Pure: the subject, their consent events and the time are inputs.
 *
 * Order: the field's @purpose (purpose tree), the caller's scope (agency, own record), then for
 * consent-based purposes the subject's age and consent, and last the @mask.
 */
export function decide(input: DecideInput): Decision {
  const { registry, field, purpose, caller, subject, at } = input;
  const fp = fieldPurpose(registry, field, purpose);
  const def = fp.def;
  if (def === undefined || !fp.allowed) return PURPOSE_NOT_ALLOWED;

  if (subject.status === 'not_found') return OUT_OF_SCOPE;
  if (subject.status === 'unavailable') {
    // Without the store we cannot check scope or consent: fail closed where either matters.
    if (needsScope(caller, purpose) || def.basis === 'CONSENT') return CONSENT_UNAVAILABLE;
    return fp.release;
  }
  if (outOfScope(caller, purpose, subject.subject)) return OUT_OF_SCOPE;
  if (field.identifier || def.basis !== 'CONSENT') return fp.release;

  const { dateOfBirth } = subject.subject;
  // Written so that an unknown or malformed date (NaN) is a minor too: fail closed.
  if (dateOfBirth === null || !(ageAt(dateOfBirth, at) >= ADULT_AGE)) return MINOR;

  if (subject.subject.directoryListing === 'UNLISTED' && fp.directory) return CONSENT_WITHDRAWN;
  // The purpose's own withdrawal always stands ("consent to MARKETING covers MARKETING_SMS unless
  // MARKETING_SMS itself is withdrawn"). Otherwise the newest event along the purpose's chain
  // decides: withdrawing MARKETING stops an earlier MARKETING_SMS grant, a later one reopens it.
  const own = subject.consents.get(purpose);
  if (own?.action === 'WITHDRAW') return { effect: 'DENY', reason: 'CONSENT_WITHDRAWN', consentEventId: own.id };
  let newest: ConsentEvent | undefined;
  for (const p of fp.chain) {
    const event = subject.consents.get(p);
    if (event !== undefined && (newest === undefined || isNewer(event, newest))) newest = event;
  }
  if (newest !== undefined) {
    return newest.action === 'WITHDRAW' ? { effect: 'DENY', reason: 'CONSENT_WITHDRAWN', consentEventId: newest.id } : release(fp, newest.id);
  }
  return fp.mode === 'OPT_OUT' ? fp.release : CONSENT_REQUIRED;
}

function release(fp: FieldPurpose, consentEventId: string): Decision {
  return fp.strategy ? { effect: 'MASK', strategy: fp.strategy, consentEventId } : { effect: 'ALLOW', consentEventId };
}
