/** Lawful bases of processing (GDPR Art. 6). */
export type LawfulBasis = 'CONTRACT' | 'LEGAL_OBLIGATION' | 'VITAL_INTEREST' | 'LEGITIMATE_INTEREST' | 'CONSENT';

/** OPT_IN: denied until granted. OPT_OUT: allowed until withdrawn. */
export type ConsentMode = 'OPT_IN' | 'OPT_OUT';

/** How a masked value is redacted. */
export type MaskStrategy = 'LAST4' | 'PREFIX8' | 'COARSE_LOCATION' | 'HASH';

/** Why a field was denied (SPEC §4, `extensions.reason`). */
export type DenyReason =
  | 'PURPOSE_NOT_ALLOWED'
  | 'CONSENT_REQUIRED'
  | 'CONSENT_WITHDRAWN'
  | 'OUT_OF_SCOPE'
  | 'MINOR'
  | 'CONSENT_UNAVAILABLE';

/** The outcome for one field of one subscriber; the audit log stores this same value. */
export type Decision =
  | { effect: 'ALLOW'; consentEventId?: string }
  | { effect: 'MASK'; strategy: MaskStrategy; consentEventId?: string }
  | { effect: 'DENY'; reason: DenyReason; consentEventId?: string };

/** One purpose of the registry (schema/purposes.graphql). */
export interface PurposeDef {
  name: string;
  basis: LawfulBasis;
  consent?: ConsentMode;
  /** What X-Purpose-Ref must name (e.g. "incident"); absent when no reference is needed. */
  ref?: string;
  parent?: string;
}

/** The purpose registry: every purpose by name. */
export type PurposeRegistry = ReadonlyMap<string, PurposeDef>;

/** The policy of one field, read from @purpose / @mask / @subject. */
export interface FieldPolicy {
  /** Schema coordinate, e.g. "Device.imei". */
  coordinate: string;
  allow: ReadonlySet<string>;
  /** Mask strategy by purpose (as declared; descendants inherit through the purpose tree). */
  masks: ReadonlyMap<string, MaskStrategy>;
  /** The @subject key field itself (e.g. Subscriber.id): released under the scope rules alone. */
  identifier: boolean;
}

/** Kinds of caller (token claim `kind`). */
export type CallerKind = 'internal' | 'partner' | 'agent' | 'auditor' | 'subscriber';

/** The verified caller, from the token's top-level claims. */
export interface Caller {
  sub: string;
  kind: CallerKind;
  /** Partners and agents only: the agency whose subscribers they may see. */
  agency?: string;
  /** Purposes the token lets the caller declare. */
  purposes: readonly string[];
}

/** What decide() needs to know about the subscriber the data belongs to. */
export interface Subject {
  id: string;
  agencyId: string;
  /** ISO date (YYYY-MM-DD), or null when unknown (treated as a minor: fail closed). */
  dateOfBirth: string | null;
  directoryListing: 'LISTED' | 'UNLISTED';
}

/** The latest consent event of one purpose. */
export interface ConsentEvent {
  id: string;
  action: 'GRANT' | 'WITHDRAW';
  at: string;
}

/** The subject and their consent state as the store answered (or failed to). */
export type SubjectState =
  | { status: 'found'; subject: Subject; consents: ReadonlyMap<string, ConsentEvent> }
  | { status: 'not_found' }
  | { status: 'unavailable' };

/** Everything decide() looks at: no I/O, no clock. */
export interface DecideInput {
  registry: PurposeRegistry;
  field: FieldPolicy;
  purpose: string;
  caller: Caller;
  subject: SubjectState;
  /** The decision time (ISO 8601), used for the subject's age. */
  at: string;
}
