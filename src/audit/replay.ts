import { readPolicyMap, readRegistry } from '../../directives/index.js';
import { loadSubjectsAsOf, type LoadedSubject, type SubjectAsOf } from '../consent/index.js';
import type { Db } from '../db/index.js';
import { admitRequest, decide, type Decision, type FieldPolicy, type PurposeRegistry } from '../policy/index.js';
import type { AuditLeaf, LoggedDecision } from './AuditRecord.js';
import type { AuditStore, StoredRecord } from './AuditStore.js';
import { loadPolicyVersion, splitPolicyText } from './policyVersions.js';

/** A policy as replay needs it: the registry and each coordinate's field policy. */
export interface ReplayPolicy {
  registry: PurposeRegistry;
  field(coordinate: string): FieldPolicy | undefined;
}

/** Builds a replay policy from a stored policy text (supergraph SDL + registry). */
export function policyFromText(text: string): ReplayPolicy {
  const { supergraphSdl, purposesSdl } = splitPolicyText(text);
  const registry = readRegistry(purposesSdl);
  const map = readPolicyMap(supergraphSdl, registry);
  // A log names the same few coordinates over and over: look each up once.
  const fields = new Map<string, FieldPolicy | undefined>();
  return {
    registry,
    field(coordinate) {
      if (fields.has(coordinate)) return fields.get(coordinate);
      const dot = coordinate.indexOf('.');
      const field = map.field(coordinate.slice(0, dot), coordinate.slice(dot + 1));
      fields.set(coordinate, field);
      return field;
    },
  };
}

/** One decision replay disagrees with. */
export interface Mismatch {
  recordId: string;
  at: string;
  purpose: string | null;
  subscriberId?: string;
  coordinate?: string;
  logged: string;
  replayed: string;
}

/** What `audit replay` found. */
export interface ReplayReport {
  records: number;
  decisions: number;
  mismatches: Mismatch[];
}

const show = (d: Partial<Decision> & { effect: string }) =>
  [d.effect, 'reason' in d ? d.reason : undefined, 'strategy' in d ? d.strategy : undefined, d.consentEventId ? `event ${d.consentEventId}` : undefined]
    .filter(Boolean)
    .join(' ');

const showLogged = (d: LoggedDecision) => show({ effect: d.effect, reason: d.reason, strategy: d.strategy, consentEventId: d.consentEventId } as never);

/** Records per read; the next page is read while this one is replayed. */
const PAGE = 500;

/** Request-level rejections that depend on the policy (the purpose registry), so replay re-checks them. */
const PURPOSE_REJECTIONS: ReadonlySet<string> = new Set(['PURPOSE_REQUIRED', 'UNKNOWN_PURPOSE', 'PURPOSE_NOT_PERMITTED', 'PURPOSE_REF_REQUIRED']);

/**
 * Re-runs decide() — the same function the gateway runs — for every logged decision, with the
 * logged caller and purpose, the policy version in force then (or `proposed`, for a what-if),
 * and the consent history as of the record's decision time. Request-level purpose rejections are
 * re-checked too. Reports every decision that comes out differently. Records are read a page at
 * a time, and the subjects of a whole page are loaded in one query.
 */
export async function replay(options: {
  store: AuditStore;
  db: Pick<Db, 'query'>;
  since?: string;
  until?: string;
  /** A proposed policy to compare against instead of each record's own. */
  proposed?: ReplayPolicy;
  onProgress?: (records: number) => void;
}): Promise<ReplayReport> {
  const { store, db } = options;
  const policies = new Map<string, ReplayPolicy>();
  const policyFor = async (hash: string) => {
    let p = policies.get(hash);
    if (!p) {
      p = policyFromText(await loadPolicyVersion(db, hash));
      policies.set(hash, p);
    }
    return p;
  };
  const report: ReplayReport = { records: 0, decisions: 0, mismatches: [] };
  const read = (after: { at: string; recordId: string } | undefined) => {
    const page = store.recordsBetween(options.since, options.until, after, PAGE);
    page.catch(() => undefined); // awaited on the next turn, or in finally
    return page;
  };
  let reading: Promise<Array<StoredRecord & { at: string }>> | undefined = read(undefined);
  try {
    while (reading) {
      const page: Array<StoredRecord & { at: string }> = await reading;
      const last = page[page.length - 1];
      reading = page.length === PAGE ? read({ at: last.at, recordId: last.recordId }) : undefined;
      const leaves = page.map((row) => JSON.parse(row.body) as AuditLeaf);
      const subjects = await subjectsOfPage(db, leaves);
      for (const leaf of leaves) {
        report.records++;
        const policy = options.proposed ?? policies.get(leaf.policyVersion) ?? (await policyFor(leaf.policyVersion));
        replayRecord(leaf, policy, subjects, report);
      }
      if (page.length > 0) options.onProgress?.(report.records);
    }
  } finally {
    await reading?.catch(() => undefined);
  }
  return report;
}

/** Subjects of a page, by record time then subscriber: one query for the whole page. */
type PageSubjects = ReadonlyMap<string, ReadonlyMap<string, LoadedSubject>>;

async function subjectsOfPage(db: Pick<Db, 'query'>, leaves: readonly AuditLeaf[]): Promise<PageSubjects> {
  const keys: SubjectAsOf[] = [];
  const byTime = new Map<string, Map<string, LoadedSubject>>();
  for (const leaf of leaves) {
    for (const d of leaf.decisions) {
      let at = byTime.get(leaf.at);
      if (!at) byTime.set(leaf.at, (at = new Map()));
      if (at.has(d.subscriberId)) continue;
      at.set(d.subscriberId, { status: 'unavailable' }); // replaced below
      keys.push({ id: d.subscriberId, asOf: leaf.at });
    }
  }
  const loaded = await loadSubjectsAsOf(db, keys);
  keys.forEach((k, i) => byTime.get(k.asOf)!.set(k.id, loaded[i]));
  return byTime;
}

/** Re-decides one record's rejection and decisions, adding what differs to the report. */
function replayRecord(leaf: AuditLeaf, policy: ReplayPolicy, subjects: PageSubjects, report: ReplayReport): void {
  // No closures per decision here: the loader (tsx) wraps every function it creates to keep its name.
  if (leaf.rejection && leaf.caller && PURPOSE_REJECTIONS.has(leaf.rejection.code)) {
    const again = admitRequest(policy.registry, leaf.caller, leaf.purpose ?? undefined, leaf.ref ?? undefined);
    const code = again.ok ? 'ADMITTED' : again.code;
    if (code !== leaf.rejection.code) report.mismatches.push({ recordId: leaf.recordId, at: leaf.at, purpose: leaf.purpose, logged: leaf.rejection.code, replayed: code });
  }
  for (const d of leaf.decisions) {
    report.decisions++;
    const field = policy.field(d.coordinate);
    if (!field) {
      report.mismatches.push(mismatch(leaf, d, 'no such field in the policy'));
      continue;
    }
    // A store that could not answer then is a logged input too.
    const subject: LoadedSubject = d.reason === 'CONSENT_UNAVAILABLE' ? { status: 'unavailable' } : subjects.get(leaf.at)!.get(d.subscriberId)!;
    const again = decide({ registry: policy.registry, field, purpose: leaf.purpose!, caller: leaf.caller!, subject, at: leaf.at });
    const same =
      again.effect === d.effect &&
      (again.effect !== 'DENY' || again.reason === d.reason) &&
      (again.effect !== 'MASK' || again.strategy === d.strategy) &&
      (again.consentEventId ?? undefined) === (d.consentEventId ?? undefined);
    if (!same) report.mismatches.push(mismatch(leaf, d, show(again)));
  }
}

function mismatch(leaf: AuditLeaf, d: LoggedDecision, replayed: string): Mismatch {
  return { recordId: leaf.recordId, at: leaf.at, purpose: leaf.purpose, subscriberId: d.subscriberId, coordinate: d.coordinate, logged: showLogged(d), replayed };
}
