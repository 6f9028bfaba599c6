import type { Db } from '../db/index.js';
import type { ConsentEvent, SubjectState } from '../policy/index.js';

interface Row {
  id: string;
  agency_id: string;
  dob: string | null;
  directory_listing: 'LISTED' | 'UNLISTED';
  consents: Array<{ id: string; purpose: string; action: 'GRANT' | 'WITHDRAW'; at: string; source: string }> | string;
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
  const result = await db.query<Row>(
    `SELECT s.id, s.agency_id, to_char(s.date_of_birth, 'YYYY-MM-DD') AS dob, s.directory_listing,
            COALESCE((SELECT json_agg(json_build_object('id', e.id::text, 'purpose', e.purpose, 'action', e.action,
                                                        'at', e.at, 'source', e.source))
                        FROM (SELECT DISTINCT ON (purpose) id, purpose, action, at, source
                                FROM consent_events ce
                               WHERE ce.subscriber_id = s.id AND ($2::timestamptz IS NULL OR ce.at <= $2::timestamptz)
                               ORDER BY purpose, at DESC, id DESC) e), '[]'::json) AS consents
       FROM subscribers s
      WHERE s.id = ANY($1::text[])`,
    [ids as string[], asOf ?? null],
  );
  const byId = new Map<string, LoadedSubject>();
  for (const row of result.rows) {
    const raw = typeof row.consents === 'string' ? JSON.parse(row.consents) : row.consents;
    const latest: LatestConsent[] = raw.map((e: LatestConsent) => ({ ...e, at: new Date(e.at).toISOString() }));
    byId.set(row.id, {
      status: 'found',
      subject: { id: row.id, agencyId: row.agency_id, dateOfBirth: row.dob, directoryListing: row.directory_listing },
      consents: new Map(latest.map((e) => [e.purpose, { id: e.id, action: e.action, at: e.at }])),
      latest,
    });
  }
  return ids.map((id) => byId.get(id) ?? { status: 'not_found' });
}
