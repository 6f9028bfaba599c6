import type { Decision } from '../policy/index.js';

/** One decision as the audit log records it: never a field value. */
export interface DecisionEntry {
  subscriberId: string;
  coordinate: string;
  effect: Decision['effect'];
  reason?: string;
  strategy?: string;
  consentEventId?: string;
  /** How many values of this request the decision covered. */
  count: number;
}

/** A decision made in a request, and the audit entry that counts the values it decided. */
export interface MadeDecision {
  readonly decision: Decision;
  readonly entry: DecisionEntry;
}

const ENTRY_KEYS: ReadonlySet<string> = new Set(['subscriberId', 'coordinate', 'effect', 'reason', 'strategy', 'consentEventId', 'count']);

/**
 * Whether `x` is a decision as another process may report it (a remote subgraph's report): the
 * members of a DecisionEntry and no others, strings where it has strings, an effect the policy
 * knows, a reason only with DENY and a strategy only with MASK, and a count of at least one.
 * Anything else is not written to the audit log (the gateway refuses that subgraph's data).
 */
export function isDecisionEntry(x: unknown): x is DecisionEntry {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return false;
  const e = x as Record<string, unknown>;
  if (!Object.keys(e).every((k) => ENTRY_KEYS.has(k))) return false;
  if (typeof e.subscriberId !== 'string' || typeof e.coordinate !== 'string') return false;
  if (e.effect !== 'ALLOW' && e.effect !== 'MASK' && e.effect !== 'DENY') return false;
  if (!Number.isSafeInteger(e.count) || (e.count as number) < 1) return false;
  if (e.effect === 'DENY' ? typeof e.reason !== 'string' : e.reason !== undefined) return false;
  if (e.effect === 'MASK' ? typeof e.strategy !== 'string' : e.strategy !== undefined) return false;
  return e.consentEventId === undefined || typeof e.consentEventId === 'string';
}

/**
 * The decisions of one (subscriber, coordinate) in a request: the entries of its outcomes (almost
 * always one) and the decision made for it, if one was. It is itself the made decision
 * (`MadeDecision`) once `decision` is set: no object more per decision.
 */
class Slot {
  decision: Decision | undefined = undefined;
  /** The entry counting `decision`'s values, once it is made. */
  entry: DecisionEntry | undefined = undefined;
  /** The first outcome's entry, and any other's (another outcome recorded for the same pair). */
  first: DecisionEntry | undefined = undefined;
  others: DecisionEntry[] | undefined = undefined;
  constructor(readonly subjectId: string) {}
}

/**
 * Every field decision of one request, de-duplicated by (subscriber, coordinate, outcome): a
 * 500-row page records each distinct decision once with its count.
 */
export class DecisionLog {
  /** Every entry, in the order it was first recorded (the order of the audit record). */
  private readonly ordered: DecisionEntry[] = [];
  /**
   * The slot of each (coordinate, subscriber): by coordinate, the one subscriber's slot while
   * there is one (a profile: no map per field), a map of them by subscriber from the second on.
   * No key string is built per decision.
   */
  private readonly slots = new Map<string, Slot | Map<string, Slot>>();

  /**
   * The decision for one field of one subscriber in this request: made once by `decide`, then
   * counted. Within a request its inputs (subject, consent as of the decision time, caller,
   * purpose, policy) are fixed, so a 500-row page decides each column once, not 500 times.
   */
  decideOnce(subjectId: string, coordinate: string, decide: () => Decision): Decision {
    return this.counted(subjectId, coordinate) ?? this.remember(subjectId, coordinate, decide());
  }

  /** The decision already made for this field of this subscriber, counted once more; undefined if none. */
  counted(subjectId: string, coordinate: string): Decision | undefined {
    return this.countedMade(subjectId, coordinate)?.decision;
  }

  /**
   * As `counted`, returning the made decision itself: a caller that sees the same field of the
   * same subscriber again in this request counts it with `made.entry.count++` (a 500-row page's
   * column is one subscriber's), with no lookup.
   */
  countedMade(subjectId: string, coordinate: string): MadeDecision | undefined {
    const slot = this.slotOf(subjectId, coordinate, false);
    if (slot === undefined || slot.decision === undefined) return undefined;
    slot.entry!.count++;
    return slot as MadeDecision;
  }

  /** Records the first decision for this field of this subscriber in this request, and returns it. */
  remember(subjectId: string, coordinate: string, decision: Decision): Decision {
    return this.rememberMade(subjectId, coordinate, decision).decision;
  }

  /** As `remember`, returning the made decision (see `countedMade`). */
  rememberMade(subjectId: string, coordinate: string, decision: Decision): MadeDecision {
    const slot = this.slotOf(subjectId, coordinate, true)!;
    slot.entry = this.count(slot, subjectId, coordinate, decision);
    slot.decision = decision;
    return slot as MadeDecision;
  }

  /** Counts one value decided `decision`; returns the entry that counts it. */
  record(subscriberId: string, coordinate: string, decision: Decision): DecisionEntry {
    return this.count(this.slotOf(subscriberId, coordinate, true)!, subscriberId, coordinate, decision);
  }

  /** Counts one value of `slot` decided `decision`, in the entry of that outcome (created when new). */
  private count(slot: Slot, subscriberId: string, coordinate: string, decision: Decision): DecisionEntry {
    const reason = decision.effect === 'DENY' ? decision.reason : undefined;
    const strategy = decision.effect === 'MASK' ? decision.strategy : undefined;
    const existing = outcomeIn(slot, decision.effect, reason, strategy, decision.consentEventId);
    if (existing) {
      existing.count++;
      return existing;
    }
    const entry: DecisionEntry = { subscriberId, coordinate, effect: decision.effect, count: 1 };
    if (reason !== undefined) entry.reason = reason;
    if (strategy !== undefined) entry.strategy = strategy;
    if (decision.consentEventId !== undefined) entry.consentEventId = decision.consentEventId;
    add(slot, entry);
    this.ordered.push(entry);
    return entry;
  }

  /** Merges decisions reported by another process (a remote subgraph). */
  merge(entries: readonly DecisionEntry[]): void {
    for (const e of entries) {
      const slot = this.slotOf(e.subscriberId, e.coordinate, true)!;
      const existing = outcomeIn(slot, e.effect, e.reason, e.strategy, e.consentEventId);
      if (existing) {
        existing.count += e.count;
        continue;
      }
      const entry = { ...e };
      add(slot, entry);
      this.ordered.push(entry);
    }
  }

  /** The slot of (subscriber, coordinate); created empty when `create`. */
  private slotOf(subjectId: string, coordinate: string, create: boolean): Slot | undefined {
    const at = this.slots.get(coordinate);
    if (at === undefined) {
      if (!create) return undefined;
      const slot = new Slot(subjectId);
      this.slots.set(coordinate, slot);
      return slot;
    }
    if (at instanceof Slot) {
      if (at.subjectId === subjectId) return at;
      if (!create) return undefined;
      // A second subscriber for this coordinate: from now on a map by subscriber.
      const slot = new Slot(subjectId);
      this.slots.set(
        coordinate,
        new Map([
          [at.subjectId, at],
          [subjectId, slot],
        ]),
      );
      return slot;
    }
    let slot = at.get(subjectId);
    if (slot === undefined && create) at.set(subjectId, (slot = new Slot(subjectId)));
    return slot;
  }

  list(): DecisionEntry[] {
    return [...this.ordered];
  }
}

/** Adds a new outcome's entry to its slot. */
function add(slot: Slot, entry: DecisionEntry): void {
  if (slot.first === undefined) slot.first = entry;
  else (slot.others ??= []).push(entry);
}

function sameOutcome(x: DecisionEntry, effect: string, reason: string | undefined, strategy: string | undefined, consentEventId: string | undefined): boolean {
  return x.effect === effect && x.reason === reason && x.strategy === strategy && x.consentEventId === consentEventId;
}

/** The entry of `slot` with exactly this outcome, if any. */
function outcomeIn(slot: Slot, effect: string, reason: string | undefined, strategy: string | undefined, consentEventId: string | undefined): DecisionEntry | undefined {
  if (slot.first === undefined) return undefined;
  if (sameOutcome(slot.first, effect, reason, strategy, consentEventId)) return slot.first;
  if (slot.others === undefined) return undefined;
  for (const x of slot.others) if (sameOutcome(x, effect, reason, strategy, consentEventId)) return x;
  return undefined;
}
