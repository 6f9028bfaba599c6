import type { Db } from '../db/index.js';
import type { ConsentEvent, SubjectState } from '../policy/index.js';

interface Row {
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
 * Loads subjects and their consent state as of `asOf` (latest event per purpose, ties broken by
 * event id) for many subscribers in ONE query. Returns one entry per id, in the order of `ids`.
 */
export async function loadSubjects(db: Pick<Db, 'query'>, ids: readonly string[], asOf?: string): Promise<LoadedSubject[]> {
  // One row per (subscriber, purpose with an event), or one row with null event columns.
  const result = await db.query<Row>(
    `SELECT s.id, s.agency_id, to_char(s.date_of_birth, 'YYYY-MM-DD') AS dob, s.directory_listing,
            e.id::text AS event_id, e.purpose, e.action, e.at, e.source
       FROM subscribers s
       LEFT JOIN LATERAL (SELECT DISTINCT ON (purpose) id, purpose, action, at, source
                            FROM consent_events ce
                           WHERE ce.subscriber_id = s.id AND ($2::timestamptz IS NULL OR ce.at <= $2::timestamptz)
                           ORDER BY purpose, at DESC, id DESC) e ON true
      WHERE s.id = ANY($1::text[])`,
    [ids as string[], asOf ?? null],
  );
  const byId = new Map<string, { subject: Extract<LoadedSubject, { status: 'found' }>['subject']; latest: LatestConsent[] }>();
  for (const row of result.rows) {
    let entry = byId.get(row.id);
    if (!entry) {
      entry = { subject: { id: row.id, agencyId: row.agency_id, dateOfBirth: row.dob, directoryListing: row.directory_listing }, latest: [] };
      byId.set(row.id, entry);
    }
    if (row.event_id !== null && row.purpose !== null && row.action !== null && row.at !== null) {
      entry.latest.push({ id: row.event_id, purpose: row.purpose, action: row.action, at: new Date(row.at).toISOString(), source: row.source ?? '' });
    }
  }
  return ids.map((id): LoadedSubject => {
    const e = byId.get(id);
    if (!e) return { status: 'not_found' };
    return { status: 'found', subject: e.subject, consents: new Map(e.latest.map((c) => [c.purpose, { id: c.id, action: c.action, at: c.at }])), latest: e.latest };
  });
}
