import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JWTVerifyGetKey } from 'jose';
import { AuthError, CONTEXT_HEADER, createContextVerifier, type BoundOperation } from '../auth/index.js';
import { SubjectLoader } from '../consent/index.js';
import type { Db } from '../db/index.js';
import { RequestRejection } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { DecisionLog, type EnforcementContext, type RequestScope } from '../shield/index.js';
import { createSubgraphSchema } from './createSubgraphSchema.js';
import { subgraphPolicyHash, type PolicySources, type SubgraphName } from './loadPolicySources.js';
import { readBody } from './readBody.js';
import { sanitizeError } from './sanitizeError.js';
import { SubgraphExecutor } from './SubgraphExecutor.js';

/** What a subgraph reports to the gateway beside its data (`extensions.purposegate`). */
export interface SubgraphReport {
  /** SHA-256 of the subgraph SDL it enforced: the gateway refuses data decided under another policy. */
  policy: string;
  decisions: ReturnType<DecisionLog['list']>;
  /** Consent store queries this fetch made (one at most). */
  consentQueries: number;
}

/** Options of one subgraph served over HTTP. */
export interface SubgraphServiceOptions {
  name: SubgraphName;
  db: Db;
  sources: PolicySources;
  maskKey: string;
  /** Largest page. @default 500 */
  maxFirst?: number;
  /** @default 2000 */
  consentTimeoutMs?: number;
  /** Largest request body. @default 1048576 */
  requestBytes?: number;
  /** Keys of the gateways whose context tokens this subgraph accepts. */
  gatewayKeys: JWTVerifyGetKey;
  logger?: Logger;
}

/** Sends `body` as a JSON response with its length. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

/**
 * One subgraph as an HTTP service (`purposegate subgraph NAME`): POST /graphql runs the same
 * enforcing schema as in-process, for requests that carry a valid gateway context token bound to
 * this subgraph and to the exact operation; anything else is refused with 401. Its decisions go
 * back to the gateway in `extensions.purposegate`, for the gateway's audit record.
 */
export function createSubgraphService(options: SubgraphServiceOptions): {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  policyHash: string;
} {
  const { name, db } = options;
  const log = options.logger ?? silentLogger;
  const subgraph = createSubgraphSchema(name, { db, sources: options.sources, maskKey: options.maskKey, maxFirst: options.maxFirst });
  const executor = new SubgraphExecutor(subgraph.schema);
  const verify = createContextVerifier({ keys: options.gatewayKeys, subgraph: name });
  const policyHash = subgraphPolicyHash(options.sources, name);

  async function graphql(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    if (req.method !== 'POST') throw new RequestRejection('BAD_REQUEST', 'Send GraphQL requests as POST with a JSON body.');
    if (!/^application\/(graphql-response\+)?json\b/i.test(req.headers['content-type'] ?? '')) {
      throw new RequestRejection('BAD_REQUEST', 'The request body must be JSON (Content-Type: application/json).');
    }
    const text = await readBody(req, options.requestBytes ?? 1_048_576);
    let body: { query?: unknown; variables?: unknown; operationName?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new RequestRejection('BAD_REQUEST', 'The request body is not valid JSON.');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body) || typeof body.query !== 'string') {
      throw new RequestRejection('BAD_REQUEST', 'The request has no "query".');
    }
    if (body.variables != null && (typeof body.variables !== 'object' || Array.isArray(body.variables))) throw new RequestRejection('BAD_REQUEST', '"variables" must be an object.');
    if (body.operationName != null && typeof body.operationName !== 'string') throw new RequestRejection('BAD_REQUEST', '"operationName" must be a string.');
    const op: BoundOperation = {
      query: body.query,
      variables: (body.variables ?? null) as Record<string, unknown> | null,
      operationName: (body.operationName ?? null) as string | null,
    };
    const header = req.headers[CONTEXT_HEADER];
    let context;
    try {
      context = await verify(Array.isArray(header) ? header[0] : header, op);
    } catch (err) {
      log.warn({ subgraph: name, remote: req.socket.remoteAddress, reason: (err as Error).message }, 'refused a request that did not come through a gateway');
      throw new RequestRejection('UNAUTHENTICATED', err instanceof AuthError ? err.message : 'The gateway context token is not valid.');
    }
    const scope: RequestScope = { requestId: context.requestId, caller: context.caller, purpose: context.purpose, at: context.at, decisions: new DecisionLog() };
    if (context.ref !== undefined) scope.ref = context.ref;
    if (context.act !== undefined) scope.actChain = context.act;
    let consentQueries = 0;
    const ctx: EnforcementContext = {
      scope,
      subgraph: name,
      // Consent as of the gateway's decision time: what `audit replay` reads for this record.
      subjects: new SubjectLoader(db, { asOf: context.at, timeoutMs: options.consentTimeoutMs, onQuery: () => consentQueries++ }),
      loaders: new Map(),
    };
    const result = await executor.execute(op, ctx);
    const report: SubgraphReport = { policy: policyHash, decisions: scope.decisions.list(), consentQueries };
    sendJson(res, 200, {
      ...(result.errors ? { errors: result.errors.map((e) => sanitizeError(e)) } : {}),
      data: result.data ?? null,
      extensions: { purposegate: report },
    });
    log.info(
      {
        subgraph: name,
        requestId: context.requestId,
        caller: { sub: context.caller.sub, kind: context.caller.kind, agency: context.caller.agency },
        purpose: context.purpose,
        decisions: report.decisions.length,
        ms: Number(process.hrtime.bigint() - started) / 1e6,
      },
      'subgraph fetch',
    );
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (path === '/graphql') return await graphql(req, res);
      if (req.method === 'GET' && path === '/healthz') return sendJson(res, 200, { status: 'ok', subgraph: name, policy: policyHash });
      if (req.method === 'GET' && path === '/readyz') {
        try {
          await Promise.race([db.query('SELECT 1'), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 1000).unref())]);
          return sendJson(res, 200, { status: 'ready', subgraph: name });
        } catch {
          return sendJson(res, 503, { status: 'unavailable', subgraph: name, reason: 'the store does not answer' });
        }
      }
      sendJson(res, 404, { errors: [{ message: `No route "${path}": this subgraph serves POST /graphql.`, extensions: { code: 'NOT_FOUND' } }] });
    } catch (err) {
      if (err instanceof RequestRejection) return sendJson(res, err.status, { errors: [{ message: err.message, extensions: { code: err.code } }] });
      log.error({ subgraph: name, err: (err as Error).message }, 'unexpected error');
      sendJson(res, 500, { errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
    }
  }

  return { handle, policyHash };
}
