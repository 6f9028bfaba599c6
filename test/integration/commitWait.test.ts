import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SubjectLoader } from '../../src/consent/SubjectLoader.js';
import type { Db } from '../../src/db/index.js';
import { openTestDb, startTestGateway, type TestDb, type TestGateway } from '../harness.js';

// A request waiting for its audit record (the group commit) holds its response and little else:
// the subgraphs' loaders (their rows, the subjects and their consent) are let go before the wait.
// Shown with the garbage collector: the rows the store returned and the request's subject loader
// are watched by a FinalizationRegistry, the audit write is held back, and while it is, a full
// collection must have freed every one of them. (Not WeakRefs: Node keeps the target of a WeakRef
// made in a socket's callback alive until a later point no test can wait for.)

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Objects watched for collection: how many were watched, how many are gone. */
class Watched {
  watched = 0;
  freed = 0;
  /** Objects watched before the last reset are not counted when they go. */
  private generation = 0;
  private readonly registry = new FinalizationRegistry<number>((generation) => {
    if (generation === this.generation) this.freed++;
  });
  watch(o: object): void {
    this.watched++;
    this.registry.register(o, this.generation);
  }
  reset(): void {
    this.generation++;
    this.watched = 0;
    this.freed = 0;
  }
}

/** The store, watching the rows of the data subgraphs' queries. */
function watchedDb(db: Db, rows: Watched): Db {
  const query = (async (sql: string, params?: readonly unknown[], options?: Parameters<Db['query']>[2]) => {
    const result = await db.query(sql, params, options);
    if (/\bFROM (devices|invoices|billing_accounts|subscribers)\b/.test(sql)) for (const r of result.rows) rows.watch(r as object);
    return result;
  }) as Db['query'];
  return { ...db, kind: db.kind, query, exec: (sql) => db.exec(sql), transaction: (fn) => db.transaction(fn), session: (fn) => db.session(fn), close: () => db.close() };
}

/** The audit store, whose next write first waits for `gate.onHeld` while `gate.armed`. */
function gatedAuditDb(db: Db, gate: { armed: boolean; onHeld?: () => Promise<void> }): Db {
  return {
    ...db,
    kind: db.kind,
    query: ((sql: string, params?: readonly unknown[], options?: Parameters<Db['query']>[2]) => db.query(sql, params, options)) as Db['query'],
    exec: (sql) => db.exec(sql),
    transaction: (fn) => db.transaction(fn),
    session: async (fn) => {
      if (gate.armed) {
        gate.armed = false;
        await gate.onHeld?.();
      }
      return db.session(fn);
    },
    close: () => db.close(),
  };
}

describe('the commit wait', () => {
  let base: TestDb;
  let gw: TestGateway;
  const rows = new Watched();
  const gate: { armed: boolean; onHeld?: () => Promise<void> } = { armed: false };
  // Every subject loader that loads or primes a subject (the request's one), watched once.
  const subjectLoaders = new Watched();
  const seen = new WeakSet<SubjectLoader>();
  const { load, prime } = SubjectLoader.prototype;
  const noted = (loader: SubjectLoader) => {
    if (!seen.has(loader)) subjectLoaders.watch(loader);
    seen.add(loader);
  };

  beforeAll(async () => {
    SubjectLoader.prototype.load = function (this: SubjectLoader, id: string) {
      noted(this);
      return load.call(this, id);
    };
    SubjectLoader.prototype.prime = function (this: SubjectLoader, ids: readonly string[]) {
      noted(this);
      return prime.call(this, ids);
    };
    base = await openTestDb();
    gw = await startTestGateway({ db: Object.assign(watchedDb(base, rows), { url: base.url }), auditDb: gatedAuditDb(base, gate) });
  });
  afterAll(async () => {
    Object.assign(SubjectLoader.prototype, { load, prime });
    await gw?.close();
    await base?.drop();
  });

  const profile = `{ subscriber(id: "sub-adult") { fullName email devices { model imei } billingAccount { balance invoices { id amount } } } }`;

  it('holds none of the rows the subgraphs loaded, nor its subject loader, while the request waits for its record', async () => {
    const seenWhileHeld = { rows: -1, rowsFreed: -1, loaders: -1, loadersFreed: -1 };
    gate.onHeld = async () => {
      // The request has answered everything and waits for its record here: collect, let the
      // finalizers run, then count.
      gc();
      for (let i = 0; i < 5 && (rows.freed < rows.watched || subjectLoaders.freed < subjectLoaders.watched); i++) {
        await new Promise((r) => setTimeout(r, 20));
        gc();
      }
      Object.assign(seenWhileHeld, { rows: rows.watched, rowsFreed: rows.freed, loaders: subjectLoaders.watched, loadersFreed: subjectLoaders.freed });
    };
    // The pool's connections opened first: pg-pool keeps the result of a new connection's first
    // query reachable from that connection's listeners for as long as it lives (a closure's
    // context), which is not the gateway holding anything.
    for (const r of await Promise.all([1, 2, 3].map(() => gw.gql(profile, { purpose: 'CUSTOMER_SUPPORT' })))) expect(r.status).toBe(200);
    rows.reset();
    subjectLoaders.reset();
    gate.armed = true;
    const res = await gw.gql(profile, { purpose: 'CUSTOMER_SUPPORT' });
    expect(res.status).toBe(200);
    expect(res.body.data?.subscriber?.devices?.length).toBeGreaterThan(0);
    expect(res.body.extensions?.audit?.recordId).toEqual(expect.any(String));
    expect(gate.armed).toBe(false); // the write was held, and the objects were counted while it was
    expect(seenWhileHeld.rows).toBeGreaterThanOrEqual(4); // a subscriber, devices, a billing account, invoices
    expect(seenWhileHeld.rowsFreed).toBe(seenWhileHeld.rows);
    expect(seenWhileHeld.loaders).toBe(1); // the request's one: the rules decided its fields through it
    expect(seenWhileHeld.loadersFreed).toBe(1);
  });
});
