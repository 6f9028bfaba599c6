import type { AuditStore, RecordPage, StoredLog } from './AuditStore.js';
import type { CopiedPage } from './copiedRecords.js';
import { finality, openCheckpoint, type Checkpoint } from './checkpoint.js';
import type { LiveLogs } from './logLiveness.js';
import type { CheckedRecords } from './checkRecords.js';
import { Frontier } from './merkle.js';
import { defaultVerifyWorkers, inThreadCheckers, workerCheckers, type RecordCheckers } from './RecordCheckers.js';

/** The first break found in one log. */
export interface LogProblem {
  logId: string;
  /** Index (sequence number) of the first broken record. */
  index: number;
  message: string;
}

/** What `audit verify` found. */
export interface VerifyReport {
  ok: boolean;
  logs: Array<{
    logId: string;
    records: number;
    checkpoints: number;
    /**
     * closed: its writer closed it; sealed: a later process signed its records for a writer that
     * stopped without closing it; live: its writer is running; open: none of these (then every
     * record must be under a checkpoint).
     */
    state?: 'closed' | 'sealed' | 'live' | 'open';
    /** Sealed: the log the sealing process wrote, and the records its seal alone covers (from, to exclusive). */
    sealedBy?: string;
    sealedRecords?: [number, number];
    /** Live: records past its newest checkpoint (the writer's next checkpoint covers them). */
    pending?: number;
    problem?: LogProblem;
  }>;
  leaves: number;
  /** The first problem, by log then index. */
  problem?: LogProblem;
}

/** A key an auditor trusts to sign checkpoints. */
export interface TrustedKey {
  name: string;
  publicKey: Buffer;
}

/** Records per read: a power of two, so that a full page is one perfect subtree (CheckedRecords.root). */
const PAGE = 512;

/**
 * With the workers sharing the checks with this thread (VerifyOptions.readerChecks), how many
 * more pages may wait to be added to the tree (counted from the oldest not yet added, whichever
 * side checks it) than the workers alone would hold: room for this thread to check pages itself
 * while the workers hold all they can take (RecordCheckers.saturated). On two cores reading
 * PostgreSQL, this thread otherwise waited for the one worker about half the time.
 */
const READER_AHEAD = 8;

/** How verify spreads its work. */
export interface VerifyOptions {
  /** Checkpoint notes held outside the store (witness files, an auditor's copies). */
  witnesses?: readonly string[];
  onLeaf?: () => void;
  /**
   * Worker threads that check records (parse, hash, compare the query columns) while this thread
   * reads the store and builds the tree; 0 checks on this thread. Default: one per core beyond
   * this one, at most 8.
   */
  workers?: number;
  /** Workers start for a log of at least this many records (by its checkpoints, or as read): default 20,000. */
  workersFrom?: number;
  /** Wait for the workers to start instead of checking on this thread meanwhile (tests). */
  waitForWorkers?: boolean;
  /** Records per read (default 512). */
  pageSize?: number;
  /**
   * Whether this thread also checks a page when the workers hold all they can take (default
   * true); false: once the workers are up, they check every page.
   */
  readerChecks?: boolean;
  /** For tests only: makes the worker checkers (default workerCheckers, which tests wrap). */
  workerCheckers?: (count: number) => RecordCheckers;
  /**
   * How long to wait for the writer of a log live in another process (by its PostgreSQL lock) to
   * sign a checkpoint covering its pending records: default 15,000 ms (writers sign every 10 s).
   */
  pendingWaitMs?: number;
}

async function verifyLog(
  store: AuditStore,
  log: StoredLog,
  trusted: readonly TrustedKey[],
  witnessed: ReadonlyArray<Checkpoint>,
  live: boolean,
  checkersFor: (recordsRead: number, expectedSize: number) => Promise<RecordCheckers>,
  /** This thread's checkers, when it shares the checks with the workers (VerifyOptions.readerChecks). */
  reader: RecordCheckers | undefined,
  pageSize: number,
  onLeaf?: () => void,
) {
  const problem = (index: number, message: string): LogProblem => ({ logId: log.logId, index, message });
  const key = trusted.find((k) => k.name === log.keyName && k.publicKey.toString('base64') === log.publicKey);
  const checkpointRows = [...(await store.checkpoints(log.logId)), ...(await store.closures(log.logId))];
  if (!key) {
    return { records: 0, checkpoints: checkpointRows.length, problem: problem(0, `log "${log.logId}" claims a signing key the auditor does not trust`) };
  }
  const checkpoints: Checkpoint[] = [];
  for (const c of checkpointRows) {
    try {
      const cp = openCheckpoint(c.note, key);
      if (cp.origin !== log.origin) return { records: 0, checkpoints: checkpointRows.length, problem: problem(c.size, `checkpoint of size ${c.size} names origin "${cp.origin}", not "${log.origin}"`) };
      if (cp.size !== c.size) return { records: 0, checkpoints: checkpointRows.length, problem: problem(c.size, `checkpoint stored as size ${c.size} signs size ${cp.size}`) };
      checkpoints.push(cp);
    } catch (err) {
      return { records: 0, checkpoints: checkpointRows.length, problem: problem(c.size, `checkpoint of size ${c.size} is forged: ${(err as Error).message}`) };
    }
  }
  for (const w of witnessed) {
    const stored = checkpoints.filter((c) => c.size === w.size);
    if (stored.some((c) => !c.root.equals(w.root))) {
      return { records: 0, checkpoints: checkpoints.length, problem: problem(w.size, `the checkpoint of size ${w.size} in the store differs from the one a witness holds`) };
    }
    // A witnessed closure counts even when the store holds only a plain checkpoint of that size.
    if (!stored.some((c) => (finality(c) === undefined) === (finality(w) === undefined))) checkpoints.push(w);
  }
  checkpoints.sort((a, b) => a.size - b.size);
  // The earliest closure (closed, or sealed) ends the log: no record, and no checkpoint, may come after it.
  const ends = checkpoints.filter((c) => finality(c) !== undefined);
  const end = ends[0];
  const endedBy = end && finality(end);
  if (end) {
    const later = checkpoints.find((c) => c.size > end.size);
    if (later) {
      return { records: 0, checkpoints: checkpoints.length, problem: problem(end.size, `a checkpoint of size ${later.size} was signed after the log was ${endedBy!.kind} at size ${end.size}`) };
    }
  }
  // Records covered only by a seal: those after the last checkpoint the log's own writer signed.
  const lastPlain = checkpoints.filter((c) => finality(c) === undefined).reduce((m, c) => Math.max(m, c.size), 0);
  // A hint only (workers start early for a log that claims to be long): nothing is trusted from it.
  const expectedSize = checkpoints.length > 0 ? checkpoints[checkpoints.length - 1].size : 0;
  const frontier = new Frontier();
  let next = 0; // next checkpoint to compare
  let lastVerifiedSize = 0;
  // A checkpoint of size 0 (an empty log closed or sealed) signs the empty tree's root.
  for (; next < checkpoints.length && checkpoints[next].size === 0; next++) {
    if (!frontier.root().equals(checkpoints[next].root)) {
      return { records: 0, checkpoints: checkpoints.length, problem: problem(0, 'a checkpoint of size 0 signs a root other than the empty tree\'s') };
    }
  }
  // Pages are read in order, one read in flight, while earlier pages are checked (on this thread
  // or in workers); results are applied to the tree strictly in order, so the first break found
  // is the first in the log, as a one-page-at-a-time walk would find it.
  let reading: Promise<RecordPage | CopiedPage> | undefined = store.recordPage(log.logId, 0, pageSize);
  let readIndex = 0; // index of the first record of the next page read
  const checking: Array<Promise<CheckedRecords>> = [];
  try {
    while (reading || checking.length > 0) {
      const checkers = await checkersFor(readIndex, expectedSize);
      const sharing = reader !== undefined && checkers !== reader;
      if (reading && checking.length < checkers.depth + 1 + (sharing ? READER_AHEAD : 0)) {
        const page: RecordPage | CopiedPage = await reading;
        const n: number = page.seq.length;
        // From the index the next record should hold: a page that passes ends at readIndex + n - 1,
        // and one that does not stops verify (a stored position, which may be anything, is never
        // asked for).
        reading = n === pageSize ? store.recordPage(log.logId, readIndex + n, pageSize) : undefined;
        reading?.catch(() => undefined); // awaited on a later turn, or in finally
        // With every worker busy, this thread checks the page rather than wait (its result is
        // applied in order like any other).
        const result = (sharing && checkers.saturated ? reader : checkers).check(page, log.logId, readIndex);
        result.catch(() => undefined); // awaited in order below
        checking.push(result);
        readIndex += n;
        continue;
      }
      const checked = await checking.shift()!;
      if (checked.copy) store.recycle?.(checked.copy);
      // A page checked as one perfect subtree goes into the tree whole (one node hash on this
      // thread instead of one per record), unless a checkpoint falls inside it: its leaves then go
      // in one by one, to compare that checkpoint's root at its size.
      const whole =
        checked.root !== undefined &&
        frontier.size % checked.passed === 0 &&
        (next >= checkpoints.length || checkpoints[next].size >= frontier.size + checked.passed);
      for (let pushed = 0; pushed < checked.passed; ) {
        if (whole) {
          frontier.pushSubtree(checked.root!, 0, 31 - Math.clz32(checked.passed));
          if (onLeaf) for (let i = 0; i < checked.passed; i++) onLeaf();
          pushed = checked.passed;
        } else {
          frontier.pushFrom(checked.hashes, pushed++ * 32);
          onLeaf?.();
        }
        while (next < checkpoints.length && checkpoints[next].size === frontier.size) {
          if (!frontier.root().equals(checkpoints[next].root)) {
            return {
              records: frontier.size,
              checkpoints: checkpoints.length,
              problem: problem(lastVerifiedSize, `the records from index ${lastVerifiedSize} to ${frontier.size - 1} do not match the checkpoint signed at size ${frontier.size}: one of them was changed`),
            };
          }
          lastVerifiedSize = frontier.size;
          next++;
        }
      }
      if (checked.problem) return { records: frontier.size, checkpoints: checkpoints.length, problem: problem(checked.problem.index, checked.problem.message) };
    }
  } finally {
    // Returning early on a problem: let the page being read and the pages being checked finish
    // before the caller moves on.
    await reading?.catch(() => undefined);
    await Promise.allSettled(checking);
  }
  const index = frontier.size;
  const counts = { records: index, checkpoints: checkpoints.length };
  // Pages read positions from 0 up, each range once: a row stored at a negative or fractional
  // position, or at a position a row already holds, would never be read, yet reports and replay
  // read every row. The rows below the verified size must be exactly those verified.
  const below = await store.rowsBelow(log.logId, index);
  if (below.count !== index) {
    const { stray } = below;
    const at = stray === undefined || stray === null || !(stray >= 0) ? 0 : Math.min(index, Math.floor(stray));
    return {
      ...counts,
      problem: problem(
        at,
        `records were inserted: ${below.count} rows are stored at positions below ${index}, where the ${index} records verified hold each position once` +
          (stray === undefined ? '' : ` (the first out of sequence is at position ${stray === null ? 'NULL' : stray})`),
      ),
    };
  }
  if (end && index > end.size) {
    return { ...counts, problem: problem(end.size, `the log was ${endedBy!.kind} at ${end.size} records, but holds ${index}: record ${end.size} and any after it were added later`) };
  }
  if (next < checkpoints.length) {
    const signed = checkpoints[checkpoints.length - 1].size;
    return { ...counts, problem: problem(index, `the log ends at ${index} records but a checkpoint signed ${signed}: its tail was cut`) };
  }
  if (endedBy?.kind === 'closed') return { ...counts, state: 'closed' as const };
  if (endedBy?.kind === 'sealed') {
    return { ...counts, state: 'sealed' as const, sealedBy: endedBy.by, sealedRecords: [Math.min(lastPlain, index), index] as [number, number] };
  }
  if (index > lastVerifiedSize) {
    if (live) return { ...counts, state: 'live' as const, pending: index - lastVerifiedSize };
    return {
      ...counts,
      state: 'open' as const,
      problem: problem(
        lastVerifiedSize,
        `the records from index ${lastVerifiedSize} to ${index - 1} are covered by no signed checkpoint, and the log's writer is not running: they were added, or it stopped without closing the log (a gateway on the embedded store seals such a log when it starts; on PostgreSQL, run \`audit seal --log ${log.logId}\` once its gateway is gone)`,
      ),
    };
  }
  return { ...counts, state: live ? ('live' as const) : ('open' as const), ...(live ? { pending: 0 } : {}) };
}

/**
 * Verifies every log: each record's position and leaf hash, every checkpoint's signature by a
 * trusted key, and every signed root against the recomputed tree. Consecutive checkpoints of a
 * log are checked against the same recomputed tree, which is their consistency. Deletion, edit,
 * insertion, reordering, tail truncation and forged checkpoints all break it.
 */
export async function verifyLogs(
  store: AuditStore,
  trusted: readonly TrustedKey[],
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const report: VerifyReport = { ok: true, logs: [], leaves: 0 };
  const logs = await store.logs();
  // Witnessed checkpoints, by origin: each must match the store, and its log must still exist.
  const witnessed = new Map<string, Checkpoint[]>();
  for (const note of options.witnesses ?? []) {
    const cp = trusted.map((k) => { try { return openCheckpoint(note, k); } catch { return undefined; } }).find((c) => c !== undefined);
    if (!cp) {
      report.problem ??= { logId: '(witness)', index: 0, message: 'a witnessed checkpoint is not signed by a trusted key' };
      continue;
    }
    const list = witnessed.get(cp.origin) ?? [];
    list.push(cp);
    witnessed.set(cp.origin, list);
  }
  for (const [origin, list] of witnessed) {
    if (!logs.some((l) => l.origin === origin)) {
      const logId = origin.replace(/^purposegate\.audit\//, '');
      report.problem ??= { logId, index: 0, message: `log "${logId}" is missing from the store, though a witness holds its checkpoint of size ${Math.max(...list.map((c) => c.size))}` };
    }
  }
  // Workers are started for a log whose checkpoints say it is long, or once it proves long, enough
  // to pay for their start (a tenth of a second or so); records are checked on this thread until
  // they are up.
  const workers = options.workers ?? defaultVerifyWorkers();
  const workersFrom = options.workersFrom ?? 20_000;
  const inThread = inThreadCheckers();
  let pool: RecordCheckers | undefined;
  const checkersFor = async (recordsRead: number, expectedSize: number) => {
    if (workers > 0 && Math.max(recordsRead, expectedSize) >= workersFrom) pool ??= (options.workerCheckers ?? workerCheckers)(workers);
    if (pool && !pool.ready) {
      if (options.waitForWorkers) await pool.untilReady();
      // Let the event loop turn, or a worker's "started" message may wait behind a store that
      // answers in microtasks (PGlite) until the whole log is read.
      else await new Promise((resolve) => setImmediate(resolve));
    }
    return pool?.ready ? pool : inThread;
  };
  // Read before the records: a writer that stops while its log is read is still counted live (its
  // closure, read at the start of its log, may then be missing: its last records show as pending).
  const live = await store.liveLogs(logs.map((l) => l.logId));
  const isLive = (l: LiveLogs, logId: string) => l.here.has(logId) || l.lease.has(logId);
  const verifyOne = (log: StoredLog, isLive: boolean) =>
    verifyLog(store, log, trusted, witnessed.get(log.origin) ?? [], isLive, checkersFor, options.readerChecks === false ? undefined : inThread, options.pageSize ?? PAGE, options.onLeaf);
  const entry = (logId: string, r: Awaited<ReturnType<typeof verifyOne>>): VerifyReport['logs'][number] => {
    const { records, checkpoints, problem, ...rest } = r as typeof r & { problem?: LogProblem };
    return { logId, records, checkpoints, ...rest, ...(problem ? { problem } : {}) };
  };
  try {
    for (const log of logs) report.logs.push(entry(log.logId, await verifyOne(log, isLive(live, log.logId))));
    // A writer in another process is live only by its lock's word, which anyone who can connect
    // can give: its pending records pass only once a checkpoint it signs covers them. The
    // writers sign at least every 10 s while records arrive; they are waited for together.
    const waiting = report.logs
      .map((l, i) => ({ l, i, log: logs[i]! }))
      .filter(({ l }) => !l.problem && l.state === 'live' && (l.pending ?? 0) > 0 && live.lease.has(l.logId));
    if (waiting.length > 0) {
      const waitMs = options.pendingWaitMs ?? 15_000;
      const deadline = Date.now() + waitMs;
      const covered = async ({ l }: (typeof waiting)[number]) => {
        const sizes = [...(await store.checkpoints(l.logId)), ...(await store.closures(l.logId))].map((c) => c.size);
        return sizes.some((n) => n >= l.records);
      };
      let left = waiting;
      while (left.length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, deadline - Date.now()))));
        const still = [];
        for (const w of left) if (!(await covered(w))) still.push(w);
        left = still;
      }
      // Whether each writer still runs, read again: records added meanwhile to a log whose lock
      // is no longer held are not pending.
      const stillLive = await store.liveLogs(waiting.map((w) => w.l.logId));
      for (const w of waiting) {
        const mustCover = w.l.records;
        const again = entry(w.l.logId, await verifyOne(w.log, isLive(stillLive, w.l.logId)));
        const signedUpTo = again.records - (again.pending ?? 0);
        if (!again.problem && signedUpTo < mustCover) {
          const from = w.l.records - (w.l.pending ?? 0);
          again.problem = {
            logId: w.l.logId,
            index: from,
            message: `the records from index ${from} to ${mustCover - 1} are covered by no signed checkpoint: a session holds the log's lock, but no checkpoint covering them was signed within ${Math.round(waitMs / 1000)} s`,
          };
          delete again.pending;
        }
        report.logs[w.i] = again;
      }
    }
  } finally {
    // Never in place of the error that got here, if one did.
    await pool?.close().catch(() => undefined);
  }
  for (const l of report.logs) {
    report.leaves += l.records;
    if (l.problem && !report.problem) report.problem = l.problem;
  }
  report.ok = report.problem === undefined;
  return report;
}
