/**
 * An independent reference model of purposegate's policy, for the differential property test.
 *
 * Written by hand FROM THE SPEC (SPEC.md §3 table and rules, §4 account metadata, `id`,
 * containers, request rejections) and, where the SPEC leaves a choice open, from the README's
 * "How to read it" (each such choice is marked README below). It imports nothing from src/policy,
 * directives/ or schema/: two implementations of one contract, compared on random cases, in the
 * spirit of Cedar's differential testing. When the two disagree, the SPEC decides who is wrong.
 */

// ---------------------------------------------------------------------------------------------
// Purposes (SPEC §3: bases, consent modes, references, the purpose tree)
// ---------------------------------------------------------------------------------------------

export const PURPOSES = [
  'SERVICE_DELIVERY',
  'BILLING',
  'CUSTOMER_SUPPORT',
  'NETWORK_OPERATIONS',
  'FRAUD_PREVENTION',
  'EMERGENCY_SERVICES',
  'LAW_ENFORCEMENT',
  'DIRECTORY_SERVICES',
  'MARKETING',
  'MARKETING_SMS',
  'MARKETING_EMAIL',
  'ANALYTICS',
  'SUBJECT_ACCESS',
  'CONSENT_MANAGEMENT',
  'AUDIT',
] as const;
export type Purpose = (typeof PURPOSES)[number];

export function isPurpose(p: string): p is Purpose {
  return (PURPOSES as readonly string[]).includes(p);
}

/** Each purpose's lawful basis (SPEC §3 table, "basis / consent" column; README "How to read it"). */
export const BASIS: Record<Purpose, 'CONTRACT' | 'LEGITIMATE_INTEREST' | 'VITAL_INTEREST' | 'LEGAL_OBLIGATION' | 'CONSENT'> = {
  SERVICE_DELIVERY: 'CONTRACT',
  BILLING: 'CONTRACT',
  CUSTOMER_SUPPORT: 'CONTRACT',
  NETWORK_OPERATIONS: 'LEGITIMATE_INTEREST',
  FRAUD_PREVENTION: 'LEGITIMATE_INTEREST',
  EMERGENCY_SERVICES: 'VITAL_INTEREST',
  LAW_ENFORCEMENT: 'LEGAL_OBLIGATION',
  DIRECTORY_SERVICES: 'CONSENT',
  MARKETING: 'CONSENT',
  MARKETING_SMS: 'CONSENT',
  MARKETING_EMAIL: 'CONSENT',
  ANALYTICS: 'CONSENT',
  SUBJECT_ACCESS: 'LEGAL_OBLIGATION',
  CONSENT_MANAGEMENT: 'LEGAL_OBLIGATION',
  AUDIT: 'LEGAL_OBLIGATION',
};

/** Consent-based purposes and their mode (SPEC §3 table, "basis / consent" column). */
export const CONSENT_MODE: Partial<Record<Purpose, 'OPT_IN' | 'OPT_OUT'>> = {
  DIRECTORY_SERVICES: 'OPT_OUT',
  MARKETING: 'OPT_IN',
  MARKETING_SMS: 'OPT_IN',
  MARKETING_EMAIL: 'OPT_IN',
  ANALYTICS: 'OPT_IN',
};

/** The purpose tree (SPEC §3: MARKETING → MARKETING_SMS, MARKETING_EMAIL). */
export const PARENT: Partial<Record<Purpose, Purpose>> = { MARKETING_SMS: 'MARKETING', MARKETING_EMAIL: 'MARKETING' };

/** Purposes that need `X-Purpose-Ref` (SPEC §3 "ref" column). */
export const REF_REQUIRED: ReadonlySet<Purpose> = new Set(['EMERGENCY_SERVICES', 'LAW_ENFORCEMENT']);

/** The purpose and its ancestors, nearest first. */
export function chainOf(p: Purpose): Purpose[] {
  const out: Purpose[] = [];
  for (let q: Purpose | undefined = p; q !== undefined; q = PARENT[q]) out.push(q);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The table: every leaf field × every purpose of the SPEC's rows
// ---------------------------------------------------------------------------------------------

export type MaskStrategy = 'LAST4' | 'COARSE_LOCATION' | 'HASH';
export type Cell = 'allow' | 'deny' | MaskStrategy;

/** The SPEC's rows (MARKETING_SMS / MARKETING_EMAIL inherit MARKETING's row: "a field that allows MARKETING allows MARKETING_SMS"). */
const ROWS = [
  'SERVICE_DELIVERY',
  'BILLING',
  'CUSTOMER_SUPPORT',
  'NETWORK_OPERATIONS',
  'FRAUD_PREVENTION',
  'EMERGENCY_SERVICES',
  'LAW_ENFORCEMENT',
  'DIRECTORY_SERVICES',
  'MARKETING',
  'ANALYTICS',
  'SUBJECT_ACCESS',
  'CONSENT_MANAGEMENT',
  'AUDIT',
] as const;

const Y = 'allow' as const;
const N = 'deny' as const;
const L4 = 'LAST4' as const;
const CO = 'COARSE_LOCATION' as const;
const H = 'HASH' as const;

/**
 * One line per leaf field, one column per row of ROWS. Transcribed from SPEC §3's table, column
 * by column; notes:
 * - `Subscriber.id`: "`id` for every purpose" (SPEC §4).
 * - `agencyId`, `directoryListing`: "Account metadata … released for SERVICE_DELIVERY, BILLING,
 *   CUSTOMER_SUPPORT, FRAUD_PREVENTION, LAW_ENFORCEMENT and DIRECTORY_SERVICES" (SPEC §4).
 * - CUSTOMER_SUPPORT: "imei/imsi/iccid masked LAST4" (macAddress not named: denied), "numbers
 *   masked LAST4, rest yes", "card LAST4 only" (README: brand and expiry denied, last4 released).
 * - NETWORK_OPERATIONS: location "cellId only"; CDRs "duration/direction/cellId, no numbers".
 * - `CallDetailRecord.id` only for purposes that see whole records (README): the SPEC's "yes"
 *   columns, not MARKETING/ANALYTICS/NETWORK_OPERATIONS whose cells list other fields only.
 * - `BillingAccount.currency` is not named in the SPEC; it goes with `balance` (an amount without
 *   its currency is meaningless).
 * - SUBJECT_ACCESS: "own record: everything" (the own-record rule is the scope check below).
 * - AUDIT: "never a subscriber value": only `id`.
 */
// prettier-ignore
const TABLE: Record<string, readonly Cell[]> = {
  //                                SD BIL CS  NO  FP  ES  LE  DIR MKT AN  SA  CM  AUD
  'Subscriber.id':                 [Y, Y,  Y,  Y,  Y,  Y,  Y,  Y,  Y,  Y,  Y,  Y,  Y],
  'Subscriber.msisdn':             [Y, Y,  Y,  Y,  Y,  Y,  Y,  Y,  Y,  N,  Y,  N,  N],
  'Subscriber.fullName':           [Y, Y,  Y,  N,  Y,  Y,  Y,  Y,  Y,  N,  Y,  N,  N],
  'Subscriber.email':              [Y, Y,  Y,  N,  Y,  N,  Y,  N,  Y,  N,  Y,  N,  N],
  'Subscriber.postalAddress':      [Y, Y,  Y,  N,  Y,  Y,  Y,  Y,  N,  N,  Y,  N,  N],
  'Subscriber.dateOfBirth':        [Y, N,  N,  N,  Y,  N,  Y,  N,  N,  N,  Y,  N,  N],
  'Subscriber.agencyId':           [Y, Y,  Y,  N,  Y,  N,  Y,  Y,  N,  N,  Y,  N,  N],
  'Subscriber.directoryListing':   [Y, Y,  Y,  N,  Y,  N,  Y,  Y,  N,  N,  Y,  N,  N],
  'Device.imei':                   [N, N,  L4, Y,  Y,  N,  Y,  N,  N,  H,  Y,  N,  N],
  'Device.imsi':                   [N, N,  L4, Y,  Y,  N,  Y,  N,  N,  N,  Y,  N,  N],
  'Device.iccid':                  [N, N,  L4, Y,  Y,  N,  Y,  N,  N,  N,  Y,  N,  N],
  'Device.macAddress':             [N, N,  N,  Y,  Y,  N,  Y,  N,  N,  N,  Y,  N,  N],
  'Device.model':                  [Y, N,  Y,  Y,  Y,  N,  Y,  N,  N,  Y,  Y,  N,  N],
  'Device.manufacturer':           [Y, N,  Y,  Y,  Y,  N,  Y,  N,  N,  Y,  Y,  N,  N],
  'Device.osVersion':              [Y, N,  Y,  Y,  Y,  N,  Y,  N,  N,  Y,  Y,  N,  N],
  'Location.cellId':               [N, N,  N,  Y,  Y,  Y,  Y,  N,  N,  N,  Y,  N,  N],
  'Location.latitude':             [N, N,  N,  N,  N,  Y,  Y,  N,  CO, CO, Y,  N,  N],
  'Location.longitude':            [N, N,  N,  N,  N,  Y,  Y,  N,  CO, CO, Y,  N,  N],
  'Location.accuracyMeters':       [N, N,  N,  N,  N,  Y,  Y,  N,  N,  N,  Y,  N,  N],
  'Location.observedAt':           [N, N,  N,  N,  N,  Y,  Y,  N,  N,  N,  Y,  N,  N],
  'CallDetailRecord.id':           [N, Y,  Y,  N,  Y,  N,  Y,  N,  N,  N,  Y,  N,  N],
  'CallDetailRecord.callingNumber':[N, Y,  L4, N,  Y,  N,  Y,  N,  N,  N,  Y,  N,  N],
  'CallDetailRecord.calledNumber': [N, Y,  L4, N,  Y,  N,  Y,  N,  N,  N,  Y,  N,  N],
  'CallDetailRecord.startedAt':    [N, Y,  Y,  N,  Y,  N,  Y,  N,  Y,  N,  Y,  N,  N],
  'CallDetailRecord.durationSeconds':[N, Y, Y, Y,  Y,  N,  Y,  N,  Y,  Y,  Y,  N,  N],
  'CallDetailRecord.direction':    [N, Y,  Y,  Y,  Y,  N,  Y,  N,  Y,  Y,  Y,  N,  N],
  'CallDetailRecord.cellId':       [N, Y,  Y,  Y,  Y,  N,  Y,  N,  N,  N,  Y,  N,  N],
  'BillingAccount.balance':        [N, Y,  Y,  N,  Y,  N,  Y,  N,  N,  N,  Y,  N,  N],
  'BillingAccount.currency':       [N, Y,  Y,  N,  Y,  N,  Y,  N,  N,  N,  Y,  N,  N],
  'PaymentCard.brand':             [N, Y,  N,  N,  Y,  N,  Y,  N,  N,  N,  Y,  N,  N],
  'PaymentCard.last4':             [N, Y,  Y,  N,  Y,  N,  Y,  N,  N,  N,  Y,  N,  N],
  'PaymentCard.expiry':            [N, Y,  N,  N,  Y,  N,  Y,  N,  N,  N,  Y,  N,  N],
  'Invoice.id':                    [N, Y,  Y,  N,  Y,  N,  Y,  N,  N,  N,  Y,  N,  N],
  'Invoice.period':                [N, Y,  Y,  N,  Y,  N,  Y,  N,  N,  N,  Y,  N,  N],
  'Invoice.amount':                [N, Y,  Y,  N,  Y,  N,  Y,  N,  N,  N,  Y,  N,  N],
  'Consent.purpose':               [N, N,  Y,  N,  N,  N,  N,  N,  N,  N,  Y,  Y,  N],
  'Consent.state':                 [N, N,  Y,  N,  N,  N,  N,  N,  N,  N,  Y,  Y,  N],
  'Consent.source':                [N, N,  Y,  N,  N,  N,  N,  N,  N,  N,  Y,  Y,  N],
  'Consent.at':                    [N, N,  Y,  N,  N,  N,  N,  N,  N,  N,  Y,  Y,  N],
};

/**
 * Container fields and the leaves below them. SPEC §4: a container "may be null or denied when
 * none of its fields is allowed for the purpose"; README: containers "are decided like leaves".
 * So a container is released (then decided like a leaf: scope, age, consent) exactly when some
 * field below it is, and "a leaf is never released on the strength of its container".
 */
const CONTAINERS: Record<string, readonly string[]> = {
  'Subscriber.devices': ['Device.'],
  'Subscriber.lastKnownLocation': ['Location.'],
  'Subscriber.callDetailRecords': ['CallDetailRecord.'],
  'Subscriber.billingAccount': ['BillingAccount.', 'PaymentCard.', 'Invoice.'],
  'BillingAccount.paymentCard': ['PaymentCard.'],
  'BillingAccount.invoices': ['Invoice.'],
  'Subscriber.consents': ['Consent.'],
};

/** The table's row for a purpose: a child of the purpose tree reads what its root reads. */
function rowOf(p: Purpose): number {
  const root = chainOf(p).at(-1)!;
  const i = (ROWS as readonly string[]).indexOf(root);
  if (i < 0) throw new Error(`No row for purpose "${p}".`);
  return i;
}

/** The static cell of a field (leaf or container) for a purpose, before subject rules. */
export function cellOf(coordinate: string, purpose: Purpose): Cell {
  const row = rowOf(purpose);
  const leaf = TABLE[coordinate];
  if (leaf) return leaf[row];
  const under = CONTAINERS[coordinate];
  if (!under) throw new Error(`The reference model has no cell for "${coordinate}".`);
  const released = Object.entries(TABLE).some(([c, cells]) => under.some((prefix) => c.startsWith(prefix)) && cells[row] !== 'deny');
  return released ? 'allow' : 'deny';
}

export const LEAF_COORDINATES: readonly string[] = Object.keys(TABLE);
export const CONTAINER_COORDINATES: readonly string[] = Object.keys(CONTAINERS);

// ---------------------------------------------------------------------------------------------
// Callers, subjects, consent events
// ---------------------------------------------------------------------------------------------

export type CallerKind = 'internal' | 'partner' | 'agent' | 'auditor' | 'subscriber';

export interface ModelCaller {
  kind: CallerKind;
  sub: string;
  agency?: string;
  purposes: readonly string[];
}

export interface ModelConsentEvent {
  purpose: string;
  action: 'GRANT' | 'WITHDRAW';
  /** ISO 8601 with milliseconds; the model keeps every event's time distinct. */
  at: string;
  source: string;
  /**
   * For an event recorded through the API the model knows only that the server stamped it while
   * the request was in flight (epoch ms, inclusive); `at` is then the middle, and no other event
   * of the model falls inside the window, so the order of events is still exact.
   */
  window?: [number, number];
}

/** A time the model knows only as a window (see ModelConsentEvent.window). */
export interface TimeWindow {
  between: [number, number];
}

export interface ModelSubject {
  id: string;
  agencyId: string;
  /** YYYY-MM-DD, or null when unknown. */
  dateOfBirth: string | null;
  directoryListing: 'LISTED' | 'UNLISTED';
  /** The model's own copy of this subscriber's consent events (never read back from the product). */
  events: ModelConsentEvent[];
}

export type DenyReason = 'PURPOSE_NOT_ALLOWED' | 'OUT_OF_SCOPE' | 'MINOR' | 'CONSENT_REQUIRED' | 'CONSENT_WITHDRAWN';

export type ModelDecision = { effect: 'ALLOW' } | { effect: 'MASK'; strategy: MaskStrategy } | { effect: 'DENY'; reason: DenyReason };

/** A partner or agent sees its own agency; a subscriber (and SUBJECT_ACCESS) their own record (SPEC §3 subject rules). */
export function isScoped(caller: ModelCaller, purpose: Purpose): boolean {
  return caller.kind === 'partner' || caller.kind === 'agent' || caller.kind === 'subscriber' || purpose === 'SUBJECT_ACCESS';
}

export function inScope(caller: ModelCaller, purpose: Purpose, subject: Pick<ModelSubject, 'id' | 'agencyId'>): boolean {
  if ((caller.kind === 'partner' || caller.kind === 'agent') && subject.agencyId !== caller.agency) return false;
  if ((caller.kind === 'subscriber' || purpose === 'SUBJECT_ACCESS') && subject.id !== caller.sub) return false;
  return true;
}

/** Whole years on the UTC calendar. README: an unknown date of birth counts as a minor. */
export function isAdult(dateOfBirth: string | null, now: Date): boolean {
  if (dateOfBirth === null) return false;
  const [y, m, d] = dateOfBirth.split('-').map(Number);
  const ny = now.getUTCFullYear();
  const nm = now.getUTCMonth() + 1;
  const nd = now.getUTCDate();
  const age = ny - y - (nm < m || (nm === m && nd < d) ? 1 : 0);
  return age >= 18;
}

/** The latest event of each purpose as of `now` (the model's times are distinct, so no tie-break is needed). */
export function latestByPurpose(events: readonly ModelConsentEvent[], now: Date): Map<string, ModelConsentEvent> {
  const latest = new Map<string, ModelConsentEvent>();
  for (const e of events) {
    if (Date.parse(e.at) > now.getTime()) continue;
    const prev = latest.get(e.purpose);
    if (!prev || Date.parse(e.at) > Date.parse(prev.at)) latest.set(e.purpose, e);
  }
  return latest;
}

/**
 * Consent for a consent-based purpose (README "Consent resolution"): UNLISTED is a standing
 * DIRECTORY_SERVICES withdrawal that no event overrides (SPEC §3, README); the purpose's own latest
 * WITHDRAW stands; otherwise the newest latest-event along the purpose and its ancestors decides;
 * with none, OPT_OUT releases and OPT_IN requires consent.
 */
export function consentOutcome(purpose: Purpose, subject: ModelSubject, now: Date): 'GRANTED' | 'CONSENT_REQUIRED' | 'CONSENT_WITHDRAWN' {
  const chain = chainOf(purpose);
  if (subject.directoryListing === 'UNLISTED' && chain.includes('DIRECTORY_SERVICES')) return 'CONSENT_WITHDRAWN';
  const latest = latestByPurpose(subject.events, now);
  if (latest.get(purpose)?.action === 'WITHDRAW') return 'CONSENT_WITHDRAWN';
  let newest: ModelConsentEvent | undefined;
  for (const p of chain) {
    const e = latest.get(p);
    if (e && (!newest || Date.parse(e.at) > Date.parse(newest.at))) newest = e;
  }
  if (newest) return newest.action === 'GRANT' ? 'GRANTED' : 'CONSENT_WITHDRAWN';
  const mode = chain.map((p) => CONSENT_MODE[p]).find((m) => m !== undefined);
  return mode === 'OPT_OUT' ? 'GRANTED' : 'CONSENT_REQUIRED';
}

/**
 * The decision for one field of one subscriber. Order (README "Order in decide()"): the table
 * (purpose tree) → scope → for consent-based purposes only, and never for `id` (README: "`id` …
 * without a consent or age check"): age (MINOR) → consent → mask.
 */
export function decideModel(coordinate: string, purpose: Purpose, caller: ModelCaller, subject: ModelSubject, now: Date): ModelDecision {
  const cell = cellOf(coordinate, purpose);
  if (cell === 'deny') return { effect: 'DENY', reason: 'PURPOSE_NOT_ALLOWED' };
  if (!inScope(caller, purpose, subject)) return { effect: 'DENY', reason: 'OUT_OF_SCOPE' };
  if (coordinate !== 'Subscriber.id' && CONSENT_MODE[purpose] !== undefined) {
    if (!isAdult(subject.dateOfBirth, now)) return { effect: 'DENY', reason: 'MINOR' };
    const c = consentOutcome(purpose, subject, now);
    if (c !== 'GRANTED') return { effect: 'DENY', reason: c };
  }
  return cell === 'allow' ? { effect: 'ALLOW' } : { effect: 'MASK', strategy: cell };
}

/** The `consents` view (SPEC §6 "current state"): one entry per purpose with an event, the standing UNLISTED withdrawal instead of any DIRECTORY_SERVICES event. */
export function consentsView(subject: ModelSubject, now: Date): Array<{ purpose: string; state: 'GRANTED' | 'WITHDRAWN'; source: string; at: string | TimeWindow | null }> {
  const out: Array<{ purpose: string; state: 'GRANTED' | 'WITHDRAWN'; source: string; at: string | TimeWindow | null }> = [];
  for (const e of latestByPurpose(subject.events, now).values()) {
    if (subject.directoryListing === 'UNLISTED' && e.purpose === 'DIRECTORY_SERVICES') continue;
    out.push({ purpose: e.purpose, state: e.action === 'GRANT' ? 'GRANTED' : 'WITHDRAWN', source: e.source, at: e.window ? { between: e.window } : e.at });
  }
  if (subject.directoryListing === 'UNLISTED') out.push({ purpose: 'DIRECTORY_SERVICES', state: 'WITHDRAWN', source: 'directory-listing', at: null });
  return out;
}

/**
 * Who may record consent (grantConsent / withdrawConsent): CONSENT_MANAGEMENT ("read + write",
 * SPEC §3) and SUBJECT_ACCESS for one's own record (README: "with purpose CONSENT_MANAGEMENT (or
 * SUBJECT_ACCESS for one's own record)"), within the caller's scope; an unknown subscriber is
 * OUT_OF_SCOPE (README, field-level denials). Neither purpose is consent-based: no age or consent check.
 */
export function decideConsentWrite(purpose: Purpose, caller: ModelCaller, subject: ModelSubject | undefined): ModelDecision {
  if (purpose !== 'CONSENT_MANAGEMENT' && purpose !== 'SUBJECT_ACCESS') return { effect: 'DENY', reason: 'PURPOSE_NOT_ALLOWED' };
  if (!subject || !inScope(caller, purpose, subject)) return { effect: 'DENY', reason: 'OUT_OF_SCOPE' };
  return { effect: 'ALLOW' };
}

/**
 * A consent event can only be recorded for a purpose that rests on consent: for any other, an
 * allowed writer gets BAD_USER_INPUT with this message and nothing is recorded (README, consent).
 */
export function consentWriteRefusal(target: Purpose): string | undefined {
  if (BASIS[target] === 'CONSENT') return undefined;
  return `Purpose "${target}" does not rest on consent (its basis is ${BASIS[target]}): there is no consent to grant or withdraw.`;
}

// ---------------------------------------------------------------------------------------------
// Masks (README "How to read it")
// ---------------------------------------------------------------------------------------------

/** LAST4: "all but the last four characters replaced by `*`" (values here are all longer than four). */
export function maskLast4(value: string): string {
  return '*'.repeat(Math.max(0, value.length - 4)) + value.slice(-4);
}

/** COARSE_LOCATION: "rounds coordinates to two decimals (about 1 km)". */
export function maskCoarse(value: number): number {
  return Math.round(value * 100) / 100;
}

/** HASH: a keyed hash we cannot recompute without the key; this is the shape we accept. */
export const HASH_SHAPE = /^[0-9a-f]{16,128}$/;

// ---------------------------------------------------------------------------------------------
// Request-level admission (SPEC §4 rejections; README step 2 for the kind-bound purposes)
// ---------------------------------------------------------------------------------------------

export type Admission = { ok: true; purpose: Purpose } | { ok: false; status: number; code: string };

/**
 * Token → purpose header → registry → token's purposes (README: AUDIT only for `auditor`,
 * SUBJECT_ACCESS only for `subscriber`, and those kinds declare nothing else) → reference.
 */
export function admit(token: ModelCaller | null, declared: string | null, ref: string | undefined): Admission {
  if (token === null) return { ok: false, status: 401, code: 'UNAUTHENTICATED' };
  if (declared === null || declared.trim() === '') return { ok: false, status: 400, code: 'PURPOSE_REQUIRED' };
  if (!isPurpose(declared)) return { ok: false, status: 400, code: 'UNKNOWN_PURPOSE' };
  if (!token.purposes.includes(declared)) return { ok: false, status: 403, code: 'PURPOSE_NOT_PERMITTED' };
  if (token.kind === 'auditor' && declared !== 'AUDIT') return { ok: false, status: 403, code: 'PURPOSE_NOT_PERMITTED' };
  if (token.kind === 'subscriber' && declared !== 'SUBJECT_ACCESS') return { ok: false, status: 403, code: 'PURPOSE_NOT_PERMITTED' };
  if (declared === 'AUDIT' && token.kind !== 'auditor') return { ok: false, status: 403, code: 'PURPOSE_NOT_PERMITTED' };
  if (declared === 'SUBJECT_ACCESS' && token.kind !== 'subscriber') return { ok: false, status: 403, code: 'PURPOSE_NOT_PERMITTED' };
  if (REF_REQUIRED.has(declared) && (ref === undefined || ref.trim() === '')) return { ok: false, status: 403, code: 'PURPOSE_REF_REQUIRED' };
  return { ok: true, purpose: declared };
}
