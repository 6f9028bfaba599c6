import type { Db } from '../db/index.js';

/**
 * How far clocks may disagree with the database's. A gateway reads consent as of its request's
 * time; a consent event is stamped no more than this ahead of the database's clock
 * (recordConsent). A gateway whose clock is further behind the database's could miss a recorded
 * withdrawal for that long, so its consent reads fail then (the caller fails closed:
 * CONSENT_UNAVAILABLE), and /readyz says why. Within it, a withdrawal takes effect at most twice
 * this late (a recorder ahead, a gateway behind): keep clocks in sync (NTP: milliseconds).
 */
export const CONSENT_CLOCK_TOLERANCE_MS = 500;

/** How often a process measures its clock against the database's. */
const MEASURE_EVERY_MS = 5000;

/** The database's clock is further ahead of this process's than CONSENT_CLOCK_TOLERANCE_MS. */
export class ConsentClockSkewError extends Error {
  constructor(readonly aheadMs: number) {
    super(`The database's clock is ${Math.round(aheadMs)} ms ahead of this process's (more than ${CONSENT_CLOCK_TOLERANCE_MS} ms): consent read as of a request's time could miss a recorded withdrawal.`);
    this.name = 'ConsentClockSkewError';
  }
}

/**
 * How far the database's clock is ahead of this process's, at least: its time, read between two
 * readings of ours, less the later of them. Waiting for a connection or a slow answer only makes
 * it smaller, never a false alarm.
 */
export async function databaseClockAheadMs(db: Pick<Db, 'query'>): Promise<number> {
  const { rows } = await db.query<{ now_ms: number | string }>('SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now_ms');
  const after = Date.now();
  return Number(rows[0]?.now_ms) - after;
}

interface Measure {
  aheadMs: number;
  at: number;
  pending?: Promise<void>;
}
const measures = new WeakMap<object, Measure>();

/**
 * Throws ConsentClockSkewError when this process's clock was, at the last measure (at most 10 s
 * old), behind the database's by more than the tolerance. The first call on a store waits for
 * a measure; later ones renew it in the background. PGlite runs in this process: one clock.
 */
export async function assertClockInSync(db: Pick<Db, 'query'> & { kind?: Db['kind'] }): Promise<void> {
  if (db.kind === 'pglite') return;
  let m = measures.get(db);
  const renew = () => {
    const entry = m ?? { aheadMs: 0, at: 0 };
    entry.pending ??= databaseClockAheadMs(db)
      .then((ahead) => {
        entry.aheadMs = ahead;
        entry.at = Date.now();
      })
      .finally(() => {
        entry.pending = undefined;
      });
    if (!m) measures.set(db, (m = entry));
    return entry.pending;
  };
  const now = Date.now();
  // None yet, one from before a quiet spell, or this clock was set back since (the measure no
  // longer holds): wait for one.
  if (!m || m.at === 0 || now < m.at || now - m.at > 2 * MEASURE_EVERY_MS) await renew();
  else if (now - m.at > MEASURE_EVERY_MS) renew()?.catch(() => undefined);
  if (m!.aheadMs > CONSENT_CLOCK_TOLERANCE_MS) throw new ConsentClockSkewError(m!.aheadMs);
}
