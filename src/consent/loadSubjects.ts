import type { Db } from '../db/index.js';
import type { ConsentEvent, SubjectState } from '../policy/index.js';

/** One row per (subject, purpose with an event), or one row with null event columns. */
export interface SubjectRow {
  id: string;
  agency_id: string;
  dob: string | null;
  directory_listing: 'LISTED' | 'UNLISTED';
  event_id: string | null;
  purpose: string | null;
  action: 'GRANT' | 'WITHDRAW' | null;
  at: Date | string | null;
  source: string | null;
}

/** The latest consent event per purpose, with its source (for Subscriber.consents). */
export interface LatestConsent extends ConsentEvent {
  purpose: string;
  source: string;
}

/** A subject found in the store, with the latest consent event of each purpose. */
export type LoadedSubject = SubjectState & { latest?: readonly LatestConsent[] };

/**
 * The latest consent event per purpose of subscriber `s` as of `asOf` (an SQL expression; NULL
 * means now), ties broken by event id: the one definition of consent "as of" an instant.
 */
export function latestEventsAsOf(asOf: string): string {
  return `LEFT JOIN LATERAL (SELECT DISTINCT ON (purpose) id, purpose, action, at, source
                            FROM consent_events ce
                           WHERE ce.subscriber_id = s.id AND (${asOf} IS NULL OR ce.at <= ${asOf})
                           ORDER BY purpose, at DESC, id DESC) e ON true`;
}

/** The subject columns and the latest event's columns, as `subjectsFromRows` reads them. */
export const SUBJECT_COLUMNS = `s.id, s.agency_id, to_char(s.date_of_birth, 'YYYY-MM-DD') AS dob, s.directory_listing,
            e.id::text AS event_id, e.purpose, e.action, e.at, e.source`;

/**
 * Groups subject rows by `keyOf(row)` into loaded subjects; a key with no row is not found.
 * Returns one entry per key, in the order of `keys`.
 */
export function subjectsFromRows<K>(rows: readonly SubjectRow[], keys: readonly K[], keyOf: (row: SubjectRow) => K): LoadedSubject[] {
  const byKey = new Map<K, { subject: Extract<LoadedSubject, { status: 'found' }>['subject']; latest: LatestConsent[] }>();
  for (const row of rows) {
    const key = keyOf(row);
    let entry = byKey.get(key);
    if (!entry) {
      entry = { subject: { id: row.id, agencyId: row.agency_id, dateOfBirth: row.dob, directoryListing: row.directory_listing }, latest: [] };
      byKey.set(key, entry);
    }
    if (row.event_id !== null && row.purpose !== null && row.action !== null && row.at !== null) {
      entry.latest.push({ id: row.event_id, purpose: row.purpose, action: row.action, at: new Date(row.at).toISOString(), source: row.source ?? '' });
    }
  }
  return keys.map((key): LoadedSubject => {
    const e = byKey.get(key);
    if (!e) return { status: 'not_found' };
    return { status: 'found', subject: e.subject, consents: new Map(e.latest.map((c) => [c.purpose, { id: c.id, action: c.action, at: c.at }])), latest: e.latest };
  });
}

/**
 * Loads subjects and their consent state as of `asOf` (latest event per purpose, ties broken by
 * event id) for many subscribers in ONE query. Returns one entry per id, in the order of `ids`.
 */
export async function loadSubjects(db: Pick<Db, 'query'>, ids: readonly string[], asOf?: string): Promise<LoadedSubject[]> {
  const result = await db.query<SubjectRow>(
    `SELECT ${SUBJECT_COLUMNS}
       FROM subscribers s
       ${latestEventsAsOf('$2::timestamptz')}
      WHERE s.id = ANY($1::text[])`,
    [ids as string[], asOf ?? null],
  );
  return subjectsFromRows(result.rows, ids, (row) => row.id);
}
