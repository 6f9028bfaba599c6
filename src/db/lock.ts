import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataDirLockedError } from './DataDirLockedError.js';

interface LockInfo {
  pid: number;
  /** Names this holding of the lock: a process releases or rewrites only a lock file with its own token. */
  token?: string;
  url?: string;
}

/** The lock a process holds on an embedded DATA_DIR; release() removes it. */
export interface DataDirLock {
  readonly path: string;
  /** Records the URL this process serves on, so CLI commands can go through it. */
  setUrl(url: string): void;
  release(): void;
}

/** A lock file that is not one a purposegate process wrote whole (empty, cut, not JSON): not provably stale. */
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

/** The lock file's holder; undefined when there is no file; 'unreadable' when it holds no lock record. */
function readLock(path: string): LockInfo | 'unreadable' | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return 'unreadable';
  }
  return parseLock(text);
}

function parseLock(text: string): LockInfo | 'unreadable' {
  try {
    const info = JSON.parse(text) as LockInfo;
    return info && typeof info === 'object' && Number.isSafeInteger(info.pid) && info.pid > 0 ? info : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

/** Reads who holds the lock on `dataDir`, if a live process does. */
export function readLockHolder(dataDir: string): LockInfo | undefined {
  const info = readLock(join(dataDir, 'purposegate.lock'));
  return info && info !== 'unreadable' && info.pid !== process.pid && isAlive(info.pid) ? info : undefined;
}

/** Writes `info` to a fresh file beside `path` and returns its name (the lock's content is never seen half-written). */
function writeTemp(path: string, info: LockInfo): string {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temp, JSON.stringify(info), { flag: 'wx' });
  return temp;
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/**
 * Takes the single-opener lock on an embedded DATA_DIR: a lock file holding the pid and a token of
 * this holding, created whole (written to a temporary file, then hard-linked into place, which
 * fails if a lock file exists). A lock whose process is gone is moved aside by one rename (of two
 * processes that both judged it stale, only one moves it), checked to be the very file judged
 * stale (a fresh lock moved by mistake is put back), removed, and the link is tried again. A live
 * holder, or a lock file that cannot be read (never deleted: its holder may be alive), refuses
 * the open.
 */
export function acquireDataDirLock(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, 'purposegate.lock');
  const token = randomBytes(12).toString('hex');
  const mine = { pid: process.pid, token };
  const lock = (): DataDirLock => {
    let released = false;
    const ours = () => {
      const held = readLock(path);
      return held !== undefined && held !== 'unreadable' && held.token === token;
    };
    return {
      path,
      setUrl(url) {
        if (released || !ours()) return;
        const temp = writeTemp(path, { ...mine, url });
        try {
          renameSync(temp, path);
        } catch (err) {
          removeQuietly(temp);
          throw err;
        }
      },
      release() {
        if (released) return;
        released = true;
        // Only our own lock file: never one another process has taken since.
        if (ours()) removeQuietly(path);
      },
    };
  };
  const temp = writeTemp(path, mine);
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(temp, path);
        return lock();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let staleText: string;
      try {
        staleText = readFileSync(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile
        throw new DataDirLockUnreadableError(path);
      }
      const holder = parseLock(staleText);
      if (holder === 'unreadable') throw new DataDirLockUnreadableError(path);
      if (holder.pid === process.pid || isAlive(holder.pid)) throw new DataDirLockedError(dataDir, holder.pid, holder.url);
      // Stale: its process is gone. Move it aside (only one process can move a given file).
      const aside = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.stale`;
      try {
        renameSync(path, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // another process moved it
        throw err;
      }
      let moved: string | undefined;
      try {
        moved = readFileSync(aside, 'utf8');
      } catch {
        moved = undefined;
      }
      if (moved !== staleText) {
        // Not the file judged stale: a lock taken meanwhile. Put it back (unless yet another
        // lock appeared in that instant) and give way to its holder.
        try {
          linkSync(aside, path);
        } catch {
          // a lock is in place again
        }
        removeQuietly(aside);
        const now = readLock(path);
        if (now && now !== 'unreadable') throw new DataDirLockedError(dataDir, now.pid, now.url);
        continue;
      }
      removeQuietly(aside);
    }
  } finally {
    removeQuietly(temp);
  }
  throw new Error(`Could not take the lock on DATA_DIR "${dataDir}": it changed hands while being taken; start again.`);
}
