import DataLoader from 'dataloader';
import type { Db } from '../db/index.js';
import { loadSubjects, type LoadedSubject } from './loadSubjects.js';

/** Options of a per-request subject loader. */
export interface SubjectLoaderOptions {
  /**
   * Consent state as of this instant (ISO): the request's time; current state when absent. The
   * read fails closed while the database's clock is too far ahead of this process's (clockSkew).
   */
  asOf?: string;
  /** After this many ms the store is treated as unavailable (fail closed). @default 2000 */
  timeoutMs?: number;
  /** Called once per store query, for metrics and for tests that count queries. */
  onQuery?: () => void;
}

/**
 * Batches every subject/consent lookup of one request (in one subgraph) into one store query.
 * Create one per request: its cache must never outlive the request, so a withdrawal takes effect
 * on the very next request. A store failure or time-out yields `{ status: 'unavailable' }` for
 * every key of the batch, never an allow.
 */
export class SubjectLoader {
  private readonly resolved = new Map<string, LoadedSubject>();
  private readonly loader: DataLoader<string, LoadedSubject>;

  constructor(db: Pick<Db, 'query'>, options: SubjectLoaderOptions = {}) {
    const timeoutMs = options.timeoutMs ?? 2000;
    // The batch function returns results in key order and of the same length as the keys.
    this.loader = new DataLoader<string, LoadedSubject>(async (ids) => {
      options.onQuery?.();
      let timer: NodeJS.Timeout | undefined;
      let results: LoadedSubject[];
      try {
        results = await Promise.race([
          loadSubjects(db, ids, options.asOf, { live: true }),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('consent store timed out')), timeoutMs);
          }),
        ]);
      } catch {
        results = ids.map(() => ({ status: 'unavailable' }));
      } finally {
        clearTimeout(timer);
      }
      ids.forEach((id, i) => this.resolved.set(id, results[i]));
      return results;
    });
  }

  /** The subject if it is already loaded in this request (lets field rules decide synchronously). */
  peek(id: string): LoadedSubject | undefined {
    return this.resolved.get(id);
  }

  load(id: string): Promise<LoadedSubject> {
    return this.loader.load(id);
  }

  /** Loads many subjects in one batch (call it once per list, before its fields resolve). */
  async prime(ids: readonly string[]): Promise<void> {
    const missing = ids.filter((id) => !this.resolved.has(id));
    if (missing.length > 0) await this.loader.loadMany(missing);
  }
}
