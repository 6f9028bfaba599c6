import { readPolicyMap, readRegistry } from '../../directives/index.js';
import { loadSubjects, type LoadedSubject } from '../consent/index.js';
import type { Db } from '../db/index.js';
import { admitRequest, decide, type Decision, type FieldPolicy, type PurposeRegistry } from '../policy/index.js';
import type { AuditLeaf, LoggedDecision } from './AuditRecord.js';
import type { AuditStore } from './AuditStore.js';
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
  return {
    registry,
    field(coordinate) {
      const dot = coordinate.indexOf('.');
      return map.field(coordinate.slice(0, dot), coordinate.slice(dot + 1));
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

/**
 * Re-runs decide() — the same function the gateway runs — for every logged decision, with the
 * logged caller and purpose, the policy version in force then (or `proposed`, for a what-if),
 * and the consent history as of the record's decision time. Request-level purpose rejections are
 * re-checked too. Reports every decision that comes out differently.
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
    if (options.proposed) return options.proposed;
    let p = policies.get(hash);
    if (!p) {
      p = policyFromText(await loadPolicyVersion(db, hash));
      policies.set(hash, p);
    }
    return p;
  };
  const report: ReplayReport = { records: 0, decisions: 0, mismatches: [] };
  let after: { at: string; recordId: string } | undefined;
  for (;;) {
    const page = await store.recordsBetween(options.since, options.until, after, 2000);
    if (page.length === 0) break;
    for (const row of page) {
      after = { at: row.at, recordId: row.recordId };
      const leaf = JSON.parse(row.body) as AuditLeaf;
      report.records++;
      const policy = await policyFor(leaf.policyVersion);
      const base = { recordId: leaf.recordId, at: leaf.at, purpose: leaf.purpose };
      if (leaf.rejection && leaf.caller && ['PURPOSE_REQUIRED', 'UNKNOWN_PURPOSE', 'PURPOSE_NOT_PERMITTED', 'PURPOSE_REF_REQUIRED'].includes(leaf.rejection.code)) {
        const again = admitRequest(policy.registry, leaf.caller, leaf.purpose ?? undefined, leaf.ref ?? undefined);
        const code = again.ok ? 'ADMITTED' : again.code;
        if (code !== leaf.rejection.code) report.mismatches.push({ ...base, logged: leaf.rejection.code, replayed: code });
      }
      if (leaf.decisions.length === 0) continue;
      const ids = [...new Set(leaf.decisions.map((d) => d.subscriberId))];
      const subjects = new Map<string, LoadedSubject>((await loadSubjects(db, ids, leaf.at)).map((s, i) => [ids[i], s]));
      for (const d of leaf.decisions) {
        report.decisions++;
        const field = policy.field(d.coordinate);
        const where = { ...base, subscriberId: d.subscriberId, coordinate: d.coordinate, logged: showLogged(d) };
        if (!field) {
          report.mismatches.push({ ...where, replayed: 'no such field in the policy' });
          continue;
        }
        // A store that could not answer then is a logged input too.
        const subject: LoadedSubject = d.reason === 'CONSENT_UNAVAILABLE' ? { status: 'unavailable' } : subjects.get(d.subscriberId)!;
        const again = decide({ registry: policy.registry, field, purpose: leaf.purpose!, caller: leaf.caller!, subject, at: leaf.at });
        const same =
          again.effect === d.effect &&
          (again.effect !== 'DENY' || again.reason === d.reason) &&
          (again.effect !== 'MASK' || again.strategy === d.strategy) &&
          (again.consentEventId ?? undefined) === (d.consentEventId ?? undefined);
        if (!same) report.mismatches.push({ ...where, replayed: show(again) });
      }
    }
    options.onProgress?.(report.records);
  }
  return report;
}
