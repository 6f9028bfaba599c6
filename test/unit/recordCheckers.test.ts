import { afterEach, describe, expect, it } from 'vitest';
import type { AuditStore, RecordPage } from '../../src/audit/AuditStore.js';
import { verifyLogs } from '../../src/audit/verifyLogs.js';
import { canonicalJson } from '../../src/audit/canonicalJson.js';
import { checkRecords } from '../../src/audit/checkRecords.js';
import { DEFLATE_UP_TO } from '../../src/audit/leafStorage.js';
import { leafHashHex, perfectRoot } from '../../src/audit/merkle.js';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { inThreadCheckers, workerCheckers, type RecordCheckers } from '../../src/audit/RecordCheckers.js';
import { CopiedRecords, type CopiedPage } from '../../src/audit/copiedRecords.js';
import { COPY_HEADER, COPY_TRAILER, copiedOf, copyTuple, rowsOf, textArray, type TestPage } from '../fixtures/copyPage.js';
import { busyEveryOther, wrappedCheckers, type SharedPages } from '../fixtures/busyCheckers.js';

const LOG = 'gw-test-1';
const AT = '2026-01-01T00:00:00.000Z';

/**
 * A page of `n` honest records from index `from`, as the store would return them; with
 * `deflateEvery`, every such record is stored deflated (as a large leaf is), the others as text.
 */
function page(from: number, n: number, deflateEvery = 0): TestPage {
  const p: TestPage = { seq: [], recordId: [], leafHash: [], body: [], deflated: [], columns: [] };
  for (let seq = from; seq < from + n; seq++) {
    const body = canonicalJson({
      v: 1, logId: LOG, seq, recordId: `${LOG}-${seq}`, at: AT, requestId: `r${seq}`, caller: { sub: 'svc', kind: 'internal', purposes: ['BILLING'] },
      purpose: 'BILLING', ref: null, operationName: null, documentHash: null, policyVersion: 'v', rejection: null,
      decisions: [{ subscriberId: `sub-${seq % 3}`, coordinate: 'Subscriber.fullName', effect: 'ALLOW', count: 1 }],
    });
    p.seq.push(seq);
    p.recordId.push(`${LOG}-${seq}`);
    p.leafHash.push(leafHashHex(body));
    const deflate = deflateEvery > 0 && seq % deflateEvery === 0;
    p.body.push(deflate ? null : body);
    p.deflated.push(deflate ? new Uint8Array(deflateRawSync(Buffer.from(body, 'utf8'))) : null);
    p.columns.push(JSON.stringify([AT, 'BILLING', 'svc', 'internal', null, [`sub-${seq % 3}`]]));
  }
  return p;
}

/** The same page with record `i` changed by `edit`. */
function edited(p: TestPage, i: number, edit: (p: TestPage, i: number) => void): TestPage {
  const copy: TestPage = { seq: [...p.seq], recordId: [...p.recordId], leafHash: [...p.leafHash], body: [...p.body], deflated: [...p.deflated], columns: [...p.columns] };
  edit(copy, i);
  return copy;
}

const hex = (h: Uint8Array) => Buffer.from(h).toString('hex');
const inflate = (p: TestPage, i: number) => p.body[i] ?? inflateRawSync(p.deflated[i]!).toString('utf8');
/** About 8 KB that inflate to one byte more than a stored leaf may. */
const bomb = new Uint8Array(deflateRawSync(Buffer.alloc(DEFLATE_UP_TO + 1), { level: 9 }));

describe('record checkers', () => {
  let checkers: RecordCheckers | undefined;
  afterEach(async () => {
    await checkers?.close();
    checkers = undefined;
  });

  const cases: Array<[string, TestPage, { passed: number; problem?: RegExp; index?: number }]> = [
    ['an honest page', page(10, 20), { passed: 20 }],
    ['a missing record', edited(page(10, 20), 5, (p, i) => { p.seq.splice(i, 1); p.recordId.splice(i, 1); p.leafHash.splice(i, 1); p.body.splice(i, 1); p.deflated.splice(i, 1); p.columns.splice(i, 1); }), { passed: 5, problem: /record 15 is missing \(the next stored record is 16\)/, index: 15 }],
    ['a body that is not JSON', edited(page(10, 20), 3, (p, i) => { p.body[i] = '{"seq":'; }), { passed: 3, problem: /record 13 is not valid JSON/, index: 13 }],
    ['a body that is not an object', edited(page(10, 20), 3, (p, i) => { p.body[i] = '7'; }), { passed: 3, problem: /record 13 is not a JSON object/, index: 13 }],
    ['a changed body', edited(page(10, 20), 7, (p, i) => { p.body[i] = p.body[i]!.replace('"r17"', '"r99"'); }), { passed: 7, problem: /record 17 was changed/, index: 17 }],
    ['a record moved from an earlier index', edited(page(10, 20), 4, (p, i) => { p.body[i] = p.body[i - 2]; p.deflated[i] = p.deflated[i - 2]; p.recordId[i] = p.recordId[i - 2]; }), { passed: 4, problem: /index 14 holds the record written as index 12/, index: 12 }],
    ['an edited query column', edited(page(10, 20), 9, (p, i) => { p.columns[i] = JSON.stringify([AT, 'MARKETING', 'svc', 'internal', null, ['sub-1']]); }), { passed: 9, problem: /record 19's query columns were changed \(purpose\)/, index: 19 }],
    ['an edited subscriber column', edited(page(10, 20), 0, (p, i) => { p.columns[i] = JSON.stringify([AT, 'BILLING', 'svc', 'internal', null, ['sub-2', 'sub-0']]); }), { passed: 0, problem: /record 10's query columns were changed \(subscriberIds\)/, index: 10 }],
    ['a body whose log id is an object with a poisoned toString', edited(page(10, 20), 2, (p, i) => { p.body[i] = p.body[i]!.replace(`"logId":"${LOG}"`, '"logId":{"toString":0}'); }), { passed: 2, problem: /^index 12 holds the record written as index 12 of log \{"toString":0\}/, index: 12 }],
    ['a body whose subscriber ids are poisoned objects', edited(page(10, 20), 6, (p, i) => {
      p.body[i] = p.body[i]!.replace('"decisions":[', '"decisions":[{"subscriberId":{"toString":0}},{"subscriberId":{"toString":0}},');
      p.leafHash[i] = leafHashHex(p.body[i]!); // the attacker recomputed its hash (an unsigned tail)
      p.columns[i] = JSON.stringify([AT, 'BILLING', 'svc', 'internal', null, ['a', 'b', 'c']]);
    }), { passed: 6, problem: /^record 16 is not a valid audit record$/, index: 16 }],
    // Large leaves are stored deflated: every third record here.
    ['an honest page, some records stored deflated', page(10, 20, 3), { passed: 20 }],
    ['a record moved from an earlier index, stored deflated', edited(page(10, 20, 3), 5, (p, i) => { p.body[i] = p.body[i - 3]; p.deflated[i] = p.deflated[i - 3]; p.recordId[i] = p.recordId[i - 3]; }), { passed: 5, problem: /index 15 holds the record written as index 12/, index: 12 }],
    ['a changed deflated body', edited(page(10, 20, 3), 2, (p, i) => { p.deflated[i] = new Uint8Array(deflateRawSync(Buffer.from(inflate(p, i).replace('"r12"', '"r99"')))); }), { passed: 2, problem: /^record 12 was changed: its content no longer matches its leaf hash$/, index: 12 }],
    ['a deflated body that does not inflate', edited(page(10, 20, 3), 5, (p, i) => { p.deflated[i] = p.deflated[i]!.map((b) => b ^ 0xff); }), { passed: 5, problem: /^record 15 was changed: its deflated content cannot be read$/, index: 15 }],
    ['a deflated body followed by other bytes', edited(page(10, 20, 3), 8, (p, i) => { p.deflated[i] = new Uint8Array(Buffer.concat([p.deflated[i]!, Buffer.from('hidden')])); }), { passed: 8, problem: /^record 18 was changed: its deflated content cannot be read$/, index: 18 }],
    ['a deflated body cut short', edited(page(10, 20, 3), 8, (p, i) => { p.deflated[i] = p.deflated[i]!.subarray(0, 10).slice(); }), { passed: 8, problem: /^record 18 was changed: its deflated content cannot be read$/, index: 18 }],
    ['a deflated body that inflates beyond the largest leaf', edited(page(10, 20, 3), 2, (p, i) => { p.deflated[i] = bomb; }), { passed: 2, problem: /^record 12 was changed: its deflated content cannot be read$/, index: 12 }],
    ['a record with no content', edited(page(10, 20, 3), 4, (p, i) => { p.body[i] = null; }), { passed: 4, problem: /^record 14 was changed: it has no content$/, index: 14 }],
    ['a record whose content is both text and deflated', edited(page(10, 20, 3), 2, (p, i) => { p.body[i] = inflate(p, i); }), { passed: 2, problem: /^record 12 was changed: it holds its content twice \(as text and deflated\)$/, index: 12 }],
  ];

  it.each(cases)('find the same in a worker thread as on this thread: %s', async (_name, t, expected) => {
    const p = rowsOf(t);
    const here = checkRecords(p, LOG, 10);
    expect(here.passed).toBe(expected.passed);
    expect(here.hashes).toHaveLength(expected.passed * 32);
    expect(hex(here.hashes)).toBe(t.leafHash.slice(0, expected.passed).join(''));
    if (expected.problem) {
      expect(here.problem?.message).toMatch(expected.problem);
      expect(here.problem?.index).toBe(expected.index);
    } else {
      expect(here.problem).toBeUndefined();
    }
    checkers = workerCheckers(2);
    await checkers.untilReady();
    expect(checkers.ready).toBe(true);
    const [a, b] = await Promise.all([checkers.check(p, LOG, 10), checkers.check(p, LOG, 10)]); // one page in each worker
    for (const there of [a, b]) {
      expect(there.passed).toBe(here.passed);
      expect(hex(there.hashes)).toBe(hex(here.hashes));
      expect(there.problem).toEqual(here.problem);
    }
    expect(await inThreadCheckers().check(p, LOG, 10)).toEqual(here);
  });

  it.each(cases)('find the same in the binary COPY form PostgreSQL sends, here and in a worker: %s', async (_name, p) => {
    const rows = checkRecords(rowsOf(p), LOG, 10);
    const copied = copiedOf(p);
    const here = checkRecords(copied, LOG, 10);
    expect({ ...here, hashes: hex(here.hashes) }).toEqual({ ...rows, hashes: hex(rows.hashes) });
    checkers = workerCheckers(1);
    await checkers.untilReady();
    const there = await checkers.check(copiedOf(p), LOG, 10);
    expect({ passed: there.passed, problem: there.problem, hashes: hex(there.hashes) }).toEqual({ passed: rows.passed, problem: rows.problem, hashes: hex(rows.hashes) });
    // The page's buffer comes back from the worker whole, for the next page to be read into.
    expect(Buffer.from(there.copy!).equals(Buffer.from(copied.copy))).toBe(true);
  });

  it('root a whole page of a power of two of records, at a multiple of its size, as one perfect subtree, here and in a worker, in both forms', async () => {
    checkers = workerCheckers(1);
    await checkers.untilReady();
    const t = page(16, 16);
    const expected = perfectRoot(Buffer.concat(t.leafHash.map((h) => Buffer.from(h, 'hex'))), 16);
    for (const form of [rowsOf(t), copiedOf(t)]) {
      const here = checkRecords(form, LOG, 16);
      expect(here.passed).toBe(16);
      expect(Buffer.from(here.root!).equals(expected)).toBe(true);
      const there = await checkers.check(form, LOG, 16); // (a copied page's buffer moves to the worker: checked here first)
      expect(Buffer.from(there.root!).equals(expected)).toBe(true);
    }
    // No root for a page that is not whole, not a power of two, or not at a multiple of its size.
    expect(checkRecords(rowsOf(edited(t, 3, (p, i) => { p.body[i] = '7'; })), LOG, 16).root).toBeUndefined();
    expect(checkRecords(rowsOf(page(16, 12)), LOG, 16).root).toBeUndefined();
    expect(checkRecords(rowsOf(page(8, 16)), LOG, 8).root).toBeUndefined();
    expect(checkRecords(rowsOf(page(16, 1)), LOG, 16).root).toBeUndefined();
  });

  /** Page(10, 5) in the COPY form, with tuple `i` (or the whole output) replaced. */
  const copiedWith = (i: number, tuple: Buffer | ((fields: Array<Uint8Array | null>) => void)): CopiedPage => {
    const honest = copiedOf(page(10, 5));
    const parts: Buffer[] = [COPY_HEADER];
    const walk = Buffer.from(honest.copy);
    let at = COPY_HEADER.length;
    for (let t = 0; t < 5; t++) {
      const fields: Array<Uint8Array | null> = [];
      at += 2;
      for (let f = 0; f < 11; f++) {
        const len = walk.readInt32BE(at);
        at += 4;
        fields.push(len < 0 ? null : walk.subarray(at, at + len));
        at += Math.max(0, len);
      }
      if (t !== i) parts.push(copyTuple(fields));
      else if (Buffer.isBuffer(tuple)) parts.push(tuple);
      else {
        tuple(fields);
        parts.push(copyTuple(fields));
      }
    }
    parts.push(COPY_TRAILER);
    const bytes = Buffer.concat(parts);
    return { copy: new Uint8Array(bytes), seq: honest.seq };
  };
  const utf8 = (s: string) => Buffer.from(s, 'utf8');
  const us = (iso: string, extra = 0n) => {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(BigInt(Date.parse(iso) - 946_684_800_000) * 1000n + extra);
    return b;
  };

  it.each<[string, () => CopiedPage, { passed: number; problem: RegExp; index: number }]>([
    ['an output that is not binary COPY', () => ({ copy: new Uint8Array(utf8('10\tgw-test-1-10\n')), seq: [10] }), { passed: 0, problem: /^record 10 is not a valid audit record$/, index: 10 }],
    ['an output cut inside a record', () => { const p = copiedOf(page(10, 5)); return { ...p, copy: p.copy.slice(0, p.copy.length - 40) }; }, { passed: 4, problem: /^record 14 is not a valid audit record$/, index: 14 }],
    ['an output that ends before the page does', () => { const p = copiedOf(page(10, 5)); return { ...p, seq: [...p.seq, 15] }; }, { passed: 5, problem: /^record 15 is missing \(the log ends before it\)$/, index: 15 }],
    ['a record of ten fields', () => copiedWith(2, (f) => f.pop()), { passed: 2, problem: /^record 12 is not a valid audit record$/, index: 12 }],
    ['a record whose field length runs past the output', () => copiedWith(3, Buffer.concat([Buffer.from([0, 11, 0x7f, 0xff, 0xff, 0xff])])), { passed: 3, problem: /^record 13 is not a valid audit record$/, index: 13 }],
    ['a position that is not an 8-byte integer', () => copiedWith(1, (f) => { f[0] = Buffer.from([0, 0, 0, 11]); }), { passed: 1, problem: /^record 11 is missing \(the next stored record is NaN\)$/, index: 11 }],
    ['a time one microsecond off', () => copiedWith(4, (f) => { f[5] = us('2026-01-01T00:00:00.000Z', 1n); }), { passed: 4, problem: /^record 14's query columns were changed \(at\)/, index: 14 }],
    ['subscribers as a two-dimensional array', () => copiedWith(0, (f) => {
      const one = textArray(['sub-1']);
      const two = Buffer.alloc(20 + 8 + 4 + 5 + 4 + 5);
      two.writeInt32BE(2, 0); two.writeInt32BE(0, 4); two.writeInt32BE(25, 8); two.writeInt32BE(2, 12); two.writeInt32BE(1, 16); two.writeInt32BE(1, 20); two.writeInt32BE(1, 24);
      two.writeInt32BE(5, 28); two.write('sub-1', 32); two.writeInt32BE(5, 37); two.write('sub-1', 41);
      expect(one.length).toBeLessThan(two.length);
      f[10] = two;
    }), { passed: 0, problem: /^record 10's query columns were changed \(subscriberIds\)/, index: 10 }],
    ['subscribers whose element count disagrees with the elements', () => copiedWith(2, (f) => { const a = Buffer.from(textArray(['sub-2'])); a.writeInt32BE(2, 12); f[10] = a; }), { passed: 2, problem: /^record 12's query columns were changed \(subscriberIds\)/, index: 12 }],
    ['a text leaf that is not UTF-8', () => copiedWith(1, (f) => { const b = Buffer.from(f[3]!); b[b.length - 3] = 0xff; f[3] = b; }), { passed: 1, problem: /^record 11 was changed: its content is not valid UTF-8$/, index: 11 }],
  ])('refuse a damaged COPY output, never crash: %s', (_name, make, expected) => {
    const r = checkRecords(make(), LOG, 10);
    expect({ passed: r.passed, problem: r.problem }).toEqual({ passed: expected.passed, problem: { index: expected.index, message: expect.stringMatching(expected.problem) } });
    expect(r.hashes).toHaveLength(expected.passed * 32);
  });

  it('read the positions of a COPY output on the reading thread, in order, up to the page size', () => {
    const p = copiedOf(page(10, 6));
    expect(CopiedRecords.positions(p.copy, 100)).toEqual([10, 11, 12, 13, 14, 15]);
    expect(CopiedRecords.positions(p.copy, 4)).toEqual([10, 11, 12, 13]);
    const swapped = copiedOf(edited(page(10, 6), 2, (q, i) => { q.seq[i] = 9; }));
    expect(CopiedRecords.positions(swapped.copy, 100)).toBeUndefined(); // not ascending: read as rows instead
    expect(() => CopiedRecords.positions(new Uint8Array(10), 100)).toThrow(/not a binary COPY output/);
    expect(() => CopiedRecords.positions(p.copy.slice(0, p.copy.length - 2), 100)).toThrow(/cut short/);
  });

  it('fail with a clear error when a worker cannot check a page, and after they are stopped', async () => {
    checkers = workerCheckers(1);
    await expect(checkers.check(null as unknown as RecordPage, LOG, 0)).rejects.toThrow(/^a verify worker failed: /);
    expect((await checkers.check(rowsOf(page(0, 3)), LOG, 0)).passed).toBe(3); // the worker lives on
    await checkers.close();
    await expect(checkers.check(rowsOf(page(0, 3)), LOG, 0)).rejects.toThrow(/the verify workers were stopped/);
    checkers = undefined;
  });

  it('let verify fail with the store\'s error when a read fails while workers check earlier pages', async () => {
    const publicKey = Buffer.alloc(32, 1);
    let reads = 0;
    const store: AuditStore = {
      logs: async () => [{ logId: LOG, origin: `purposegate.audit/${LOG}`, keyName: 'k', publicKey: publicKey.toString('base64') }],
      checkpoints: async () => [],
      closures: async () => [],
      // Its writer is running: records past the (absent) checkpoints are pending, not a break.
      liveLogs: async (ids) => ({ here: new Set(ids), lease: new Set<string>() }),
      recordPage: async (_log, from, limit) => {
        if (++reads === 3) throw new Error('connection terminated');
        return rowsOf(page(from, limit));
      },
      records: async () => [],
      leafHashes: async () => [],
      rowsBelow: async (_log, size) => ({ count: size }),
      recordsBetween: async () => [],
    };
    const options = { workers: 1, workersFrom: 0, waitForWorkers: true, pageSize: 4 };
    await expect(verifyLogs(store, [{ name: 'k', publicKey }], options)).rejects.toThrow('connection terminated');
    // An honest log of the same store shape passes, so the refusal above was the read's.
    const fine: AuditStore = { ...store, recordPage: async (_log, from, limit) => rowsOf(page(from, Math.max(0, Math.min(limit, 10 - from)))) };
    expect(await verifyLogs(fine, [{ name: 'k', publicKey }], options)).toMatchObject({ ok: true, leaves: 10 });
  });
  it('count worker pages busy from the send until the worker has checked them, its reply still unread', async () => {
    expect(inThreadCheckers().saturated).toBe(false);
    checkers = workerCheckers(1);
    await checkers.untilReady();
    expect(checkers.depth).toBe(2);
    expect(checkers.saturated).toBe(false);
    // Pages of 8,192 records take a worker tens of milliseconds or more (a send here, a fraction
    // of that): both are still in hand when asked below.
    const pages = [rowsOf(page(0, 8192)), rowsOf(page(8192, 8192))];
    const first = checkers.check(pages[0], LOG, 0);
    first.catch(() => undefined); // awaited below
    expect(checkers.saturated).toBe(false);
    const second = checkers.check(pages[1], LOG, 8192);
    second.catch(() => undefined);
    expect(checkers.saturated).toBe(true);
    // Without turning this thread's event loop, so that no reply is read: the worker's own count
    // says when it is done (a store that answers in microtasks keeps the loop from turning).
    const deadline = Date.now() + 5_000;
    while (checkers.saturated && Date.now() < deadline);
    expect(checkers.saturated).toBe(false);
    expect((await first).passed).toBe(8192);
    expect((await second).passed).toBe(8192);
    expect(checkers.saturated).toBe(false);
    // Workers stopped with pages in hand never count them done, yet are not saturated: a page sent
    // to them then is refused at once, never left to this thread while the failure goes unseen.
    const held = [checkers.check(pages[0], LOG, 0), checkers.check(pages[1], LOG, 8192)];
    expect(checkers.saturated).toBe(true);
    await checkers.close();
    expect(checkers.saturated).toBe(false);
    for (const p of held) await expect(p).rejects.toThrow(/the verify workers were stopped/);
    checkers = undefined;
  });

  describe('verify, the reading thread checking a page itself whenever the workers say they are saturated', () => {
    const publicKey = Buffer.alloc(32, 1);
    const trusted = [{ name: 'k', publicKey }];
    /** A log of `size` honest records, the records `broken` changed, live (no checkpoint needed). */
    let reads = 0;
    const storeOf = (size: number, broken: number[] = []): AuditStore => ({
      logs: async () => [{ logId: LOG, origin: `purposegate.audit/${LOG}`, keyName: 'k', publicKey: publicKey.toString('base64') }],
      checkpoints: async () => [],
      closures: async () => [],
      liveLogs: async (ids) => ({ here: new Set(ids), lease: new Set<string>() }),
      recordPage: async (_log, from, limit) => {
        reads++;
        let p = page(from, Math.max(0, Math.min(limit, size - from)));
        for (const at of broken.map((b) => b - from).filter((at) => at >= 0 && at < p.seq.length)) {
          p = edited(p, at, (q, i) => { q.body[i] = q.body[i]!.replace('"ALLOW"', '"DENY"'); });
        }
        return rowsOf(p);
      },
      records: async () => [],
      leafHashes: async () => [],
      rowsBelow: async (_log, size) => ({ count: size }),
      recordsBetween: async () => [],
    });

    // Pages of 4: page k holds records 4k to 4k + 3, and goes to the workers when k is even, to
    // the reading thread when it is odd (busyEveryOther).
    it.each<[string, number[]]>([
      ['an honest log', []],
      ['a log with record 101 changed (a page the reading thread checks)', [101]],
      ['a log with record 97 changed (a page a worker checks)', [97]],
      ['a log with records 97 and 101 changed (the first in a worker\'s page)', [97, 101]],
      ['a log with records 101 and 105 changed (the first in the reading thread\'s page)', [101, 105]],
      ['a log with record 199, its last, changed', [199]],
    ])('%s: the same report as on one thread, each side checking pages', async (_name, broken) => {
      const store = storeOf(200, broken);
      const alone = await verifyLogs(store, trusted, { workers: 0, pageSize: 4 });
      expect(alone.ok).toBe(broken.length === 0);
      if (broken.length > 0) expect(alone.problem).toMatchObject({ index: broken[0], message: `record ${broken[0]} was changed: its content no longer matches its leaf hash` });
      const seen: SharedPages = { workers: 0, reader: 0 };
      reads = 0;
      const shared = await verifyLogs(store, trusted, { workers: 1, workersFrom: 0, waitForWorkers: true, pageSize: 4, workerCheckers: busyEveryOther(seen) });
      expect(shared).toEqual(alone);
      expect(seen.workers).toBeGreaterThan(5);
      expect(seen.reader).toBeGreaterThan(5);
      // Every page read went to one side: those the workers were said to be too busy for, to none
      // (but the one read ahead when a break stops verify).
      const unchecked = reads - seen.workers - seen.reader;
      if (broken.length === 0) expect(unchecked).toBe(0);
      else expect([0, 1]).toContain(unchecked);
      // Told not to, the reading thread leaves every page to the workers.
      const none: SharedPages = { workers: 0, reader: 0 };
      expect(await verifyLogs(store, trusted, { workers: 1, workersFrom: 0, waitForWorkers: true, pageSize: 4, readerChecks: false, workerCheckers: busyEveryOther(none) })).toEqual(alone);
      expect(none.reader).toBe(0);
      expect(none.workers).toBeGreaterThan(5);
    });

    it('hold no more pages than the workers would and 8 more, while the oldest waits for a worker', async () => {
      // Workers that take the first page and answer it only when told, and then say they are
      // saturated: the reading thread checks what it reads, until the pages waiting to be added to
      // the tree reach the bound.
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const slowFirst = wrappedCheckers((pool) => {
        let sent = 0;
        return {
          check: (p, logId, firstIndex) => (sent++ === 0 ? gate.then(() => pool.check(p, logId, firstIndex)) : pool.check(p, logId, firstIndex)),
          saturated: () => sent > 0,
        };
      });
      reads = 0;
      const verifying = verifyLogs(storeOf(400), trusted, { workers: 1, workersFrom: 0, waitForWorkers: true, pageSize: 4, workerCheckers: slowFirst });
      // depth 2, plus 1, plus 8 pages waiting; one more read in flight. Once there (the worker
      // takes a moment to start), reading stops there.
      const bound = 2 + 1 + 8 + 1;
      for (const deadline = Date.now() + 10_000; reads < bound && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 5));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(reads).toBe(bound);
      release();
      expect(await verifying).toMatchObject({ ok: true, leaves: 400 });
      expect(reads).toBe(101); // 100 full pages, then an empty one
    });
  });
});
