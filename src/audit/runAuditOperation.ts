import type { Db } from '../db/index.js';
import { dbAuditStore } from './AuditStore.js';
import { proveConsistency, proveRecord } from './proofs.js';
import { parseVerifierKey } from './checkpoint.js';
import { policyFromText, replay } from './replay.js';
import { subscriberAccesses } from './subscriberReport.js';
import { verifyLogs, type TrustedKey } from './verifyLogs.js';

/** The audit operations the CLI runs, on a store it opened or inside the server that holds it. */
export type AuditOperation =
  | {
      op: 'verify';
      /** Checkpoint notes held outside the store. */
      witnesses?: string[];
      /** Worker threads that check records (0 to 8; default one per core beyond the reading one). */
      workers?: number;
      /** Note verifier keys (as in audit.pub) trusted beside the runner's own (`--key` through a server). */
      keys?: string[];
    }
  | { op: 'replay'; since?: string; until?: string; /** A proposed policy text (what-if). */ policyText?: string }
  | { op: 'report'; subscriber: string }
  | { op: 'prove'; record?: string; consistency?: number; log?: string }
  | { op: 'export' };

/** An ISO 8601 date or date-time (with seconds' fraction and zone optional) that names a real instant. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/** Checks an operation's arguments (the CLI's, or a POST /audit/<op> body): a bad one is the caller's, said in one sentence starting "Pass". */
export function checkAuditArguments(operation: AuditOperation): void {
  const o = operation as Record<string, unknown>;
  const str = (name: string, flag: string) => {
    if (o[name] !== undefined && (typeof o[name] !== 'string' || o[name] === '')) throw new Error(`Pass ${flag} as a non-empty string, not ${JSON.stringify(o[name])}.`);
  };
  switch (operation.op) {
    case 'verify':
      if (o.witnesses !== undefined && !(Array.isArray(o.witnesses) && o.witnesses.every((w) => typeof w === 'string'))) {
        throw new Error(`Pass "witnesses" as an array of checkpoint notes, not ${JSON.stringify(o.witnesses)}.`);
      }
      if (o.keys !== undefined && !(Array.isArray(o.keys) && o.keys.every((k) => typeof k === 'string'))) {
        throw new Error(`Pass "keys" as an array of note verifier keys, not ${JSON.stringify(o.keys)}.`);
      }
      return;
    case 'replay':
      for (const [name, flag] of [['since', '--since'], ['until', '--until']] as const) {
        const v = o[name];
        if (v !== undefined && !(typeof v === 'string' && ISO_TIME.test(v) && !Number.isNaN(Date.parse(v)))) {
          throw new Error(`Pass ${flag} as an ISO 8601 time such as 2026-12-04T10:00:00Z, not ${JSON.stringify(v)}.`);
        }
      }
      str('policyText', 'the proposed policy ("policyText")');
      return;
    case 'report':
      if (typeof o.subscriber !== 'string' || o.subscriber === '') throw new Error(`Pass --subscriber as a subscriber id, not ${JSON.stringify(o.subscriber)}.`);
      return;
    case 'prove':
      str('record', '--record');
      str('log', '--log');
      if (o.consistency !== undefined && !(Number.isSafeInteger(o.consistency) && (o.consistency as number) > 0)) {
        throw new Error(`Pass --consistency as the size of a checkpoint (a whole number from 1), not ${JSON.stringify(o.consistency)}.`);
      }
      return;
    default:
      return;
  }
}

/** Runs one audit operation; the result is plain JSON. Timing covers the work, not opening the store. */
export async function runAuditOperation(
  db: Pick<Db, 'query'> & { kind?: Db['kind'] },
  operation: AuditOperation,
  trusted: readonly TrustedKey[],
  /** Records processed so far (verify, replay), for a progress bar. */
  onProgress?: (n: number) => void,
): Promise<{ result: unknown; seconds: number }> {
  const store = dbAuditStore(db);
  const started = process.hrtime.bigint();
  const done = (result: unknown) => ({ result, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
  checkAuditArguments(operation);
  switch (operation.op) {
    case 'verify':
      {
        const { workers } = operation;
        if (workers !== undefined && !(Number.isInteger(workers) && workers >= 0 && workers <= 8)) {
          throw new Error(`Pass --workers as a whole number from 0 to 8, not ${JSON.stringify(workers)}.`);
        }
        const extra = (operation.keys ?? []).map((k, i) => {
          try {
            return parseVerifierKey(k);
          } catch (err) {
            throw new Error(`"keys" item ${i} is not a note verifier key: ${(err as Error).message}`);
          }
        });
        let n = 0;
        return done(await verifyLogs(store, [...trusted, ...extra], { witnesses: operation.witnesses, workers, onLeaf: onProgress && (() => ++n % 2000 === 0 && onProgress(n)) }));
      }
    case 'replay':
      return done(
        await replay({
          store,
          db,
          since: operation.since,
          until: operation.until,
          proposed: operation.policyText ? policyFromText(operation.policyText) : undefined,
          onProgress,
        }),
      );
    case 'report':
      return done(await subscriberAccesses(db, operation.subscriber));
    case 'prove':
      if (operation.record) return done(await proveRecord(store, operation.record));
      if (operation.consistency !== undefined && operation.log) return done(await proveConsistency(store, operation.log, operation.consistency));
      throw new Error('Pass --record ID, or --consistency SIZE --log ID.');
    case 'export': {
      const lines: unknown[] = [];
      const versions = await db.query<{ hash: string; sdl: string }>('SELECT hash, sdl FROM policy_versions ORDER BY created_at, hash');
      for (const v of versions.rows) lines.push({ type: 'policyVersion', hash: v.hash, sdl: v.sdl });
      for (const log of await store.logs()) {
        lines.push({ type: 'log', ...log });
        for (let seq = 0; ; ) {
          const page = await store.records(log.logId, seq, 10_000);
          for (const r of page) lines.push({ type: 'record', logId: log.logId, seq: r.seq, recordId: r.recordId, leafHash: r.leafHash, leaf: JSON.parse(r.body) });
          if (page.length < 10_000) break;
          seq = page[page.length - 1].seq + 1;
        }
        for (const c of await store.checkpoints(log.logId)) lines.push({ type: 'checkpoint', logId: log.logId, size: c.size, note: c.note });
        // The log's last word (closed by its writer, or sealed by a later process), as its note says.
        for (const c of await store.closures(log.logId)) lines.push({ type: 'closure', logId: log.logId, size: c.size, note: c.note });
      }
      return done(lines);
    }
    default: {
      const never: never = operation;
      throw new Error(`Unknown audit operation ${JSON.stringify(never)}.`);
    }
  }
}
