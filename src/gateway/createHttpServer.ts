import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { CONSENT_CLOCK_TOLERANCE_MS, databaseClockAheadMs } from '../consent/clockSkew.js';
import type { Db } from '../db/index.js';
import type { Gateway } from './createGateway.js';
import { requestIdOf } from './requestIdOf.js';

/** Whether the gateway can serve now, and if not, why (for GET /readyz). */
export type Readiness = () => Promise<{ ready: true } | { ready: false; reason: string }>;

/** Ready when the store answers within a second and its clock is not too far ahead of this process's. */
export function storeReadiness(db: Db): Readiness {
  return async () => {
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 1000).unref());
    try {
      const ahead = await Promise.race([databaseClockAheadMs(db), timeout]);
      // A gateway whose clock is behind the database's by more than the tolerance fails consent
      // reads closed (clockSkew); say why here.
      if (ahead > CONSENT_CLOCK_TOLERANCE_MS) {
        return { ready: false, reason: `this gateway's clock is ${Math.round(ahead)} ms behind the database's (more than ${CONSENT_CLOCK_TOLERANCE_MS} ms): consent cannot be read as of a request's time` };
      }
      return { ready: true };
    } catch {
      return { ready: false, reason: 'the store does not answer' };
    }
  };
}

/**
 * The HTTP front: POST /graphql, GET /healthz (process up), GET /readyz (the store and the audit
 * log can be used), GET /metrics (Prometheus text), and POST /audit/<operation> for the audit CLI.
 */
export function createHttpServer(
  gateway: Gateway,
  readiness: Readiness,
  auditEndpoint?: (req: IncomingMessage, res: ServerResponse, op: string) => Promise<void>,
): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/graphql') {
      gateway.handle(req, res).catch(() => {
        if (!res.headersSent) res.statusCode = 500;
        res.end();
      });
      return;
    }
    if (auditEndpoint && path.startsWith('/audit/')) {
      auditEndpoint(req, res, path.slice('/audit/'.length)).catch(() => {
        if (!res.headersSent) res.statusCode = 500;
        res.end();
      });
      return;
    }
    // Every other route answers with the request's id too: the client's X-Request-Id echoed, or one made here.
    res.setHeader('x-request-id', requestIdOf(req));
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      // A clear answer, as for a route that does not exist (Node leaves out the body for HEAD).
      res.statusCode = 405;
      res.setHeader('allow', 'GET, HEAD');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ errors: [{ message: `${req.method} is not served at "${path}": use GET.`, extensions: { code: 'METHOD_NOT_ALLOWED' } }] }));
      return;
    }
    if (path === '/healthz') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: 'ok' }));
      return;
    }
    if (path === '/readyz') {
      readiness().then(
        (r) => {
          res.statusCode = r.ready ? 200 : 503;
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify(r.ready ? { status: 'ready' } : { status: 'unavailable', reason: r.reason }));
        },
        () => {
          res.statusCode = 503;
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ status: 'unavailable', reason: 'readiness check failed' }));
        },
      );
      return;
    }
    if (path === '/metrics') {
      gateway.metrics.registry.metrics().then(
        (text) => {
          res.setHeader('content-type', gateway.metrics.registry.contentType);
          res.end(text);
        },
        () => {
          // A collector that throws must not end the process (an unhandled rejection) or hang the scrape.
          res.statusCode = 500;
          res.setHeader('content-type', 'text/plain');
          res.end('metrics could not be collected\n');
        },
      );
      return;
    }
    res.statusCode = 404;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ errors: [{ message: `No route "${path}": GraphQL is served at /graphql.`, extensions: { code: 'NOT_FOUND' } }] }));
  });
}
