import { describe, expect, it, vi } from 'vitest';
import { loadSubjects, loadSubjectsAsOf, recordConsent, SubjectLoader } from '../../src/consent/index.js';
import { latestEventsAsOf, subjectsFromRows, type SubjectRow } from '../../src/consent/loadSubjects.js';
import { FutureConsentTimeError } from '../../src/consent/recordConsent.js';
import { assertClockInSync, CONSENT_CLOCK_TOLERANCE_MS, ConsentClockSkewError } from '../../src/consent/clockSkew.js';
import { storeReadiness } from '../../src/gateway/createHttpServer.js';
import type { Db } from '../../src/db/index.js';
import { seedDemoData } from '../../src/db/seedDemoData.js';
import { openTestDb } from '../harness.js';

/** The loaders as they read rows before they read one JSON text: the driver's own columns. */
async function reference(db: Db, ids: string[], asOf: string | null) {
  const { rows } = await db.query<SubjectRow>(
    `SELECT s.id, s.agency_id, to_char(s.date_of_birth, 'YYYY-MM-DD') AS dob, s.directory_listing,
            e.id::text AS event_id, e.purpose, e.action, e.at, e.source
       FROM subscribers s ${latestEventsAsOf('$2::timestamptz')} WHERE s.id = ANY($1::text[])`,
    [ids, asOf],
  );
  return subjectsFromRows(rows, ids, (r) => r.id);
}

const plain = (v: unknown) => JSON.parse(JSON.stringify(v, (_k, x: unknown) => (x instanceof Map ? [...x] : x))) as unknown;

describe('loadSubjects and loadSubjectsAsOf (one JSON text per query)', () => {
  it('load what the driver columns give: subjects, latest events by purpose, times to the millisecond, unknown ids', async () => {
    const db = await openTestDb();
    try {
      await seedDemoData(db, { subscribers: 40, seed: 7, now: new Date('2026-11-20T12:00:00Z') });
      // Events with times finer than a millisecond and in another zone, a tie on time, quotes in the source.
      for (const [sub, purpose, action, at, source] of [
        ['sub-000003', 'MARKETING', 'GRANT', '2026-11-25T00:00:00.123999Z', 'app "quoted" \\ source'],
        ['sub-000003', 'MARKETING', 'WITHDRAW', '2026-11-25T00:00:00.123999Z', 'call'],
        ['sub-000004', 'ANALYTICS', 'GRANT', '2026-06-01T12:00:00.9999995+02:00', 'web'],
        ['sub-000005', 'LOCATION_SERVICES', 'GRANT', '1999-12-31T23:59:59.0005Z', 'Zoë 東京'],
      ]) {
        await db.query('INSERT INTO consent_events (subscriber_id, purpose, action, source, at) VALUES ($1, $2, $3, $4, $5::timestamptz)', [sub, purpose, action, source, at]);
      }
      const ids = [...Array.from({ length: 40 }, (_, i) => `sub-${String(i + 1).padStart(6, '0')}`), 'sub-nope', 'sub-000003'];
      for (const asOf of [null, '2026-11-25T00:00:00.123Z', '2026-11-25T00:00:00.122Z', '2026-06-01T00:00:00Z', '2020-01-01T00:00:00Z']) {
        const expected = plain(await reference(db, ids, asOf));
        expect(plain(await loadSubjects(db, ids, asOf ?? undefined))).toEqual(expected);
        if (asOf) expect(plain(await loadSubjectsAsOf(db, ids.map((id) => ({ id, asOf }))))).toEqual(expected);
      }
      expect(plain(await loadSubjects(db, []))).toEqual([]);
      const [s3] = await loadSubjects(db, ['sub-000003']);
      expect(s3!.status === 'found' && s3!.latest?.find((c) => c.purpose === 'MARKETING')?.source).toBe('call'); // the tie goes to the later id
    } finally {
      await db.drop();
    }
  });

  it.each([
    ['infinity', 'infinity'],
    ['-infinity', '-infinity'],
    ['a time before year 1', '0044-03-15 12:00:00+00 BC'],
    ['a time after year 9999', '10000-01-01 00:00:00+00'],
  ])('refuses to load a consent event at %s (a dropped withdrawal would release data)', async (_name, at) => {
    const db = await openTestDb();
    try {
      await seedDemoData(db, { subscribers: 3, seed: 7, now: new Date('2026-11-20T12:00:00Z') });
      await db.query(`INSERT INTO consent_events (subscriber_id, purpose, action, source, at) VALUES ('sub-000002', 'MARKETING', 'WITHDRAW', 'x', $1::timestamptz)`, [at]);
      await expect(loadSubjects(db, ['sub-000001', 'sub-000002'])).rejects.toThrow(/outside years 1-9999/);
      await expect(loadSubjectsAsOf(db, [{ id: 'sub-000002', asOf: 'infinity' }])).rejects.toThrow(/outside years 1-9999/);
      // Another subscriber's load is not affected.
      await expect(loadSubjects(db, ['sub-000001'])).resolves.toHaveLength(1);
    } finally {
      await db.drop();
    }
  });

  // PGlite runs inside this process: its clock is this process's (a fake Date moves both). The
  // cases with two clocks run against PostgreSQL (the CI's second leg).
  it.skipIf(!process.env.TEST_DATABASE_URL)('a withdrawal recorded by a machine whose clock runs 120 s ahead is seen by the very next request (stamped no later than the database\'s clock)', async () => {
    const db = await openTestDb();
    try {
      await seedDemoData(db, { subscribers: 3, seed: 7, now: new Date('2026-11-20T12:00:00Z') });
      await recordConsent(db, { subscriberId: 'sub-000002', purpose: 'MARKETING', action: 'GRANT', source: 'web' });
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + 120_000);
      let withdrawn: Awaited<ReturnType<typeof recordConsent>>;
      try {
        withdrawn = await recordConsent(db, { subscriberId: 'sub-000002', purpose: 'MARKETING', action: 'WITHDRAW', source: 'cli' });
      } finally {
        vi.useRealTimers();
      }
      // The next request, as of the gateway's (correct) clock, through its per-request loader.
      const loader = new SubjectLoader(db, { asOf: new Date().toISOString() });
      const s = await loader.load('sub-000002');
      expect(s.status === 'found' && s.consents.get('MARKETING')).toMatchObject({ action: 'WITHDRAW', id: withdrawn.id });
      // An explicit event time ahead of the database's clock is refused, not stored.
      await expect(recordConsent(db, { subscriberId: 'sub-000002', purpose: 'MARKETING', action: 'GRANT', source: 'x', at: new Date(Date.now() + 120_000).toISOString() })).rejects.toThrow(FutureConsentTimeError);
      const { rows } = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM consent_events WHERE subscriber_id = 'sub-000002' AND source = 'x'`);
      expect(rows[0]!.n).toBe('0');
    } finally {
      vi.useRealTimers();
      await db.drop();
    }
  });

  it('a gateway whose clock is behind the database\'s by more than the tolerance reads no consent: unavailable (fail closed), and readiness says why', async () => {
    const db = await openTestDb();
    try {
      await seedDemoData(db, { subscribers: 3, seed: 7, now: new Date('2026-11-20T12:00:00Z') });
      // A request's own time may be well in the past (a slow request): only the clocks are compared.
      const past = new Date(Date.now() - 60_000).toISOString();
      expect((await loadSubjects(db, ['sub-000001'], past, { live: true }))[0]!.status).toBe('found');
      expect((await new SubjectLoader(db, { asOf: new Date().toISOString() }).load('sub-000001')).status).toBe('found');
      expect(await storeReadiness(db)()).toEqual({ ready: true });
      if (!process.env.TEST_DATABASE_URL) return; // one clock in PGlite (above)
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() - CONSENT_CLOCK_TOLERANCE_MS - 60_000);
      try {
        const now = new Date().toISOString();
        await expect(loadSubjects(db, ['sub-000001'], now, { live: true })).rejects.toThrow(ConsentClockSkewError);
        expect(await new SubjectLoader(db, { asOf: now }).load('sub-000001')).toEqual({ status: 'unavailable' });
        // Replay's reads (not live) are not a request's: they load.
        expect((await loadSubjects(db, ['sub-000001'], now))[0]!.status).toBe('found');
        const ready = await storeReadiness(db)();
        expect(ready).toMatchObject({ ready: false, reason: expect.stringMatching(/^this gateway's clock is \d+ ms behind the database's/) });
      } finally {
        vi.useRealTimers();
      }
    } finally {
      vi.useRealTimers();
      await db.drop();
    }
  });

  it('a slow answer (a busy pool) is never read as clock skew: the database\'s time is compared with ours after the answer', async () => {
    const slow = {
      kind: 'postgres' as const,
      query: async () => {
        const dbNow = Date.now(); // read at once, answered 1.5 s later
        await new Promise((r) => setTimeout(r, 1500));
        return { rows: [{ now_ms: dbNow }] };
      },
    };
    await expect(assertClockInSync(slow as never)).resolves.toBeUndefined();
    const ahead = { kind: 'postgres' as const, query: async () => ({ rows: [{ now_ms: Date.now() + CONSENT_CLOCK_TOLERANCE_MS + 2000 }] }) };
    await expect(assertClockInSync(ahead as never)).rejects.toThrow(ConsentClockSkewError);
  });
});

