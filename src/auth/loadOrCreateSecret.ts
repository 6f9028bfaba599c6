import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

/** Reads a random secret kept in `<dataDir>/keys/<name>`, creating it (32 bytes, mode 0600) on first use. */
export function loadOrCreateSecret(dataDir: string, name: string): string {
  const dir = join(dataDir, 'keys');
  const path = join(dir, name);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path, randomBytes(32).toString('base64url'), { mode: 0o600 });
  }
  return readFileSync(path, 'utf8').trim();
}
