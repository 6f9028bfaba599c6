import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirLockedError } from '../../src/db/DataDirLockedError.js';
import { acquireDataDirLock, DataDirLockUnreadableError, readLockHolder } from '../../src/db/lock.js';
import { cli } from '../processes.js';

const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'pg-lock-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const lockFile = (d: string) => join(d, 'purposegate.lock');
/** The pid of a process that has exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

describe('the DATA_DIR lock', () => {
  const entries = (d: string) => (existsSync(lockFile(d)) ? readdirSync(lockFile(d)).filter((n) => n.endsWith('.json')) : []);

  it('is an entry of this process in DATA_DIR/purposegate.lock/, refuses a second holder, records the URL, and is gone once released', () => {
    const d = fresh();
    const lock = acquireDataDirLock(d);
    expect(entries(d)).toEqual([expect.stringMatching(new RegExp(`^${process.pid}\\.[0-9a-f]+\\.json$`))]);
    expect(() => acquireDataDirLock(d)).toThrow(DataDirLockedError);
    expect(entries(d)).toHaveLength(1); // the refused opener left nothing
    lock.setUrl('http://127.0.0.1:4000/graphql');
    expect(JSON.parse(readFileSync(join(lockFile(d), entries(d)[0]!), 'utf8'))).toEqual({ pid: process.pid, url: 'http://127.0.0.1:4000/graphql' });
    lock.release();
    expect(existsSync(lockFile(d))).toBe(false);
  });

  it('ignores (and tidies away) the entry of a process that is gone', () => {
    const d = fresh();
    mkdirSync(lockFile(d));
    writeFileSync(join(lockFile(d), `${deadPid()}.abc123.json`), JSON.stringify({ url: 'http://127.0.0.1:1/graphql' }));
    expect(readLockHolder(d)).toBeUndefined();
    const lock = acquireDataDirLock(d);
    expect(entries(d)).toEqual([expect.stringMatching(new RegExp(`^${process.pid}\\.`))]);
    lock.release();
  });

  it('ignores an entry with this process\'s own pid that it did not write (an earlier process with the same pid, e.g. a container\'s PID 1)', () => {
    const d = fresh();
    mkdirSync(lockFile(d));
    writeFileSync(join(lockFile(d), `${process.pid}.aaa111.json`), '{}');
    const lock = acquireDataDirLock(d);
    expect(entries(d)).toEqual([expect.stringMatching(new RegExp(`^${process.pid}\\.(?!aaa111)`))]);
    lock.release();
  });

  it('honours a lock file of an earlier version: refused while its process lives, taken over once it is gone', () => {
    const d = fresh();
    writeFileSync(lockFile(d), JSON.stringify({ pid: process.ppid, url: 'http://127.0.0.1:9/graphql' }));
    expect(() => acquireDataDirLock(d)).toThrow(DataDirLockedError);
    expect(readLockHolder(d)).toEqual({ pid: process.ppid, url: 'http://127.0.0.1:9/graphql' });
    writeFileSync(lockFile(d), JSON.stringify({ pid: deadPid() }));
    const lock = acquireDataDirLock(d);
    expect(entries(d)).toHaveLength(1);
    lock.release();
  });

  it.each([
    ['empty', ''],
    ['cut short', '{"pid":12'],
    ['not a lock', '{"hello":"world"}'],
  ])('refuses, and never deletes, an earlier version\'s lock file that is %s (its holder may be alive)', (_name, text) => {
    const d = fresh();
    writeFileSync(lockFile(d), text);
    expect(() => acquireDataDirLock(d)).toThrow(DataDirLockUnreadableError);
    expect(readFileSync(lockFile(d), 'utf8')).toBe(text);
  });

  it('the CLI says so in one line, exit 1, and leaves the file', async () => {
    const d = fresh();
    writeFileSync(lockFile(d), '');
    const r = await cli(['seed', '--subscribers', '1'], { DATA_DIR: d });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`purposegate: The lock file ${lockFile(d)} cannot be read as a purposegate lock, so whether a process still uses the DATA_DIR is unknown. If none does, delete the file and start again.`);
    expect(readFileSync(lockFile(d), 'utf8')).toBe('');
  });

  it('release() removes only this holding\'s entry', () => {
    const d = fresh();
    const lock = acquireDataDirLock(d);
    const other = join(lockFile(d), `${process.ppid}.def456.json`); // another live opener's entry, appeared since
    writeFileSync(other, '{}');
    lock.release();
    expect(entries(d)).toEqual([`${process.ppid}.def456.json`]);
  });

  it.each([
    ['releasing it', false],
    ['leaving it stale every other time (as a crash would), so the other takes it over', true],
  ])('two processes taking it in a loop and %s never hold it at the same time', async (_name, crash) => {
    const d = fresh();
    const journal = join(d, 'journal');
    const extra = crash ? [String(deadPid())] : [];
    const run = () =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../fixtures/lockLoop.ts'), d, journal, '3000', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (b) => (out += b));
        child.stderr.on('data', (b) => (err += b));
        child.on('exit', (code) => resolve({ code, out, err }));
      });
    const results = await Promise.all([run(), run()]);
    for (const r of results) expect(r.code, r.err).toBe(0);
    const held = results.map((r) => Number(r.out));
    expect(held.every((n) => n > 0), `holdings per process: ${held.join(', ')}`).toBe(true);
    // Every holding's begin and end, in time order, alternate: begin a, end a, begin b, end b, ...
    const events = readFileSync(journal, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map(([pid, kind, t]) => ({ pid, kind, t: BigInt(t!) }))
      .sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
    expect(events.length).toBe(2 * held.reduce((a, b) => a + b, 0));
    let overlaps = 0;
    for (let i = 0; i < events.length; i += 2) {
      if (events[i]!.kind !== 'begin' || events[i + 1]!.kind !== 'end' || events[i]!.pid !== events[i + 1]!.pid) overlaps++;
    }
    expect(overlaps).toBe(0);
    if (!crash) expect(existsSync(lockFile(d))).toBe(false);
  }, 60_000);
});
