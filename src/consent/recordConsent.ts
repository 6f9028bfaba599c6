import type { Db } from '../db/index.js';
import { CONSENT_CLOCK_TOLERANCE_MS } from './clockSkew.js';

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

/** An explicit consent event time more than CONSENT_CLOCK_TOLERANCE_MS ahead of the database's clock: refused. */
export class FutureConsentTimeError extends Error {
  constructor(readonly at: string) {
    super(`The consent event time ${at} is in the future by the database's clock: events are recorded as of now or earlier.`);
    this.name = 'FutureConsentTimeError';
  }
}

/**
 * Appends one consent event (the store is append-only). `at` defaults to now on this process's
 * clock (the one that stamps its own requests, so a withdrawal is never retroactive for them),
 * unless that is more than CONSENT_CLOCK_TOLERANCE_MS ahead of the database's clock: then the
 * database's time. A machine whose clock runs ahead would otherwise stamp a withdrawal that the
 * next requests of gateways in time, as of their own earlier "now", do not see yet. (A gateway
 * whose clock is that far behind the database's reads no consent: loadSubjects.) An explicit
 * `at` is how back-dated evidence is recorded; one ahead of the database's clock is refused.
 */
export async function recordConsent(
  db: Pick<Db, 'query'>,
  event: { subscriberId: string; purpose: string; action: 'GRANT' | 'WITHDRAW'; source: string; evidence?: unknown; at?: string },
): Promise<ConsentRecord> {
  if (event.at !== undefined) {
    const { rows } = await db.query<{ future: boolean }>(`SELECT $1::timestamptz > clock_timestamp() + interval '${CONSENT_CLOCK_TOLERANCE_MS} milliseconds' AS future`, [event.at]);
    if (rows[0]?.future) throw new FutureConsentTimeError(event.at);
  }
  const result = await db.query<{ id: string; at: Date | string }>(
    `INSERT INTO consent_events (subscriber_id, purpose, action, source, evidence, at)
     SELECT $1, $2, $3, $4, $5::jsonb, ${
       event.at !== undefined
         ? '$6::timestamptz'
         : `CASE WHEN $6::timestamptz > clock_timestamp() + interval '${CONSENT_CLOCK_TOLERANCE_MS} milliseconds' THEN date_trunc('milliseconds', clock_timestamp()) ELSE $6::timestamptz END`
     }
      WHERE EXISTS (SELECT 1 FROM subscribers WHERE id = $1)
     RETURNING id::text AS id, at`,
    // Stamped by the same clock that stamps decision times (ms precision), so the very next
    // request of this process sees the event.
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
