import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../harness.js';

// `{ prepared: true }` (Db.query): PostgreSQL parses and plans the statement once per connection;
// PGlite runs it as any other statement. Either way the results are those of the plain statement.
describe('prepared statements', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await openTestDb();
    await db.exec(`CREATE TABLE prep_t (id text PRIMARY KEY, n integer NOT NULL)`);
  });
  afterAll(() => db.drop());

  it('gives the same rows as the unprepared statement, call after call, with different parameters', async () => {
    const insert = 'INSERT INTO prep_t (id, n) VALUES ($1, $2), ($3, $4)';
    for (let i = 0; i < 20; i++) await db.query(insert, [`a${i}`, i, `b${i}`, -i], { prepared: true });
    const select = 'SELECT id, n FROM prep_t WHERE id = ANY($1::text[]) ORDER BY n';
    for (const ids of [['a3', 'b3'], ['a19'], [], ['a1', 'a2', 'zz']]) {
      const prepared = await db.query(select, [ids], { prepared: true });
      const plain = await db.query(select, [ids]);
      expect(prepared.rows).toEqual(plain.rows);
      expect(prepared.rows).toHaveLength(ids.filter((id) => id !== 'zz').length);
    }
  });

  it('keeps working after a run of it fails, in a session and in a transaction', async () => {
    const divide = 'SELECT 10 / $1::int AS q';
    await db.session(async (conn) => {
      await expect(conn.query(divide, [0], { prepared: true })).rejects.toThrow(/division by zero/);
    });
    await db.session(async (conn) => {
      expect((await conn.query<{ q: number }>(divide, [5], { prepared: true })).rows).toEqual([{ q: 2 }]);
      expect((await conn.query<{ q: number }>(divide, [2], { prepared: true })).rows).toEqual([{ q: 5 }]);
    });
    await db.transaction(async (tx) => {
      expect((await tx.query<{ q: number }>(divide, [1], { prepared: true })).rows).toEqual([{ q: 10 }]);
    });
  });

  it.skipIf(!process.env.TEST_DATABASE_URL)('prepares each text once per connection on PostgreSQL, and two texts apart', async () => {
    const one = 'SELECT $1::int + 1 AS v';
    const two = 'SELECT $1::int + 2 AS v';
    await db.session(async (conn) => {
      expect((await conn.query(one, [1], { prepared: true })).rows).toEqual([{ v: 2 }]);
      expect((await conn.query(one, [2], { prepared: true })).rows).toEqual([{ v: 3 }]);
      expect((await conn.query(two, [1], { prepared: true })).rows).toEqual([{ v: 3 }]);
      await conn.query('SELECT 1'); // not prepared
      const { rows } = await conn.query<{ name: string; statement: string }>('SELECT name, statement FROM pg_prepared_statements ORDER BY statement');
      const ours = rows.filter((r) => r.statement === one || r.statement === two);
      expect(ours.map((r) => r.statement)).toEqual([one, two]);
      expect(new Set(ours.map((r) => r.name)).size).toBe(2);
      expect(rows.some((r) => r.statement === 'SELECT 1')).toBe(false);
    });
  });
});
