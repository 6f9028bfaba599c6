import type { Db } from '../db/index.js';
import { latestEventsAsOf, subjectRowsFromJson, subjectRowsQuery, subjectsFromRows, type LoadedSubject, type SubjectRow } from './loadSubjects.js';

/** One subject to load, with the instant (ISO 8601) its consent state is wanted as of. */
export interface SubjectAsOf {
  id: string;
  asOf: string;
}

/**
 * Loads many (subject, instant) pairs in ONE query: each pair's subject and consent state as of
 * its own instant, by the same definition as loadSubjects(). Replay uses it to load a whole page
 * of records at once. Returns one entry per key, in the order of `keys`.
 */
export async function loadSubjectsAsOf(db: Pick<Db, 'query'>, keys: readonly SubjectAsOf[]): Promise<LoadedSubject[]> {
  if (keys.length === 0) return [];
  const result = await db.query<{ rows: string }>(
    subjectRowsQuery(
      `FROM unnest($1::text[], $2::timestamptz[]) WITH ORDINALITY AS q(id, as_of, k)
       JOIN subscribers s ON s.id = q.id
       ${latestEventsAsOf('q.as_of')}`,
      'q.k::int',
    ),
    [keys.map((k) => k.id), keys.map((k) => k.asOf)],
  );
  // WITH ORDINALITY counts from 1.
  return subjectsFromRows(subjectRowsFromJson(result.rows[0]!.rows, true), keys.map((_, i) => i + 1), (row) => (row as SubjectRow & { k?: unknown }).k as number);
}
