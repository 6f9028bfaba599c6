import { ageAt } from './age.js';
import { maskFor, purposeAllows } from './fieldRules.js';
import { purposeChain } from './purposeTree.js';
import type { Caller, Decision, DecideInput, PurposeDef, SubjectState } from './types.js';

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
  if (dateOfBirth === null || ageAt(dateOfBirth, at) < ADULT_AGE) return { effect: 'DENY', reason: 'MINOR' };

  const chain = purposeChain(registry, purpose);
  if (subject.subject.directoryListing === 'UNLISTED' && chain.includes(DIRECTORY_SERVICES)) {
    return { effect: 'DENY', reason: 'CONSENT_WITHDRAWN' };
  }
  // The nearest explicit event wins: the purpose's own, else its parent's, and so on up the tree.
  for (const p of chain) {
    const event = subject.consents.get(p);
    if (event === undefined) continue;
    if (event.action === 'WITHDRAW') return { effect: 'DENY', reason: 'CONSENT_WITHDRAWN', consentEventId: event.id };
    return release(input, event.id);
  }
  const mode = chain.map((p) => registry.get(p)?.consent).find((m) => m !== undefined) ?? 'OPT_IN';
  return mode === 'OPT_OUT' ? release(input) : { effect: 'DENY', reason: 'CONSENT_REQUIRED' };
}

function release(input: DecideInput, consentEventId?: string): Decision {
  const strategy = maskFor(input.registry, input.field, input.purpose);
  const withEvent = consentEventId === undefined ? {} : { consentEventId };
  return strategy ? { effect: 'MASK', strategy, ...withEvent } : { effect: 'ALLOW', ...withEvent };
}
