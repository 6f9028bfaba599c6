import type { Caller, PurposeRegistry } from './types.js';

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
  if (def.ref !== undefined && (ref === undefined || ref.trim() === '')) {
    return {
      ok: false,
      code: 'PURPOSE_REF_REQUIRED',
      message: `Purpose "${purpose}" requires a reference (${def.ref}) in the "X-Purpose-Ref" header.`,
    };
  }
  return { ok: true };
}
