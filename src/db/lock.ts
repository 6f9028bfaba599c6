import { mkdirSync, openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';
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

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reads who holds the lock on `dataDir`, if a live process does. */
export function readLockHolder(dataDir: string): LockInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(join(dataDir, 'purposegate.lock'), 'utf8')) as LockInfo;
    return typeof info.pid === 'number' && info.pid !== process.pid && isAlive(info.pid) ? info : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the single-opener lock on an embedded DATA_DIR (an exclusive lock file holding the pid).
 * A stale lock left by a dead process is taken over; a live holder gives DataDirLockedError.
 */
export function acquireDataDirLock(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, 'purposegate.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, JSON.stringify({ pid: process.pid }));
      closeSync(fd);
      let released = false;
      const lock: DataDirLock = {
        path,
        setUrl(url) {
          const fdw = openSync(path, 'w');
          writeSync(fdw, JSON.stringify({ pid: process.pid, url }));
          closeSync(fdw);
        },
        release() {
          if (released) return;
          released = true;
          try {
            unlinkSync(path);
          } catch {
            // already gone
          }
        },
      };
      return lock;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder: LockInfo | undefined;
      try {
        holder = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
      } catch {
        holder = undefined;
      }
      if (holder && typeof holder.pid === 'number' && isAlive(holder.pid) && holder.pid !== process.pid) {
        throw new DataDirLockedError(dataDir, holder.pid, holder.url);
      }
      if (holder && holder.pid === process.pid) {
        throw new DataDirLockedError(dataDir, holder.pid, holder.url);
      }
      unlinkSync(path); // stale: its process is gone
    }
  }
  throw new Error(`Could not take the lock on DATA_DIR "${dataDir}".`);
}
