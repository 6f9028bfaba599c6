import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createTokenVerifier, loadActorPolicy, loadKeySet, loadOrCreateIssuerKey, loadOrCreateSecret, loadOrCreateSigningKey, type IssuerKey } from '../auth/index.js';
import { createLogger, type Logger } from '../logger.js';
import { closeGracefully } from '../subgraphs/index.js';
import type { Config } from '../config.js';
import { openDb, type Db, type PgliteDb } from '../db/index.js';
import { seedDemoData } from '../db/seedDemoData.js';
import { createGateway, type Gateway } from './createGateway.js';
import { createAuditEndpoint } from './createAuditEndpoint.js';
import { createHttpServer, storeReadiness, type Readiness } from './createHttpServer.js';
import { AuditWriter, loadOrCreateAuditSigner, policyText, storePolicyVersion } from '../audit/index.js';
import type { RequestOutcome } from './RequestOutcome.js';

/** A listening purposegate server. */
export interface RunningServer {
  url: string;
  port: number;
  db: Db;
  gateway: Gateway;
  issuerKey: IssuerKey;
  /** This process's audit log. */
  audit: AuditWriter;
  /** Subscribers seeded by this start (0 when the store already had data). */
  seeded: number;
  logger: Logger;
  /** Stops accepting, lets in-flight requests finish (SHUTDOWN_GRACE_MS), flushes the audit log and signs its final checkpoint. */
  close(): Promise<void>;
}

/** Seeds the demo data into an empty store, once (remembered in the meta table). */
export async function seedOnFirstStart(db: Db, subscribers: number): Promise<number> {
  if (subscribers <= 0) return 0;
  const { rows } = await db.query<{ value: string }>(`SELECT value FROM meta WHERE key = 'demo_seeded'`);
  if (rows.length > 0) return 0;
  const summary = await seedDemoData(db, { subscribers, ifEmpty: true });
  if (summary.subscribers === 0) return 0;
  await db.query(`INSERT INTO meta (key, value) VALUES ('demo_seeded', $1) ON CONFLICT (key) DO NOTHING`, [new Date().toISOString()]);
  return summary.subscribers;
}

/**
 * Opens the store, seeds demo data on first start, loads the issuer and mask keys, builds the
 * gateway and listens. `db` may be passed in (tests); otherwise it is opened from the config.
 */
export async function startServer(
  config: Config,
  options: {
    db?: Db;
    /** Audit writes go here (tests inject failures); defaults to `db`. */
    auditDb?: Db;
    checkpointIntervalMs?: number;
    logger?: Logger;
    /** Tests only: see GatewayOptions.denialPaths. */
    denialPaths?: 'gateway' | 'apollo';
  } = {},
): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel, { service: 'gateway' });
  const actors = config.actorsFile ? loadActorPolicy(config.actorsFile) : undefined; // a bad file stops us before the store opens
  const db = options.db ?? (await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }));
  try {
    const seeded = await seedOnFirstStart(db, config.seedSubscribers);
    const keyDir = config.dataDir.startsWith('memory://') ? undefined : config.dataDir;
    if (!keyDir) throw new Error('DATA_DIR must be a directory (it holds the issuer and mask keys).');
    const issuerKey = await loadOrCreateIssuerKey(keyDir);
    const maskKey = config.maskKey ?? loadOrCreateSecret(keyDir, 'mask.key');
    const { loadPolicySources } = await import('../subgraphs/index.js');
    const sources = loadPolicySources(config.schemaDir);
    const verifyToken = createTokenVerifier({
      keys: loadKeySet({ jwksUrl: config.jwksUrl, jwksFile: config.jwksFile, embedded: issuerKey }),
      issuer: config.tokenIssuer,
      audience: config.tokenAudience,
      registry: sources.registry,
      clockToleranceSec: config.clockToleranceSec,
      maxTokenAgeSec: config.tokenMaxAgeSec,
      actors,
    });
    let audit: AuditWriter | undefined;
    const onOutcome = async (o: RequestOutcome) => {
      if (!audit) throw new Error('The audit log is not open.');
      return audit.append({
        at: o.at,
        requestId: o.requestId,
        caller: o.caller ?? null,
        purpose: o.purpose ?? null,
        ref: o.ref ?? null,
        operationName: o.operationName ?? null,
        documentHash: o.documentHash ?? null,
        rejection: o.rejection ?? null,
        decisions: o.decisions,
      });
    };
    const remote = config.subgraphUrls.size > 0
      ? { urls: config.subgraphUrls, key: await loadOrCreateSigningKey(keyDir, 'gateway'), timeoutMs: config.subgraphTimeoutMs }
      : undefined;
    const gateway = await createGateway({ db, config, verifyToken, maskKey, sources, onOutcome, auditHealthy: () => audit?.healthy ?? false, remote, logger, denialPaths: options.denialPaths });
    const auditDb = options.auditDb ?? db;
    const policyVersion = await storePolicyVersion(auditDb, policyText(gateway.supergraph.supergraphSdl, sources.purposesSdl));
    const signer = loadOrCreateAuditSigner(keyDir);
    audit = await AuditWriter.open(auditDb, { policyVersion, signer, checkpointIntervalMs: options.checkpointIntervalMs, witnessDir: join(keyDir, 'checkpoints') });
    const writer = audit;
    const auditEndpoint = createAuditEndpoint({
      db: auditDb,
      verifyToken,
      trustedKeys: () => [{ name: signer.name, publicKey: signer.publicKey }],
      audit: () => writer,
      registry: sources.registry,
    });
    const store = storeReadiness(db);
    const auditStore = auditDb === db ? undefined : storeReadiness(auditDb);
    const readiness: Readiness = async () => {
      const s = await store();
      if (!s.ready) return s;
      if (auditStore) {
        const a = await auditStore();
        if (!a.ready) return { ready: false, reason: 'the audit store does not answer' };
      }
      if (writer.lostReason) return { ready: false, reason: writer.lostReason };
      return (await writer.probe()) ? { ready: true } : { ready: false, reason: 'the audit log cannot be written' };
    };
    const http = createHttpServer(gateway, readiness, auditEndpoint);
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(config.port, config.host, () => resolve());
    });
    const { port } = http.address() as AddressInfo;
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}/graphql`;
    (db as Partial<PgliteDb>).lock?.setUrl(url);
    logger.info({ url, store: config.databaseUrl ? 'postgres' : 'pglite', auditLog: writer.logId, remoteSubgraphs: Object.fromEntries(config.subgraphUrls) }, 'listening');
    let closed = false;
    return {
      url,
      port,
      db,
      gateway,
      issuerKey,
      audit: writer,
      seeded,
      logger,
      async close() {
        if (closed) return;
        closed = true;
        // No new connections; requests in flight finish (their records are committed before their
        // responses); then the log is flushed and its final checkpoint signed.
        await closeGracefully(http, config.shutdownGraceMs);
        await gateway.stop();
        await writer.close();
        logger.info({ auditLog: writer.logId, records: writer.size }, 'stopped: audit log flushed, final checkpoint signed');
        if (!options.db) await db.close();
      },
    };
  } catch (err) {
    if (!options.db) await db.close().catch(() => undefined);
    throw err;
  }
}
