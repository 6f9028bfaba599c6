import { loadOrCreateIssuerKey, mintToken } from '../auth/index.js';
import { mergeConfigSources, parseConfig, type Config } from '../config.js';
import type { CallerKind } from '../policy/index.js';
import { openDb, readLockHolder, type Db } from '../db/index.js';
import { CliError } from './fail.js';

/**
 * The configuration every command reads: the same DATA_DIR / DATABASE_URL as `serve`. `flags`
 * are settings given on the command line, by variable name; they override the environment.
 */
export function cliConfig(flags: Record<string, string | undefined> = {}): Config {
  return parseConfig(mergeConfigSources({ env: process.env, flags }));
}

/**
 * Where a data command should go: straight to the store, or through the server that holds the
 * embedded DATA_DIR (never a second opener of the same PGlite directory).
 */
export function route(config: Config, url: string | undefined): { kind: 'server'; url: string } | { kind: 'store' } {
  if (url) return { kind: 'server', url };
  if (!config.databaseUrl) {
    const holder = readLockHolder(config.dataDir);
    if (holder?.url) return { kind: 'server', url: holder.url };
    if (holder) throw new CliError(`DATA_DIR "${config.dataDir}" is held by process ${holder.pid}; stop it or pass --url.`);
  }
  return { kind: 'store' };
}

/** A short-lived token the CLI mints from DATA_DIR's issuer key to go through a running server. */
export async function cliToken(config: Config, kind: CallerKind, purpose: string, ttlSeconds: number): Promise<string> {
  return mintToken(
    await loadOrCreateIssuerKey(config.dataDir),
    { sub: 'purposegate-cli', kind, purposes: [purpose] },
    { issuer: config.tokenIssuer, audience: config.tokenAudience, ttlSeconds },
  );
}

/** Opens the configured store for a command and closes it when `fn` is done. */
export async function withStore<T>(config: Config, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}
