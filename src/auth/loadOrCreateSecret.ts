import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

/** Reads a random secret kept in `<dataDir>/keys/<name>`, creating it (32 bytes, mode 0600) on first use. */
export function loadOrCreateSecret(dataDir: string, name: string): string {
  const dir = join(dataDir, 'keys');
  const path = join(dir, name);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    // Linked into place: processes starting together (a gateway and its subgraphs) share one secret.
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, randomBytes(32).toString('base64url'), { mode: 0o600 });
    try {
      linkSync(tmp, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      unlinkSync(tmp);
    }
  }
  return readFileSync(path, 'utf8').trim();
}
