import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { RecordPage } from './AuditStore.js';
import type { CopiedPage } from './copiedRecords.js';
import { checkRecords, type CheckedRecords } from './checkRecords.js';
import type { CheckRequest } from './checkRecordsWorker.js';

/** Checks pages of records: on this thread, or spread over worker threads. */
export interface RecordCheckers {
  check(page: RecordPage | CopiedPage, logId: string, firstIndex: number): Promise<CheckedRecords>;
  /** How many pages may be in flight at once to keep every checker busy. */
  readonly depth: number;
  /**
   * Whether `depth` pages, between all the workers, are being checked or wait to be, by the
   * checkers' own count (a worker counts a page done as it finishes, before its reply waits in
   * this thread's event loop): a page sent now would wait its turn. Never for checks on the
   * calling thread, nor once the checkers failed (a page sent then is refused at once).
   */
  readonly saturated: boolean;
  /** Whether they can take pages now (worker threads take a moment to start). */
  readonly ready: boolean;
  /** Resolves when they are ready. */
  untilReady(): Promise<void>;
  close(): Promise<void>;
}

/** Worker threads `audit verify` uses by default: one per core beyond the reading thread's, at most 8. */
export function defaultVerifyWorkers(): number {
  return Math.max(0, Math.min(8, availableParallelism() - 1));
}

/** Checks on the calling thread (one page checked while the next is read). */
export function inThreadCheckers(): RecordCheckers {
  return {
    // A throw becomes this page's rejection, met in page order like a worker's.
    check: (page, logId, firstIndex) => new Promise((resolve) => resolve({ ...checkRecords(page, logId, firstIndex), ...('copy' in page ? { copy: page.copy } : {}) })),
    depth: 1,
    saturated: false,
    ready: true,
    untilReady: async () => undefined,
    close: async () => undefined,
  };
}

type Reply = { id: number; error?: string; ready?: true } & Partial<CheckedRecords>;

/**
 * `count` worker threads, pages handed out in turn; `ready` once each has started (or one failed,
 * so that the failure surfaces). A worker that fails or exits makes every page it holds, and every
 * later one, fail: verify then stops with that error, never with a partial pass (pages verify
 * checked on its own thread meanwhile are full checks, and it awaits every page in order).
 */
export function workerCheckers(count: number): RecordCheckers {
  const entry = new URL('./checkRecordsWorker.cjs', import.meta.url);
  const pending = new Map<number, { resolve: (r: CheckedRecords) => void; reject: (e: Error) => void }>();
  let failure: Error | undefined;
  const fail = (err: Error) => {
    failure ??= err;
    onReady();
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
  };
  let closing = false;
  let started = 0;
  let onReady: () => void = () => undefined;
  const readiness = new Promise<void>((resolve) => (onReady = resolve));
  const workers: Worker[] = [];
  // Pages the workers have finished checking, counted by the workers themselves as they finish:
  // their replies may wait in this thread's event loop (a store that answers in microtasks).
  const checked = new Int32Array(new SharedArrayBuffer(4));
  const start = () => {
    // No inherited Node flags: a parent started with `--import tsx` would give each worker tsx's
    // ESM loader thread too (the entry registers the loader it needs itself).
    const w = new Worker(entry, { execArgv: [], workerData: { checked } });
    w.on('message', (m: Reply) => {
      if (m.ready) {
        if (++started === count) onReady();
        return;
      }
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(`a verify worker failed: ${m.error}`));
      else p.resolve({ hashes: m.hashes!, passed: m.passed!, ...(m.problem ? { problem: m.problem } : {}), ...(m.copy ? { copy: m.copy } : {}), ...(m.root ? { root: m.root } : {}) });
    });
    w.on('error', (err) => fail(new Error(`a verify worker failed: ${err.message}`)));
    w.on('exit', (code) => {
      if (!closing) fail(new Error(`a verify worker exited (code ${code})`));
    });
    return w;
  };
  try {
    for (let i = 0; i < count; i++) workers.push(start());
  } catch (err) {
    // Threads could not be created (a resource limit): stop those that were.
    closing = true;
    for (const w of workers) void w.terminate();
    throw err;
  }
  let next = 0;
  const depth = count * 2;
  return {
    depth,
    get saturated() {
      return failure === undefined && next - Atomics.load(checked, 0) >= depth;
    },
    get ready() {
      return started === count || failure !== undefined;
    },
    untilReady: () => readiness,
    check(page, logId, firstIndex) {
      if (failure) return Promise.reject(failure);
      const id = next++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        const request: CheckRequest = { id, page, logId, firstIndex };
        // A copied page's buffer moves to the worker (it is this page's alone), no copy.
        workers[id % workers.length].postMessage(request, page && 'copy' in page ? [page.copy.buffer as ArrayBuffer] : []);
      });
    },
    async close() {
      closing = true;
      await Promise.all(workers.map((w) => w.terminate()));
      fail(new Error('the verify workers were stopped'));
    },
  };
}
