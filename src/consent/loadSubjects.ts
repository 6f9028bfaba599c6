import type { Db } from '../db/index.js';
import { assertClockInSync } from './clockSkew.js';
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

/**
 * The subject's columns and its latest event's, as one JSON array per row, in the order
 * `subjectRowsFromJson` reads them. The event time is written as `Date.toISOString` writes it
 * (UTC, milliseconds, truncated as the drivers truncate a timestamp to a Date).
 */
const SUBJECT_ARRAY_ITEMS = `s.id, s.agency_id, to_char(s.date_of_birth, 'YYYY-MM-DD'), s.directory_listing,
            e.id::text, e.purpose, e.action,
            CASE WHEN e.at >= '0001-01-01T00:00:00Z' AND e.at < '10000-01-01T00:00:00Z'
                 THEN to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') END, e.source`;
const SUBJECT_ARRAY = `json_build_array(${SUBJECT_ARRAY_ITEMS})`;

/**
 * A query whose rows are `SUBJECT_ARRAY`s (after `key`, when given), returned as ONE text: the
 * driver then hands over one value instead of parsing nine columns of every row (PGlite does
 * that in JavaScript: about 1 ms for the hundred subjects of a page), and JSON.parse reads it.
 */
export function subjectRowsQuery(from: string, key?: string): string {
  return `SELECT coalesce(json_agg(${key ? `json_build_array(${key}, ${SUBJECT_ARRAY_ITEMS})` : SUBJECT_ARRAY})::text, '[]') AS rows ${from}`;
}

type SubjectArray = [string, string, string | null, 'LISTED' | 'UNLISTED', string | null, string | null, 'GRANT' | 'WITHDRAW' | null, string | null, string | null];

/** The rows of a `subjectRowsQuery` (whose key, if any, comes first in each array, as `k`). */
export function subjectRowsFromJson(text: string, keyed: boolean): Array<SubjectRow & { k?: unknown }> {
  return (JSON.parse(text) as unknown[][]).map((a) => {
    const [id, agency_id, dob, directory_listing, event_id, purpose, action, at, source] = (keyed ? a.slice(1) : a) as SubjectArray;
    // An event whose time has no ISO 8601 form here (infinity, before year 1, after 9999) is not
    // dropped (a dropped withdrawal would release data): the load fails, and so does the request.
    if (event_id !== null && at === null) throw new Error(`Consent event ${event_id} has a time outside years 1-9999.`);
    const row: SubjectRow & { k?: unknown } = { id, agency_id, dob, directory_listing, event_id, purpose, action, at, source };
    if (keyed) row.k = a[0];
    return row;
  });
}

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
 * With `live` (a request's own read, `asOf` its time), fails with ConsentClockSkewError when the
 * database's clock was last measured more than CONSENT_CLOCK_TOLERANCE_MS ahead of this process's.
 */
export async function loadSubjects(db: Pick<Db, 'query'> & { kind?: Db['kind'] }, ids: readonly string[], asOf?: string, options: { live?: boolean } = {}): Promise<LoadedSubject[]> {
  if (options.live === true && asOf !== undefined) await assertClockInSync(db);
  const result = await db.query<{ rows: string }>(
    subjectRowsQuery(`FROM subscribers s
       ${latestEventsAsOf('$2::timestamptz')}
      WHERE s.id = ANY($1::text[])`),
    [ids as string[], asOf ?? null],
    { prepared: true }, // the same text on every request
  );
  return subjectsFromRows(subjectRowsFromJson(result.rows[0]!.rows, false), ids, (row) => row.id);
}
