import { ageAt } from './age.js';
import { maskFor, purposeAllows } from './fieldRules.js';
import { purposeChain } from './purposeTree.js';
import type { Caller, ConsentEvent, Decision, DecideInput, PurposeDef, SubjectState } from './types.js';

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
 * The whole policy: whether one field of one subscriber is released to this caller for this
 * purpose, and how. Pure: the subject, their consent events and the time are inputs.
 *
 * Order: the field's @purpose (purpose tree), the caller's scope (agency, own record), then for
 * consent-based purposes the subject's age and consent, and last the @mask.
 */
export function decide(input: DecideInput): Decision {
  const { registry, field, purpose, caller, subject, at } = input;
  const def: PurposeDef | undefined = registry.get(purpose);
  if (def === undefined || !purposeAllows(registry, field, purpose)) {
    return { effect: 'DENY', reason: 'PURPOSE_NOT_ALLOWED' };
  }

  if (subject.status === 'not_found') return { effect: 'DENY', reason: 'OUT_OF_SCOPE' };
  if (subject.status === 'unavailable') {
    // Without the store we cannot check scope or consent: fail closed where either matters.
    if (needsScope(caller, purpose) || def.basis === 'CONSENT') return { effect: 'DENY', reason: 'CONSENT_UNAVAILABLE' };
    return release(input);
  }
  if (outOfScope(caller, purpose, subject.subject)) return { effect: 'DENY', reason: 'OUT_OF_SCOPE' };
  if (field.identifier || def.basis !== 'CONSENT') return release(input);

  const { dateOfBirth } = subject.subject;
  // Written so that an unknown or malformed date (NaN) is a minor too: fail closed.
  if (dateOfBirth === null || !(ageAt(dateOfBirth, at) >= ADULT_AGE)) return { effect: 'DENY', reason: 'MINOR' };

  const chain = purposeChain(registry, purpose);
  if (subject.subject.directoryListing === 'UNLISTED' && chain.includes(DIRECTORY_SERVICES)) {
    return { effect: 'DENY', reason: 'CONSENT_WITHDRAWN' };
  }
  // The purpose's own withdrawal always stands ("consent to MARKETING covers MARKETING_SMS unless
  // MARKETING_SMS itself is withdrawn"). Otherwise the newest event along the purpose's chain
  // decides: withdrawing MARKETING stops an earlier MARKETING_SMS grant, a later one reopens it.
  const own = subject.consents.get(purpose);
  if (own?.action === 'WITHDRAW') return { effect: 'DENY', reason: 'CONSENT_WITHDRAWN', consentEventId: own.id };
  let newest: ConsentEvent | undefined;
  for (const p of chain) {
    const event = subject.consents.get(p);
    if (event !== undefined && (newest === undefined || isNewer(event, newest))) newest = event;
  }
  if (newest !== undefined) {
    return newest.action === 'WITHDRAW' ? { effect: 'DENY', reason: 'CONSENT_WITHDRAWN', consentEventId: newest.id } : release(input, newest.id);
  }
  const mode = chain.map((p) => registry.get(p)?.consent).find((m) => m !== undefined) ?? 'OPT_IN';
  return mode === 'OPT_OUT' ? release(input) : { effect: 'DENY', reason: 'CONSENT_REQUIRED' };
}

function release(input: DecideInput, consentEventId?: string): Decision {
  const strategy = maskFor(input.registry, input.field, input.purpose);
  const withEvent = consentEventId === undefined ? {} : { consentEventId };
  return strategy ? { effect: 'MASK', strategy, ...withEvent } : { effect: 'ALLOW', ...withEvent };
}
