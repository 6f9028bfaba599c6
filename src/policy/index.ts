export type {
  Caller,
  CallerKind,
  ConsentEvent,
  ConsentMode,
  Decision,
  DecideInput,
  DenyReason,
  FieldPolicy,
  LawfulBasis,
  MaskStrategy,
  PurposeDef,
  PurposeRegistry,
  Subject,
  SubjectState,
} from './types.js';
export { decide, fieldAllows, ADULT_AGE } from './decide.js';
export { admitRequest, type Admission } from './admitRequest.js';
export { applyMask, type MaskContext } from './applyMask.js';
export { maskFor, purposeAllows } from './fieldRules.js';
export { purposeChain } from './purposeTree.js';
