/**
 * Differential property test: the real gateway (HTTP on 127.0.0.1, real store) against the
 * independent reference model of referenceModel.ts, on random operations, tokens, declared
 * purposes and consent histories (fast-check).
 *
 * Each case appends a few random consent events (to the store through recordConsent, and to the
 * model's own event lists), mints a random token, sends one random operation (up to five root
 * fields, under the default limits) and checks the whole response with checkResponse().
 *
 * FC_SEED and FC_RUNS override the seed and the number of cases; on failure fast-check prints the
 * seed (and the shrink path). Consent events accumulate in the store from case to case, so replay a
 * failure with the same FC_SEED and FC_RUNS from the start: the report also prints the model's
 * consent state at the failing case.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordConsent } from '../../src/consent/index.js';
import { FIXTURES } from '../fixtures/subscribers.js';
import { startTestGateway, type TestGateway } from '../harness.js';
import { checkResponse, type CaseContext } from './checkResponse.js';
import { mergeFields, mutationArb, operationArb, renderOperation } from './operations.js';
import { loadRawData, type RawSubscriber } from './rawData.js';
import { admit, CONSENT_MODE, consentWriteRefusal, decideConsentWrite, latestByPurpose, PURPOSES, REF_REQUIRED, type CallerKind, type ModelCaller, type ModelSubject, type Purpose } from './referenceModel.js';

/** fast-check runs: one HTTP request each, carrying two to five root operations (the cases). */
const RUNS = Number(process.env.FC_RUNS ?? 800);
const SEED = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : Math.floor(Math.random() * 0x7fffffff);

const DAY = 86_400_000;
/** A date `years` years before today (UTC), shifted by `days`. */
function birthDate(years: number, days: number): string {
  const d = new Date();
  d.setUTCHours(12, 0, 0, 0);
  d.setUTCFullYear(d.getUTCFullYear() - years);
  return new Date(d.getTime() + days * DAY).toISOString().slice(0, 10);
}

/**
 * Subscribers the shared fixtures lack, for edges the policy distinguishes: no date of birth (a
 * minor, README), an 18th birthday today and tomorrow, no devices / location / billing, two
 * devices with empty columns, an account without a card or invoices, an agency of its own.
 */
async function insertEdgeSubscribers(gw: TestGateway): Promise<void> {
  const q = (sql: string, params: unknown[]) => gw.db.query(sql, params);
  const sub = `INSERT INTO subscribers (id, msisdn, full_name, email, postal_address, date_of_birth, agency_id, directory_listing) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`;
  await q(sub, ['sub-nodob', '+447700900901', 'Edge No Birthdate', null, null, null, 'agency-east', 'UNLISTED']);
  await q(sub, ['sub-eighteen', '+447700900902', 'Edge Eighteen Today', 'eighteen@example.com', '2 Edge Road, Leeds LS1 1AA', birthDate(18, 0), 'agency-south', 'LISTED']);
  await q(sub, ['sub-young', '+447700900903', 'Edge Eighteen Tomorrow', 'young@example.com', '3 Edge Road, Leeds LS1 1AA', birthDate(18, 1), 'agency-west', 'UNLISTED']);
  const dev = `INSERT INTO devices (id, subscriber_id, imei, imsi, iccid, mac_address, model, manufacturer, os_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;
  await q(dev, ['dev-eighteen-a', 'sub-eighteen', '356938035643809', '234150000099901', '8944150000000099901', '02:00:00:00:99:01', 'iPhone 15', 'Apple', 'iOS 18.1']);
  await q(dev, ['dev-eighteen-b', 'sub-eighteen', '490154203237518', '234150000099902', '8944150000000099902', null, null, null, null]);
  await q(dev, ['dev-young', 'sub-young', '358240051111110', '234150000099903', '8944150000000099903', '02:00:00:00:99:03', 'Moto G', 'Motorola', 'Android 14']);
  const loc = `INSERT INTO locations (subscriber_id, cell_id, latitude, longitude, accuracy_meters, observed_at) VALUES ($1, $2, $3, $4, $5, $6)`;
  await q(loc, ['sub-eighteen', '234-15-200-1', 53.796345, -1.547893, 120.5, new Date(Date.now() - 2 * DAY).toISOString()]);
  await q(loc, ['sub-young', '234-15-200-2', 53.801279, -1.548567, 80, new Date(Date.now() - 3 * DAY).toISOString()]);
  const cdr = `INSERT INTO call_detail_records (id, subscriber_id, calling_number, called_number, started_at, duration_seconds, direction, cell_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`;
  await q(cdr, ['cdr-eighteen-1', 'sub-eighteen', '+447700900902', '+441134960000', new Date(Date.now() - 4 * DAY).toISOString(), 42, 'OUTBOUND', '234-15-200-1']);
  const acct = `INSERT INTO billing_accounts (subscriber_id, balance, currency, card_brand, card_last4, card_expiry) VALUES ($1, $2, $3, $4, $5, $6)`;
  await q(acct, ['sub-eighteen', 0, 'GBP', null, null, null]);
  await q(acct, ['sub-young', -3.75, 'EUR', 'MASTERCARD', '5100', '01/30']);
  await q(`INSERT INTO invoices (id, subscriber_id, period, amount) VALUES ($1, $2, $3, $4)`, ['inv-young-1', 'sub-young', '2026-10', 9.99]);
}

const CONSENT_PURPOSES = Object.keys(CONSENT_MODE) as Purpose[];
const AGENCIES = ['agency-north', 'agency-south', 'agency-east', 'agency-west', 'agency-none'];
const SOURCES = ['app', 'web', 'call centre', 'cli'];

/** A token as the case wants it: none, a forged one, or a minted one with these claims. */
type TokenCase = { type: 'none' } | { type: 'forged' } | { type: 'minted'; kind: CallerKind; sub: string; agency?: string; purposes: Purpose[]; act?: string };

/** One random case: consent events to append first, a token, the declared purpose and reference. */
interface ConsentCase {
  subscriberId: string;
  purpose: Purpose;
  action: 'GRANT' | 'WITHDRAW';
  /** How long before now the event happened, in ms (negative: an event dated in the future, not yet in force). */
  agoMs: number;
  source: string;
}

function tokenArb(subs: readonly string[]): fc.Arbitrary<TokenCase> {
  const business = PURPOSES.filter((p) => p !== 'SUBJECT_ACCESS' && p !== 'AUDIT');
  // Mostly the purposes a kind may declare; now and then one it may not (PURPOSE_NOT_PERMITTED).
  const extra = fc.oneof({ weight: 9, arbitrary: fc.constant<Purpose[]>([]) }, { weight: 1, arbitrary: fc.subarray([...PURPOSES], { minLength: 1, maxLength: 2 }) });
  const minted = fc
    .record({
      kind: fc.constantFrom<CallerKind>('internal', 'internal', 'internal', 'partner', 'agent', 'subscriber', 'subscriber', 'auditor'),
      sub: fc.constantFrom(...subs, 'sub-nope'),
      agency: fc.constantFrom(...AGENCIES),
      business: fc.subarray(business, { minLength: 1, maxLength: 4 }),
      extra,
      // A delegated token (RFC 8693 `act`): decisions use the top-level claims, whoever the actor is.
      act: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(...subs, 'svc-broker') }),
    })
    .map(({ kind, sub, agency, business, extra, act }): TokenCase => {
      const own: Purpose[] = kind === 'subscriber' ? ['SUBJECT_ACCESS'] : kind === 'auditor' ? ['AUDIT'] : business;
      const purposes = [...new Set([...own, ...extra])];
      const scoped = kind === 'partner' || kind === 'agent';
      const tokenSub = kind === 'internal' || kind === 'auditor' ? `svc-${sub}` : sub;
      // A subject acting for itself is refused outright (requestRejections.test.ts covers it).
      return { type: 'minted', kind, sub: tokenSub, agency: scoped ? agency : undefined, purposes, ...(act && act !== tokenSub ? { act } : {}) };
    });
  return fc.oneof({ weight: 1, arbitrary: fc.constant<TokenCase>({ type: 'none' }) }, { weight: 1, arbitrary: fc.constant<TokenCase>({ type: 'forged' }) }, { weight: 60, arbitrary: minted });
}

/** The model's latest consent event per purpose of every subject, for a failure report (earlier cases' events count too). */
function describeConsents(subjects: ReadonlyMap<string, ModelSubject>, now: Date): string {
  return [...subjects.values()]
    .map((s) => `${s.id}${s.directoryListing === 'UNLISTED' ? '(UNLISTED)' : ''}{${[...latestByPurpose(s.events, now).values()].map((e) => `${e.purpose}:${e.action}@${e.at}`).join(' ')}}`)
    .join(' ');
}

describe('differential: the gateway agrees with the reference model', () => {
  let gw: TestGateway;
  let raw: Map<string, RawSubscriber>;
  const subjects = new Map<string, ModelSubject>();
  const cursors = new Map<string, string>();
  /** Every consent event time used, so no two events of the model share an instant. */
  const usedTimes = new Set<number>();
  /** The in-flight windows of consent mutations the model allowed: no other event may fall inside one. */
  const windows: Array<[number, number]> = [];
  const free = (t: number) => !usedTimes.has(t) && !windows.some(([lo, hi]) => t >= lo - 1 && t <= hi + 1);

  beforeAll(async () => {
    gw = await startTestGateway();
    await insertEdgeSubscribers(gw);
    raw = await loadRawData(gw.db);
    const fixtureEvents = new Map(Object.values(FIXTURES).map((f) => [f.id, f.consents]));
    for (const s of raw.values()) {
      const events = (fixtureEvents.get(s.id) ?? []).map((e) => ({ purpose: e.purpose, action: e.action, at: new Date(e.at).toISOString(), source: 'fixture' }));
      for (const e of events) usedTimes.add(Date.parse(e.at));
      subjects.set(s.id, { id: s.id, agencyId: s.agencyId, dateOfBirth: s.dateOfBirth, directoryListing: s.directoryListing, events });
    }
    // Page cursors are sealed by the gateway: collect the one that ends at each subscriber.
    let after: string | null = null;
    for (;;) {
      const res = await gw.gql(`query($a: String) { subscribers(first: 1, after: $a) { nodes { id } pageInfo { endCursor hasNextPage } } }`, {
        purpose: 'SERVICE_DELIVERY',
        variables: { a: after },
      });
      const page = res.body.data!.subscribers as { nodes: Array<{ id: string }>; pageInfo: { endCursor: string; hasNextPage: boolean } };
      if (page.nodes.length === 0) break;
      cursors.set(page.nodes[0].id, page.pageInfo.endCursor);
      after = page.pageInfo.endCursor;
      if (!page.pageInfo.hasNextPage) break;
    }
    expect([...cursors.keys()].sort()).toEqual([...raw.keys()].sort());
  });
  afterAll(() => gw?.close());

  it('on random operations, tokens, purposes and consent histories', async () => {
    const ids = [...raw.keys()].sort();
    const starts = [...raw.values()].flatMap((s) => s.cdrs.map((c) => Date.parse(c.startedAt)));
    const times = [...starts.flatMap((t) => [t - 1, t, t + 1]), Date.parse('2001-01-01T00:00:00Z'), Date.now() + DAY].map((t) => new Date(t).toISOString());
    const pools = { ids: [...ids, 'sub-nope'], msisdns: [...[...raw.values()].map((s) => s.msisdn), '+447700000000'], listedIds: ids, times };
    // Most events go to a few subscribers, so others keep a short history (CONSENT_REQUIRED stays reachable).
    const churn = ['sub-adult', 'sub-south', 'sub-withdrawn', 'sub-unlisted', 'sub-minor', 'sub-young'];
    const consentArb: fc.Arbitrary<ConsentCase> = fc.record({
      subscriberId: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...churn) }, { weight: 1, arbitrary: fc.constantFrom(...ids) }),
      purpose: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...CONSENT_PURPOSES) }, { weight: 1, arbitrary: fc.constantFrom(...PURPOSES) }),
      action: fc.constantFrom<'GRANT' | 'WITHDRAW'>('GRANT', 'GRANT', 'WITHDRAW'),
      // Mostly recent (the newest event decides), sometimes back-dated behind older events, rarely
      // dated hours ahead (not in force during the run: consent is read as of the decision time).
      agoMs: fc.oneof(
        { weight: 12, arbitrary: fc.integer({ min: 1_000, max: 600_000 }) },
        { weight: 4, arbitrary: fc.integer({ min: 1_000, max: 40 * DAY }) },
        { weight: 1, arbitrary: fc.integer({ min: -40 * DAY, max: -3_600_000 }) },
      ),
      source: fc.constantFrom(...SOURCES),
    });
    const caseArb = fc.record({
      consents: fc.oneof({ weight: 1, arbitrary: fc.constant<ConsentCase[]>([]) }, { weight: 1, arbitrary: fc.array(consentArb, { minLength: 1, maxLength: 2 }) }),
      token: tokenArb(ids),
      declared: fc.oneof(
        { weight: 40, arbitrary: fc.constant<'own' | null | string>('own') },
        { weight: 3, arbitrary: fc.constantFrom<string | null>(...PURPOSES) },
        { weight: 1, arbitrary: fc.constantFrom<string | null>(null, 'NOT_A_PURPOSE', 'marketing') },
      ),
      pickOwn: fc.nat(),
      /** For a consent mutation, usually hold and declare the purpose that may write consent. */
      writer: fc.constantFrom(true, true, true, false),
      ref: fc.oneof({ weight: 12, arbitrary: fc.constant<string | undefined>('INC-2026-0042') }, { weight: 1, arbitrary: fc.constantFrom<string | undefined>(undefined, ' ') }),
      op: fc.oneof({ weight: 12, arbitrary: operationArb(pools) }, { weight: 1, arbitrary: mutationArb({ ids: pools.ids, purposes: PURPOSES }) }),
    });

    const ctxBase = { raw, subjects, hashes: new Map<string, string>(), hashOwners: new Map<string, string>(), stats: new Map<string, number>() };
    let requests = 0;
    let cases = 0;
    const tokens = new Map<string, string>();
    /** Minting signs (Ed25519); a token is reused for the same claims, as a real client would. */
    const tokenFor = async (t: Extract<TokenCase, { type: 'minted' }>) => {
      const key = JSON.stringify([t.kind, t.sub, t.agency, t.purposes, t.act]);
      let token = tokens.get(key);
      if (!token) tokens.set(key, (token = await gw.mint({ kind: t.kind, sub: t.sub, agency: t.agency, purposes: t.purposes, act: t.act ? { sub: t.act } : undefined }, 3600)));
      return token;
    };
    const started = performance.now();
    console.log(`differential: seed ${SEED}, ${RUNS} requests (FC_SEED / FC_RUNS to override)`);
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        requests++;
        cases += mergeFields(c.op.roots).length;
        for (const e of c.consents) {
          let t = Date.now() - e.agoMs;
          while (!free(t)) t--;
          usedTimes.add(t);
          const at = new Date(t).toISOString();
          if (t <= Date.now()) await recordConsent(gw.db, { subscriberId: e.subscriberId, purpose: e.purpose, action: e.action, source: e.source, at });
          // recordConsent refuses a time ahead of the clock; a store may still hold such an event
          // (written by another tool, or an older version): the gateway must read it right.
          else await gw.db.query('INSERT INTO consent_events (subscriber_id, purpose, action, source, at) VALUES ($1, $2, $3, $4, $5::timestamptz)', [e.subscriberId, e.purpose, e.action, e.source, at]);
          subjects.get(e.subscriberId)!.events.push({ purpose: e.purpose, action: e.action, at, source: e.source });
        }
        let t = c.token;
        if (c.op.kind === 'mutation' && c.writer && t.type === 'minted' && (t.kind === 'internal' || t.kind === 'partner' || t.kind === 'agent')) {
          t = { ...t, purposes: ['CONSENT_MANAGEMENT', ...t.purposes.filter((p) => p !== 'CONSENT_MANAGEMENT')] };
        }
        const caller: ModelCaller | null = t.type === 'minted' ? { kind: t.kind, sub: t.sub, agency: t.agency, purposes: t.purposes } : null;
        const token = t.type === 'minted' ? await tokenFor(t) : t.type === 'forged' ? 'eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ4In0.' : null;
        const own = t.type !== 'minted' || t.purposes.length === 0 ? 'SERVICE_DELIVERY' : c.op.kind === 'mutation' && c.writer ? t.purposes[0] : t.purposes[c.pickOwn % t.purposes.length];
        const declared = c.declared === 'own' ? own : c.declared;
        const ref = declared !== null && REF_REQUIRED.has(declared as Purpose) ? c.ref : c.ref && c.pickOwn % 3 === 0 ? c.ref : undefined;
        const { query, variables } = renderOperation(c.op, (id) => cursors.get(id)!);
        const sent = Date.now();
        const res = await gw.gql(query, { token, purpose: declared, ref, variables });
        const ctx: CaseContext = { ...ctxBase, caller, declared, ref, now: new Date(sent), inFlight: [sent, Date.now()] };
        const issues = checkResponse(c.op, ctx, res);
        const admission = admit(caller, declared, ref);
        if (c.op.kind === 'mutation' && admission.ok && res.status === 200) {
          // The model's own account of what the mutation recorded (never read back from the product).
          const [m] = mergeFields(c.op.roots);
          const subject = subjects.get(m.args.get('subscriberId') as string);
          const target = (m.args.get('purpose') as { enumValue: string }).enumValue as Purpose;
          if (subject && decideConsentWrite(admission.purpose, caller!, subject).effect === 'ALLOW' && consentWriteRefusal(target) === undefined) {
            const window = ctx.inFlight;
            windows.push(window);
            subject.events.push({
              purpose: (m.args.get('purpose') as { enumValue: string }).enumValue,
              action: m.name === 'grantConsent' ? 'GRANT' : 'WITHDRAW',
              at: new Date(Math.floor((window[0] + window[1]) / 2)).toISOString(),
              source: m.args.get('source') as string,
              window,
            });
          }
        }
        if (issues.length > 0) {
          throw new Error(
            [
              `${issues.length} disagreement(s) with the reference model:`,
              ...issues.slice(0, 20).map((i) => `  - ${i}`),
              `caller: ${JSON.stringify(caller)}  X-Purpose: ${declared}  X-Purpose-Ref: ${ref ?? '-'}`,
              `consent events this case: ${JSON.stringify(c.consents)}`,
              `model consent state (latest per purpose): ${describeConsents(subjects, ctx.now)}`,
              `query: ${query}`,
              `variables: ${JSON.stringify(variables)}`,
              `response: ${JSON.stringify(res.body).slice(0, 4000)}`,
            ].join('\n'),
          );
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
    const seconds = (performance.now() - started) / 1000;
    const stats = [...ctxBase.stats.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k}=${n}`).join(' ');
    console.log(`differential: ${cases} cases, seed ${SEED} (${requests} requests (queries of 2-5 root fields, consent mutations of one) in ${seconds.toFixed(1)} s; checked ${stats})`);
  }, 600_000);
});
