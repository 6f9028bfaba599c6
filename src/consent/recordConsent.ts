import type { Db } from '../db/index.js';

/** A recorded consent event, as the Consent GraphQL type shows it. */
export interface ConsentRecord {
  id: string;
  subscriberId: string;
  purpose: string;
  state: 'GRANTED' | 'WITHDRAWN';
  source: string;
  at: string;
}

/** The subscriber named in a consent event does not exist. */
export class UnknownSubscriberError extends Error {
  constructor(readonly subscriberId: string) {
    super(`Subscriber "${subscriberId}" does not exist.`);
    this.name = 'UnknownSubscriberError';
  }
}

/**
 * Appends one consent event (the store is append-only). `at` defaults to now on this process's
 * clock; an explicit `at` is how back-dated evidence is recorded.
 */
export async function recordConsent(
  db: Pick<Db, 'query'>,
  event: { subscriberId: string; purpose: string; action: 'GRANT' | 'WITHDRAW'; source: string; evidence?: unknown; at?: string },
): Promise<ConsentRecord> {
  const result = await db.query<{ id: string; at: Date | string }>(
    `INSERT INTO consent_events (subscriber_id, purpose, action, source, evidence, at)
     SELECT $1, $2, $3, $4, $5::jsonb, $6::timestamptz
      WHERE EXISTS (SELECT 1 FROM subscribers WHERE id = $1)
     RETURNING id::text AS id, at`,
    // Stamped by the same clock that stamps decision times (ms precision), not the database's, so
    // the very next request sees the event whatever the two clocks say.
    [event.subscriberId, event.purpose, event.action, event.source, event.evidence === undefined ? null : JSON.stringify(event.evidence), event.at ?? new Date().toISOString()],
  );
  const row = result.rows[0];
  if (!row) throw new UnknownSubscriberError(event.subscriberId);
  return {
    id: row.id,
    subscriberId: event.subscriberId,
    purpose: event.purpose,
    state: event.action === 'GRANT' ? 'GRANTED' : 'WITHDRAWN',
    source: event.source,
    at: new Date(row.at).toISOString(),
  };
}
