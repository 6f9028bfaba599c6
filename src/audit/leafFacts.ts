import type { AuditLeaf } from './AuditRecord.js';

/**
 * What `audit verify` checks in a leaf's body beyond its hash: its position in the log and the
 * values its query columns copy. Each is exactly what `JSON.parse` of the body gives (unknown:
 * a damaged or forged body may hold anything there).
 */
export interface LeafFacts {
  logId: unknown;
  seq: unknown;
  recordId: unknown;
  at: unknown;
  purpose: unknown;
  /** `caller.sub`, or null when there is none. */
  callerSub: unknown;
  /** `caller.kind`, or null when there is none. */
  callerKind: unknown;
  /** `rejection.code`, or null when there is none. */
  rejectionCode: unknown;
  /** The distinct `subscriberId`s of the decisions, in order of first appearance. */
  subscriberIds: unknown[];
}

/** The body is not JSON, or not a JSON object: what verify reports instead of facts. */
export type LeafFactsProblem = 'not JSON' | 'not an object';

/**
 * The facts of a leaf body: read by `canonicalFacts` when the body has the canonical shape the
 * writer produces (the common case, about three times faster and with little garbage), otherwise
 * by `JSON.parse`. Both give the same facts for any body the first accepts
 * (test/unit/leafFacts.test.ts checks them against each other on random and damaged bodies).
 */
export function leafFacts(body: string): LeafFacts | LeafFactsProblem {
  let facts: LeafFacts | undefined;
  try {
    facts = canonicalFacts(body);
  } catch {
    // Not expected (the fast path takes no body with an escape, so its expressions hold no loop
    // per escape, and they ran on 16 MB strings in tests), but a regular expression engine out of
    // memory or stack must never fail a record that JSON.parse reads.
  }
  return facts ?? parsedFacts(body);
}

/** The facts by `JSON.parse` of the whole body. */
export function parsedFacts(body: string): LeafFacts | LeafFactsProblem {
  let leaf: AuditLeaf;
  try {
    leaf = JSON.parse(body) as AuditLeaf;
  } catch {
    return 'not JSON';
  }
  if (typeof leaf !== 'object' || leaf === null) return 'not an object';
  return {
    logId: leaf.logId,
    seq: leaf.seq,
    recordId: leaf.recordId,
    at: leaf.at,
    purpose: leaf.purpose,
    callerSub: leaf.caller?.sub ?? null,
    callerKind: leaf.caller?.kind ?? null,
    rejectionCode: leaf.rejection?.code ?? null,
    subscriberIds: distinctSubscribers(leaf.decisions),
  };
}

function distinctSubscribers(decisions: unknown): unknown[] {
  if (!Array.isArray(decisions)) return [];
  return distinct(decisions.map((d) => (d as { subscriberId?: unknown } | null)?.subscriberId));
}

/** `values` without repeats, in order of first appearance. */
function distinct<T>(values: T[]): T[] {
  // Most records name one subscriber or a few: a linear scan beats a Set there.
  if (values.length > 16) return [...new Set(values)];
  const out: T[] = [];
  for (const v of values) if (!out.includes(v)) out.push(v);
  return out;
}

// A JSON string's content without escapes (RFC 8259: no raw control characters; the fast path
// takes no body that holds a backslash, so the content is the string's value as it stands).
const CHARS = String.raw`[^"\\\u0000-\u001f]*`;
const STRING = `"${CHARS}"`;
const CAPTURED_STRING = `"(${CHARS})"`;
const INTEGER = '-?(?:0|[1-9][0-9]*)';

/** A decision's members before `subscriberId`, as the writer serialises them (canonicalJson's DECISION_KEYS, in that order, each optional). */
const DECISION_MEMBERS =
  `(?:"consentEventId":${STRING},)?(?:"coordinate":${STRING},)?(?:"count":${INTEGER},)?(?:"effect":${STRING},)?` +
  `(?:"reason":${STRING},)?(?:"strategy":${STRING},)?`;

/**
 * A run of consecutive decisions about one subscriber, as the writer serialises them, then the
 * `,` or `]` after the run. Capture 1: the subscriber id's content (each later decision of the
 * run names the same, by backreference, closed by its quote); capture 2: the separator. One
 * match per run, not per decision: a record's decisions are mostly about one subscriber (10
 * decisions: 1.5 us against 2.5 one by one, measured).
 */
const DECISION_RUN = new RegExp(
  `\\{${DECISION_MEMBERS}"subscriberId":${CAPTURED_STRING}\\}(?:,\\{${DECISION_MEMBERS}"subscriberId":"\\1"\\})*([,\\]])`,
  'y',
);

/**
 * The members after the decisions, in canonical order, to the end of the body. Captures: logId,
 * purpose (undefined for null), recordId, rejection code (undefined for null), seq.
 */
const AFTER_DECISIONS = new RegExp(
  `,"documentHash":(?:null|${STRING}),"logId":${CAPTURED_STRING},"operationName":(?:null|${STRING}),` +
    `"policyVersion":${STRING},"purpose":(?:null|${CAPTURED_STRING}),"recordId":${CAPTURED_STRING},"ref":(?:null|${STRING}),` +
    `"rejection":(?:null|\\{"code":${CAPTURED_STRING},"status":${INTEGER}\\}),"requestId":${STRING},"seq":(${INTEGER}),"v":1\\}$`,
  'y',
);

/**
 * The members before the decisions as the writer serialises them: `at`, then `caller`, null or a
 * caller of plain strings (canonical order; a caller with an `act` member, or any other shape, is
 * left to JSON.parse). Captures: at, caller kind, caller sub (both undefined for null).
 */
const HEAD = new RegExp(
  `\\{"at":${CAPTURED_STRING},"caller":(?:null|\\{(?:"agency":${STRING},)?(?:"jti":${STRING},)?"kind":${CAPTURED_STRING},` +
    `"purposes":\\[(?:${STRING}(?:,${STRING})*)?\\],"sub":${CAPTURED_STRING}\\})`,
  'y',
);

const DECISIONS_KEY = ',"decisions":[';

/**
 * The facts of a body in the writer's canonical shape — the members before the decisions, the
 * decisions, then the remaining members in canonical order — or undefined for any other body
 * (which `JSON.parse` then reads), such as any body that holds an escape. Sound for any input,
 * not only for bodies the writer wrote:
 *
 * - The body is split at the first `,"decisions":[`. The part before it must match HEAD (the
 *   writer's `at` and `caller`, by JSON's grammar) exactly, or, closed with `}`, parse as an
 *   object of at least one member; so the split is between two members of the
 *   outermost object (inside a string the part would end in an unterminated string, inside a
 *   nested value it would leave a bracket open), and the part is valid JSON up to there.
 * - The decisions, then the members after them to the end of the body, are matched by strict
 *   regular expressions of JSON's own grammar (strings without escapes), so the whole body is
 *   valid JSON, and each string matched is its own value.
 * - `JSON.parse` keeps the last of duplicate members: none of the members matched after the
 *   decisions repeats one before it that a fact is read from (`at`, `caller`), and the decisions
 *   matched here come after any earlier `decisions` member, so each fact is the one it would keep.
 */
export function canonicalFacts(body: string): LeafFacts | undefined {
  // A leaf with an escaped character (a quote, a backslash, a control character in one of its
  // strings) is rare: it is left to JSON.parse, which keeps the expressions free of a loop per
  // escape (a regular expression engine's backtracking stack overflowed at about a million
  // escapes in one string, measured).
  if (body.includes('\\')) return undefined;
  const split = body.indexOf(DECISIONS_KEY);
  if (split < 0) return undefined;
  let head: { at?: unknown; caller?: { sub?: unknown; kind?: unknown } | null };
  HEAD.lastIndex = 0;
  const plain = HEAD.exec(body);
  if (plain && HEAD.lastIndex === split) {
    // The head in the writer's own shape, matched by JSON's grammar up to the split (a quarter
    // of the cost of parsing it).
    const [, at, kind, sub] = plain;
    head = { at, caller: kind === undefined ? null : { kind, sub } };
  } else {
    try {
      head = JSON.parse(`${body.slice(0, split)}}`) as typeof head;
    } catch {
      return undefined;
    }
    // Valid JSON text that ends in `}` is an object; an empty one means the split followed `{`.
    if (Object.keys(head).length === 0) return undefined;
  }

  const ids: string[] = [];
  let pos = split + DECISIONS_KEY.length;
  if (body.charCodeAt(pos) === 0x5d /* ] */) pos++;
  else {
    for (;;) {
      DECISION_RUN.lastIndex = pos;
      const m = DECISION_RUN.exec(body);
      if (!m) return undefined;
      ids.push(m[1]);
      pos = DECISION_RUN.lastIndex;
      if (m[2] === ']') break;
    }
  }
  AFTER_DECISIONS.lastIndex = pos;
  const tail = AFTER_DECISIONS.exec(body);
  if (!tail) return undefined;
  const [, logId, purpose, recordId, rejectionCode, seq] = tail;
  const caller = head.caller;
  return {
    logId,
    seq: Number(seq),
    recordId,
    at: head.at,
    purpose: purpose ?? null,
    callerSub: caller?.sub ?? null,
    callerKind: caller?.kind ?? null,
    rejectionCode: rejectionCode ?? null,
    subscriberIds: distinct(ids),
  };
}
