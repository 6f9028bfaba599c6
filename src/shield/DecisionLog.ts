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
 * Every field decision of one request, de-duplicated by (subscriber, coordinate, outcome): a
 * 500-row page records each distinct decision once with its count.
 */
export class DecisionLog {
  /** Every entry, in the order it was first recorded (the order of the audit record). */
  private readonly ordered: DecisionEntry[] = [];
  /** The entries of each (coordinate, subscriber): almost always one. No key string per decision. */
  private readonly entries = new Map<string, Map<string, DecisionEntry[]>>();
  /** Decisions made in this request, by coordinate then subscriber (no key strings built per value). */
  private readonly made = new Map<string, Map<string, MadeDecision>>();

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
    const hit = this.made.get(coordinate)?.get(subjectId);
    if (!hit) return undefined;
    hit.entry.count++;
    return hit;
  }

  /** Records the first decision for this field of this subscriber in this request, and returns it. */
  remember(subjectId: string, coordinate: string, decision: Decision): Decision {
    return this.rememberMade(subjectId, coordinate, decision).decision;
  }

  /** As `remember`, returning the made decision (see `countedMade`). */
  rememberMade(subjectId: string, coordinate: string, decision: Decision): MadeDecision {
    let bySubject = this.made.get(coordinate);
    if (!bySubject) this.made.set(coordinate, (bySubject = new Map()));
    const made: MadeDecision = { decision, entry: this.record(subjectId, coordinate, decision) };
    bySubject.set(subjectId, made);
    return made;
  }

  /** Counts one value decided `decision`; returns the entry that counts it. */
  record(subscriberId: string, coordinate: string, decision: Decision): DecisionEntry {
    const reason = decision.effect === 'DENY' ? decision.reason : undefined;
    const strategy = decision.effect === 'MASK' ? decision.strategy : undefined;
    const list = this.listOf(subscriberId, coordinate);
    const existing = outcomeIn(list, decision.effect, reason, strategy, decision.consentEventId);
    if (existing) {
      existing.count++;
      return existing;
    }
    const entry: DecisionEntry = { subscriberId, coordinate, effect: decision.effect, count: 1 };
    if (reason !== undefined) entry.reason = reason;
    if (strategy !== undefined) entry.strategy = strategy;
    if (decision.consentEventId !== undefined) entry.consentEventId = decision.consentEventId;
    list.push(entry);
    this.ordered.push(entry);
    return entry;
  }

  /** Merges decisions reported by another process (a remote subgraph). */
  merge(entries: readonly DecisionEntry[]): void {
    for (const e of entries) {
      const list = this.listOf(e.subscriberId, e.coordinate);
      const existing = outcomeIn(list, e.effect, e.reason, e.strategy, e.consentEventId);
      if (existing) {
        existing.count += e.count;
        continue;
      }
      const entry = { ...e };
      list.push(entry);
      this.ordered.push(entry);
    }
  }

  /** The entries of (subscriber, coordinate), created empty. */
  private listOf(subscriberId: string, coordinate: string): DecisionEntry[] {
    let bySubject = this.entries.get(coordinate);
    if (!bySubject) this.entries.set(coordinate, (bySubject = new Map()));
    let list = bySubject.get(subscriberId);
    if (!list) bySubject.set(subscriberId, (list = []));
    return list;
  }

  list(): DecisionEntry[] {
    return [...this.ordered];
  }
}

/** The entry of `list` with exactly this outcome, if any. */
function outcomeIn(list: readonly DecisionEntry[], effect: string, reason: string | undefined, strategy: string | undefined, consentEventId: string | undefined): DecisionEntry | undefined {
  for (const x of list) {
    if (x.effect === effect && x.reason === reason && x.strategy === strategy && x.consentEventId === consentEventId) return x;
  }
  return undefined;
}
