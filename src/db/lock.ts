import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataDirLockedError } from './DataDirLockedError.js';

interface LockInfo {
  pid: number;
  url?: string;
}

/** The lock a process holds on an embedded DATA_DIR; release() removes it. */
export interface DataDirLock {
  readonly path: string;
  /** Records the URL this process serves on, so CLI commands can go through it. */
  setUrl(url: string): void;
  release(): void;
}

/** A lock file of an earlier version that is not a lock record (empty, cut, not JSON): not provably stale. */
export class DataDirLockUnreadableError extends Error {
  constructor(readonly path: string) {
    super(`The lock file ${path} cannot be read as a purposegate lock, so whether a process still uses the DATA_DIR is unknown. If none does, delete the file and start again.`);
    this.name = 'DataDirLockUnreadableError';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** An entry of the lock directory: `<pid>.<token>.json`, its pid in its name (the content may be mid-write). */
const ENTRY = /^(\d+)\.([0-9a-f]+)\.json$/;

/**
 * Tokens of the entries this process wrote. An entry with this process's pid and another token
 * was left by an earlier process that had the same pid and is gone (a container's PID 1 killed
 * and started again): not a live holder.
 */
const ownTokens = new Set<string>();

function entryAlive(pid: number, token: string): boolean {
  if (pid === process.pid) return ownTokens.has(token);
  return isAlive(pid);
}

/** The entries of the lock directory whose process is alive: pid, and URL when the entry says one. */
function liveEntries(dir: string, except?: string): Array<LockInfo & { name: string }> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err; // unreadable: whether anyone holds it is unknown
  }
  const live: Array<LockInfo & { name: string }> = [];
  for (const name of names) {
    const m = ENTRY.exec(name);
    if (!m || name === except) continue;
    const pid = Number(m[1]);
    if (!entryAlive(pid, m[2]!)) {
      // A holding whose process is gone: nobody else ever has this name (its token is unique),
      // so removing it is safe; it is only tidying (a dead entry is ignored anyway).
      removeQuietly(join(dir, name));
      continue;
    }
    let url: string | undefined;
    try {
      const info = JSON.parse(readFileSync(join(dir, name), 'utf8')) as { url?: unknown };
      if (typeof info.url === 'string') url = info.url;
    } catch {
      // being written
    }
    live.push({ pid, url, name });
  }
  return live;
}

/**
 * A lock file of an earlier version (`purposegate.lock` as a file, not a directory): its holder
 * if alive; a stale one is moved aside (one mover), checked to be the file judged stale, removed.
 */
function clearOldLockFile(path: string, dataDir: string): void {
  let text: string;
  try {
    if (!statSync(path).isFile()) return;
    text = readFileSync(path, 'utf8');
  } catch {
    return;
  }
  let info: LockInfo;
  try {
    info = JSON.parse(text) as LockInfo;
    if (!Number.isSafeInteger(info?.pid) || info.pid <= 0) throw new Error('no pid');
  } catch {
    throw new DataDirLockUnreadableError(path);
  }
  if (isAlive(info.pid)) throw new DataDirLockedError(dataDir, info.pid, info.url);
  // A hard link aside, then the path unlinked if that link is still the file judged stale: a
  // directory (the lock of this version, made meanwhile) can be neither linked nor unlinked.
  const aside = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.stale`;
  try {
    linkSync(path, aside);
  } catch {
    return; // gone, or a directory now
  }
  try {
    if (readFileSync(aside, 'utf8') === text && statSync(path).ino === statSync(aside).ino) unlinkSync(path);
  } catch {
    // removed or replaced meanwhile
  } finally {
    removeQuietly(aside);
  }
}

/** Reads who holds the lock on `dataDir`, if a live process (other than this one) does. */
export function readLockHolder(dataDir: string): LockInfo | undefined {
  const path = join(dataDir, 'purposegate.lock');
  try {
    if (statSync(path).isFile()) {
      const info = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
      return Number.isSafeInteger(info.pid) && info.pid !== process.pid && isAlive(info.pid) ? info : undefined;
    }
  } catch {
    return undefined;
  }
  const holder = liveEntries(path).find((e) => e.pid !== process.pid);
  return holder ? { pid: holder.pid, url: holder.url } : undefined;
}

/**
 * Takes the single-opener lock on an embedded DATA_DIR. The lock is a directory,
 * `DATA_DIR/purposegate.lock/`, in which each opener creates an entry of its own,
 * `<pid>.<token>.json` (holding the URL once it serves), and then lists the others: if another
 * entry's process is alive, it removes its own and gives way. Of two openers at once, at least
 * the later one to list sees the other, so two never both hold it (both may give way: the
 * earlier one's open fails; it is tried once more after a short pause). An entry is never
 * removed while its process lives, and only its own holder removes a live one; a dead process's
 * entry is ignored (and tidied away). A lock file of an earlier version is honoured.
 */
export function acquireDataDirLock(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const dir = join(dataDir, 'purposegate.lock');
  const token = randomBytes(12).toString('hex');
  const name = `${process.pid}.${token}.json`;
  const entry = join(dir, name);
  ownTokens.add(token);
  for (let attempt = 0; attempt < 2; attempt++) {
    clearOldLockFile(dir, dataDir);
    for (let tries = 0; ; tries++) {
      try {
        mkdirSync(dir, { recursive: true });
        writeFileSync(entry, JSON.stringify({ pid: process.pid }), { flag: 'wx' });
        break;
      } catch (err) {
        // The directory was removed by a holder releasing it between the two calls: again.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || tries >= 50) throw err;
      }
    }
    const others = liveEntries(dir, name);
    // Our entry must still be where we wrote it (not moved away with its directory).
    if (others.length === 0 && existsSync(entry)) {
      let released = false;
      return {
        path: dir,
        setUrl(url) {
          if (released) return;
          const temp = join(dir, `${name}.tmp`);
          writeFileSync(temp, JSON.stringify({ pid: process.pid, url }));
          renameSync(temp, entry);
        },
        release() {
          if (released) return;
          released = true;
          removeQuietly(entry);
          ownTokens.delete(token);
          try {
            rmdirSync(dir); // only when no other entry is in it
          } catch {
            // another opener's entry is there
          }
        },
      };
    }
    removeQuietly(entry);
    if (others.length === 0) continue; // our entry vanished: write it again
    const holder = others[0]!;
    // Give way; if the other was giving way too (both started at once), try once more.
    if (attempt === 0) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20 + Math.floor(Math.random() * 60));
      if (liveEntries(dir).length === 0) continue;
    }
    throw new DataDirLockedError(dataDir, holder.pid, holder.url);
  }
  throw new Error(`Could not take the lock on DATA_DIR "${dataDir}": another process was taking it at the same moment; start again.`);
}
