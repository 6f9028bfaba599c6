import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { loadOrCreateSecret, loadOrCreateSigningKey } from '../auth/index.js';
import { ConfigError, type Config } from '../config.js';
import { openDb, type Db } from '../db/index.js';
import { silentLogger, type Logger } from '../logger.js';
import { createSubgraphService } from './createSubgraphService.js';
import { loadPolicySources, type SubgraphName } from './loadPolicySources.js';

/** A subgraph served over HTTP by this process. */
export interface RunningSubgraph {
  name: SubgraphName;
  url: string;
  policyHash: string;
  /** Stops accepting, lets in-flight fetches finish, closes the store it opened. */
  close(): Promise<void>;
}

/** The gateway keys a subgraph trusts: GATEWAY_JWKS_FILE, or the gateway key kept in DATA_DIR. */
async function gatewayKeys(config: Config): Promise<JWTVerifyGetKey> {
  if (config.gatewayJwksFile) {
    let jwks: JSONWebKeySet;
    try {
      jwks = JSON.parse(readFileSync(config.gatewayJwksFile, 'utf8')) as JSONWebKeySet;
    } catch (err) {
      throw new ConfigError('GATEWAY_JWKS_FILE', 'a readable JWKS file of the gateways\' public keys', `${config.gatewayJwksFile} (${(err as Error).message})`);
    }
    return createLocalJWKSet(jwks);
  }
  const key = await loadOrCreateSigningKey(config.dataDir, 'gateway');
  return createLocalJWKSet({ keys: [{ ...key.publicJwk, kid: key.kid, alg: 'EdDSA', use: 'sig' }] });
}

/** Closes an HTTP server gracefully: no new connections, idle ones closed, busy ones after `graceMs`. */
export function closeGracefully(http: Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const idle = setInterval(() => http.closeIdleConnections(), 50);
    const force = setTimeout(() => http.closeAllConnections(), graceMs);
    force.unref();
    http.close(() => {
      clearInterval(idle);
      clearTimeout(force);
      resolve();
    });
    http.closeIdleConnections();
  });
}

/**
 * Serves one subgraph (`purposegate subgraph NAME`) on HOST:PORT against the PostgreSQL store the
 * gateway uses (DATABASE_URL: an embedded DATA_DIR has one opener, the gateway). `db` may be
 * passed in (tests).
 */
export async function startSubgraphServer(config: Config, name: SubgraphName, options: { db?: Db; logger?: Logger } = {}): Promise<RunningSubgraph> {
  if (!options.db && !config.databaseUrl) {
    throw new ConfigError('DATABASE_URL', 'a postgres:// URL: a subgraph service shares the gateway\'s PostgreSQL store (an embedded DATA_DIR has one opener)', undefined);
  }
  if (config.dataDir.startsWith('memory://')) throw new ConfigError('DATA_DIR', 'a directory (it holds the mask key and the gateway key)', config.dataDir);
  const db = options.db ?? (await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }));
  try {
    const service = createSubgraphService({
      name,
      db,
      sources: loadPolicySources(config.schemaDir),
      maskKey: config.maskKey ?? loadOrCreateSecret(config.dataDir, 'mask.key'),
      maxFirst: config.limits.first,
      consentTimeoutMs: config.consentTimeoutMs,
      gatewayKeys: await gatewayKeys(config),
      logger: options.logger ?? silentLogger,
    });
    const http = createServer((req, res) => {
      service.handle(req, res).catch(() => {
        if (!res.headersSent) res.statusCode = 500;
        res.end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(config.port, config.host, () => resolve());
    });
    const { port } = http.address() as AddressInfo;
    let closed = false;
    return {
      name,
      url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}/graphql`,
      policyHash: service.policyHash,
      async close() {
        if (closed) return;
        closed = true;
        await closeGracefully(http, config.shutdownGraceMs);
        if (!options.db) await db.close();
      },
    };
  } catch (err) {
    if (!options.db) await db.close().catch(() => undefined);
    throw err;
  }
}
