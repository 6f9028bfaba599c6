import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openPglite, openPostgres, type Db } from '../../src/db/index.js';
import { openTestDb } from '../harness.js';

/** A binary COPY output's tuples, each as its fields' values (latin1 text), read by hand. */
function tuples(copy: Uint8Array): string[][] {
  const b = Buffer.from(copy.buffer, copy.byteOffset, copy.byteLength);
  expect(b.subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0');
  let at = 19 + b.readUInt32BE(15);
  const out: string[][] = [];
  for (let n = b.readInt16BE(at); n !== -1; n = b.readInt16BE(at)) {
    at += 2;
    const fields: string[] = [];
    for (let f = 0; f < n; f++) {
      const len = b.readInt32BE(at);
      at += 4;
      fields.push(b.toString('latin1', at, at + len));
      at += len;
    }
    out.push(fields);
  }
  return out;
}

const series = (n: number) => `COPY (SELECT g::text FROM generate_series(1, ${n}) g) TO STDOUT (FORMAT binary)`;

// What every store's copyOut must do (see Db.copyOut), checked on each below.

/** The whole output in one buffer of its own (transferable), in the buffer given while it is large enough. */
async function expectWholeOutput(store: Db): Promise<void> {
  const small = await store.copyOut!(series(3));
  expect(tuples(small)).toEqual([['1'], ['2'], ['3']]);
  expect(small.byteOffset).toBe(0); // a view of its own ArrayBuffer: it can be moved to a worker thread
  const into = new ArrayBuffer(1 << 16);
  const reused = await store.copyOut!(series(5), into);
  expect(reused.buffer).toBe(into);
  expect(tuples(reused).map(([v]) => v)).toEqual(['1', '2', '3', '4', '5']);
  // Larger than the buffer given (about 1.2 MB): a larger one is made, nothing is lost.
  const big = await store.copyOut!(series(100_000), new ArrayBuffer(1024));
  const all = tuples(big);
  expect(all).toHaveLength(100_000);
  expect(all[99_999]).toEqual(['100000']);
}

/**
 * Planner settings last for the COPY alone; inside a transaction they are not applied, and it
 * goes on as it was. `store` must run each statement on the connection the one before ran on.
 */
async function expectSettingsForTheCopyAlone(store: Db): Promise<void> {
  const setting = `COPY (SELECT current_setting('enable_sort') || ',' || current_setting('enable_bitmapscan')) TO STDOUT (FORMAT binary)`;
  const off = [['enable_sort', 'off'], ['enable_bitmapscan', 'off']] as const;
  expect(tuples(await store.copyOut!(setting, undefined, off))).toEqual([['off,off']]);
  expect(tuples(await store.copyOut!(setting))).toEqual([['on,on']]);
  const { rows } = await store.query<{ s: string }>(`SELECT current_setting('enable_sort') AS s`);
  expect(rows[0].s).toBe('on');
  // Inside a transaction they are not applied (they would outlast the COPY), and the
  // transaction goes on as it was: what it did before the COPY is still there.
  const inTx = await store.transaction(async (tx) => {
    await tx.query('CREATE TEMP TABLE kept (x int)');
    await tx.query('INSERT INTO kept VALUES (1)');
    const during = tuples(await tx.copyOut!(setting, undefined, off));
    const kept = await tx.query<{ n: string }>('SELECT count(*)::text AS n FROM kept');
    const after = await tx.query<{ s: string }>(`SELECT current_setting('enable_sort') AS s`);
    return { during, kept: kept.rows[0].n, after: after.rows[0].s };
  });
  expect(inTx).toEqual({ during: [['on,on']], kept: '1', after: 'on' });
  await expect(store.transaction((tx) => tx.copyOut!(setting, undefined, [['enable_sort', 'off; DROP TABLE x']]))).rejects.toThrow(/not a planner setting/);
  await expect(store.copyOut!(setting, undefined, [['enable_sort', 'off; DROP TABLE x']])).rejects.toThrow(/not a planner setting/);
}

/** A COPY inside a transaction sees what the transaction wrote; rolled back, it is gone. */
async function expectReadsInsideATransaction(store: Db): Promise<void> {
  await store.exec('CREATE TABLE copy_tx (v text)');
  await store
    .transaction(async (tx) => {
      await tx.query(`INSERT INTO copy_tx VALUES ('uncommitted')`);
      expect(tuples(await tx.copyOut!('COPY (SELECT v FROM copy_tx) TO STDOUT (FORMAT binary)'))).toEqual([['uncommitted']]);
      throw new Error('rollback');
    })
    .catch((e: Error) => {
      if (e.message !== 'rollback') throw e;
    });
  expect(tuples(await store.copyOut!('COPY (SELECT v FROM copy_tx) TO STDOUT (FORMAT binary)'))).toEqual([]);
}

describe.skipIf(!process.env.TEST_DATABASE_URL)('COPY output (PostgreSQL)', () => {
  let store: Awaited<ReturnType<typeof openTestDb>>;
  beforeAll(async () => {
    store = await openTestDb();
  });
  afterAll(() => store?.drop());

  it('returns the whole output in one buffer of its own, gathered into a buffer it is given when that is large enough', () => expectWholeOutput(store));

  it('rejects with the server\u2019s error when the statement fails midway, and the pool goes on', async () => {
    await expect(store.copyOut!('COPY (SELECT 1 / (g - 3000) FROM generate_series(1, 5000) g) TO STDOUT (FORMAT binary)')).rejects.toThrow(/division by zero/);
    await expect(store.copyOut!('COPY (SELECT * FROM no_such_table) TO STDOUT (FORMAT binary)')).rejects.toThrow(/no_such_table/);
    expect(tuples(await store.copyOut!(series(2)))).toEqual([['1'], ['2']]);
  });

  it('refuses a statement that is not a COPY to the client, never taking it for an empty output', async () => {
    await expect(store.copyOut!('SELECT 1')).rejects.toThrow(/returned rows, not COPY data/);
    await expect(store.copyOut!('')).rejects.toThrow(/empty/);
    await expect(store.copyOut!('CREATE TEMP TABLE t (x int); COPY t FROM STDIN')).rejects.toThrow(/asked for COPY data/);
    expect(tuples(await store.copyOut!(series(1)))).toEqual([['1']]);
  });

  it('sets planner settings for the COPY alone on the pool, never past it; inside a transaction, not at all', async () => {
    const one = await openPostgres(store.url!, { max: 1 }); // one connection: the next statement runs where the COPY ran
    try {
      await expectSettingsForTheCopyAlone(one);
    } finally {
      await one.close();
    }
  });

  it('gives up after the client timeout and when the connection is terminated; the pool goes on', async () => {
    let db: Db | undefined;
    let killer: Db | undefined;
    try {
      db = await openPostgres(store.url!, { queryTimeoutMs: 500, statementTimeoutMs: 0 }); // the client gives up first
      await expect(db.copyOut!('COPY (SELECT pg_sleep(3)::text) TO STDOUT (FORMAT binary)')).rejects.toThrow(/Query read timeout/);
      expect(tuples(await db.copyOut!(series(2)))).toEqual([['1'], ['2']]);

      const slow = await openPostgres(store.url!);
      killer = await openPostgres(store.url!, { max: 1 });
      try {
        const copying = slow.copyOut!(`COPY (SELECT 'marker-copy', pg_sleep(5)::text) TO STDOUT (FORMAT binary)`);
        // Handled from the start: it rejects as soon as its backend is terminated, which can be
        // before the await of the terminating query below returns (an unhandled rejection then).
        copying.catch(() => undefined);
        for (let i = 0; i < 50; i++) {
          const { rows } = await killer.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT ''marker-copy''%'`);
          if (Number(rows[0].n) > 0) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        await killer.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT ''marker-copy''%'`);
        await expect(copying).rejects.toThrow();
        // The process goes on (no unhandled 'error' event) and the pool serves the next COPY.
        expect(tuples(await slow.copyOut!(series(1)))).toEqual([['1']]);
      } finally {
        await slow.close();
      }
    } finally {
      await db?.close();
      await killer?.close();
    }
  });

  it('reads inside a transaction on its connection, seeing what the transaction wrote', () => expectReadsInsideATransaction(store));
});

describe('COPY output (PGlite)', () => {
  let store: Db;
  beforeAll(async () => {
    store = await openPglite('memory://');
  });
  afterAll(() => store?.close());

  it('returns the whole output in one buffer of its own, gathered into a buffer it is given when that is large enough', async () => {
    await expectWholeOutput(store);
    // The text format too: the options are the statement's own.
    expect(Buffer.from(await store.copyOut!(`COPY (SELECT 'a' UNION ALL SELECT 'b') TO STDOUT`)).toString()).toBe('a\nb\n');
  });

  /** How many of the COPYs' device files are left (each is removed after its COPY, whatever happened). */
  const deviceFilesLeft = async () =>
    (await store.query<{ n: number }>(`SELECT count(*)::int AS n FROM generate_series(0, 100) g WHERE pg_stat_file('/dev/purposegate-copy-' || g, true) IS NOT NULL`)).rows[0].n;

  it('gives each COPY its own output, however many are asked for at once (PGlite runs them one after another), and removes its device file after it', async () => {
    const outputs = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => store.copyOut!(series(n * 1000))));
    outputs.forEach((out, i) => {
      const values = tuples(out).map(([v]) => v);
      expect(values).toHaveLength((i + 1) * 1000);
      expect(values[values.length - 1]).toBe(String((i + 1) * 1000));
    });
    expect(await deviceFilesLeft()).toBe(0);
  });

  it('fails the COPY, with the reason, when its output cannot be held, and goes on', async () => {
    const alloc = vi.spyOn(Buffer, 'allocUnsafeSlow').mockImplementation(() => {
      throw new RangeError('Array buffer allocation failed');
    });
    try {
      // A buffer too small for the output: growing it fails inside PGlite's write to the device.
      await expect(store.copyOut!(series(10_000), new ArrayBuffer(1024))).rejects.toThrow(/the COPY output could not be held: Array buffer allocation failed/);
    } finally {
      alloc.mockRestore();
    }
    expect(tuples(await store.copyOut!(series(3), new ArrayBuffer(1024)))).toEqual([['1'], ['2'], ['3']]);
    expect(await deviceFilesLeft()).toBe(0);
  });

  it('rejects with the database\u2019s error when the statement fails midway, and the next COPY holds only its own output', async () => {
    await expect(store.copyOut!('COPY (SELECT 1 / (g - 3000) FROM generate_series(1, 5000) g) TO STDOUT (FORMAT binary)')).rejects.toThrow(/division by zero/);
    await expect(store.copyOut!('COPY (SELECT * FROM no_such_table) TO STDOUT (FORMAT binary)')).rejects.toThrow(/no_such_table/);
    expect(tuples(await store.copyOut!(series(2)))).toEqual([['1'], ['2']]);
    expect(await deviceFilesLeft()).toBe(0);
  });

  it('refuses a statement whose COPY went elsewhere (its `TO STDOUT` in a comment), never taking it for an empty output', async () => {
    // (In memory: the file it wrote is in PGlite's own file system.)
    await expect(store.copyOut!(`COPY (SELECT 'elsewhere') TO '/tmp/elsewhere' -- ) TO STDOUT`)).rejects.toThrow(/went elsewhere/);
    await expect(store.copyOut!(`COPY (SELECT 'elsewhere') TO '/tmp/elsewhere' /* ) TO STDOUT (FORMAT binary) */`)).rejects.toThrow(/only a "COPY \(query\) TO STDOUT"/);
    expect(await deviceFilesLeft()).toBe(0);
  });

  it('refuses a statement that is not one COPY of a query to the client, before it runs', async () => {
    await expect(store.copyOut!('SELECT 1')).rejects.toThrow(/only a "COPY \(query\) TO STDOUT"/);
    await expect(store.copyOut!('')).rejects.toThrow(/empty/);
    await expect(store.copyOut!('CREATE TEMP TABLE t (x int); COPY t FROM STDIN')).rejects.toThrow(/only a "COPY \(query\) TO STDOUT"/);
    await expect(store.copyOut!(`COPY (SELECT 1) TO '/tmp/copied'`)).rejects.toThrow(/only a "COPY \(query\) TO STDOUT"/);
    // Two statements (the first would write to the client, whom PGlite has no COPY channel to): refused by the database.
    await expect(store.copyOut!(`${series(1)}; ${series(2)}`)).rejects.toThrow(/multiple commands/);
    expect(tuples(await store.copyOut!(series(1)))).toEqual([['1']]);
  });

  it('sets planner settings for the COPY alone, never past it; inside a transaction, not at all', () => expectSettingsForTheCopyAlone(store));

  it('reads inside a transaction, seeing what the transaction wrote', () => expectReadsInsideATransaction(store));
});

describe('COPY output (PGlite in files)', () => {
  it('is the same in a DATA_DIR as in memory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'purposegate-copy-'));
    const store = await openPglite(dir);
    try {
      const big = await store.copyOut!(series(100_000), new ArrayBuffer(1024), [['enable_sort', 'off']]);
      expect(tuples(big)).toHaveLength(100_000);
      expect(tuples(await store.copyOut!(series(2)))).toEqual([['1'], ['2']]);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
