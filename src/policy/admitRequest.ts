import type { Caller, CallerKind, PurposeRegistry } from './types.js';

/** Kinds of caller restricted to one purpose. */
const KIND_PURPOSES: Partial<Record<CallerKind, string>> = { auditor: 'AUDIT', subscriber: 'SUBJECT_ACCESS' };
/** Purposes only one kind of caller may declare. */
const PURPOSE_KINDS: Record<string, CallerKind> = { AUDIT: 'auditor', SUBJECT_ACCESS: 'subscriber' };

/** Request-level outcome of the declared purpose (SPEC §4 rejections). */
export type Admission =
  | { ok: true }
  | { ok: false; code: 'PURPOSE_REQUIRED' | 'UNKNOWN_PURPOSE' | 'PURPOSE_NOT_PERMITTED' | 'PURPOSE_REF_REQUIRED'; message: string };

/** Checks the declared purpose against the registry, the caller's token and the reference rule. */
export function admitRequest(registry: PurposeRegistry, caller: Caller, purpose: string | undefined, ref: string | undefined): Admission {
  if (purpose === undefined || purpose.trim() === '') {
    return { ok: false, code: 'PURPOSE_REQUIRED', message: 'Declare the purpose of this request in the "X-Purpose" header.' };
  }
  const def = registry.get(purpose);
  if (def === undefined) {
    return { ok: false, code: 'UNKNOWN_PURPOSE', message: `Purpose "${purpose}" is not in the purpose registry.` };
  }
  if (!caller.purposes.includes(purpose)) {
    return { ok: false, code: 'PURPOSE_NOT_PERMITTED', message: `The token does not permit purpose "${purpose}".` };
  }
  // Some purposes belong to one kind of caller, whatever a token lists: auditors read only the
  // access log, and only a subscriber exercises their own right of access.
  const only = KIND_PURPOSES[caller.kind];
  if ((only !== undefined && purpose !== only) || (PURPOSE_KINDS[purpose] !== undefined && PURPOSE_KINDS[purpose] !== caller.kind)) {
    return { ok: false, code: 'PURPOSE_NOT_PERMITTED', message: `${/^[aeiou]/.test(caller.kind) ? 'An' : 'A'} ${caller.kind} caller may not declare purpose "${purpose}".` };
  }
  if (def.ref !== undefined && (ref === undefined || ref.trim() === '')) {
    return {
      ok: false,
      code: 'PURPOSE_REF_REQUIRED',
      message: `Purpose "${purpose}" requires a reference (${def.ref}) in the "X-Purpose-Ref" header.`,
    };
  }
  return { ok: true };
}
