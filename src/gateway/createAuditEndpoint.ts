import type { IncomingMessage, ServerResponse } from 'node:http';
import { runAuditOperation, type AuditOperation, type AuditWriter, type TrustedKey } from '../audit/index.js';
import { AuthError, type VerifiedToken } from '../auth/index.js';
import type { Db } from '../db/index.js';
import { REJECTION_STATUS } from '../errors.js';
import { admitRequest, type PurposeRegistry } from '../policy/index.js';
import { readBody } from '../subgraphs/index.js';
import { requestIdOf } from './requestIdOf.js';

const OPS = new Set(['verify', 'replay', 'report', 'prove', 'export']);

/** An X-Request-Id that is echoed back (the gateway's rule); any other is replaced by a UUID. */

function send(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(text);
}

/**
 * POST /audit/<verify|replay|report|prove|export>: the audit CLI's operations run by the server
 * that holds an embedded DATA_DIR (which no second process may open). Auditor tokens under
 * purpose AUDIT only; every call is itself recorded in the audit log before it answers.
 */
export function createAuditEndpoint(options: {
  db: Db;
  verifyToken: (token: string) => Promise<VerifiedToken>;
  trustedKeys: () => TrustedKey[];
  audit: () => AuditWriter;
  registry: PurposeRegistry;
}) {
  return async (req: IncomingMessage, res: ServerResponse, op: string): Promise<void> => {
    // The path is the caller's: an unknown operation is recorded and echoed, but not at any length.
    const shownOp = op.length > 64 ? `${op.slice(0, 64)}…` : op;
    const requestId = requestIdOf(req);
    res.setHeader('x-request-id', requestId);
    const reject = (status: number, code: string, message: string) => send(res, status, { errors: [{ message, extensions: { code } }] });
    /** A refused call is recorded too (an attempt on the audit log is what auditors look for). */
    const refuse = async (status: number, code: string, message: string, caller: VerifiedToken | undefined, purpose: string | null) => {
      try {
        const { recordId } = await options.audit().append({
          at: new Date().toISOString(),
          requestId,
          caller: caller ? { ...caller.caller, jti: caller.jti } : null,
          purpose,
          ref: null,
          operationName: `audit ${shownOp}`,
          documentHash: null,
          rejection: { code, status },
          decisions: [],
        });
        send(res, status, { errors: [{ message, extensions: { code } }], audit: { requestId, recordId } });
      } catch {
        reject(503, 'AUDIT_UNAVAILABLE', 'The audit log cannot be written; the operation did not run.');
      }
    };
    const purpose = String(req.headers['x-purpose'] ?? '');
    // Like the gateway's HTTP checks, an unknown operation is refused before the token is read.
    if (req.method !== 'POST' || !OPS.has(op)) {
      return refuse(404, 'NOT_FOUND', `No audit operation "${shownOp}" (POST /audit/verify|replay|report|prove|export).`, undefined, purpose || null);
    }
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(String(req.headers.authorization ?? ''))?.[1];
    let verified: VerifiedToken;
    try {
      if (!bearer) throw new AuthError('Send an access token: "Authorization: Bearer <JWT>".');
      verified = await options.verifyToken(bearer);
    } catch (err) {
      return refuse(401, 'UNAUTHENTICATED', err instanceof AuthError ? err.message : 'The token is not valid.', undefined, purpose || null);
    }
    const { caller } = verified;
    if (purpose !== 'AUDIT') {
      // Refused with the code the gateway's own purpose check gives (`audit replay` re-runs it on
      // this record: any other code would be a mismatch on a log nobody altered); a purpose the
      // caller may declare is not one audit operations accept: FORBIDDEN, as for a non-auditor.
      const admitted = admitRequest(options.registry, caller, purpose || undefined, undefined);
      if (!admitted.ok) {
        const message = admitted.code === 'PURPOSE_REQUIRED' ? 'Audit operations need "X-Purpose: AUDIT".' : admitted.message;
        return refuse(REJECTION_STATUS[admitted.code], admitted.code, message, verified, purpose || null);
      }
      return refuse(403, 'FORBIDDEN', 'Audit operations need "X-Purpose: AUDIT".', verified, purpose);
    }
    if (!caller.purposes.includes('AUDIT')) return refuse(403, 'PURPOSE_NOT_PERMITTED', 'The token does not permit purpose "AUDIT".', verified, purpose);
    // The purpose is permitted but the caller is not an auditor: out of scope, as for Query.accessLog.
    if (caller.kind !== 'auditor') return refuse(403, 'FORBIDDEN', 'Only auditor tokens may run audit operations.', verified, purpose);
    let args: Record<string, unknown>;
    try {
      args = JSON.parse((await readBody(req, 10 * 1024 * 1024)) || '{}') as Record<string, unknown>;
    } catch {
      return refuse(400, 'BAD_REQUEST', 'The request body is not valid JSON.', verified, purpose);
    }
    let recordId: string;
    try {
      ({ recordId } = await options.audit().append({
        at: new Date().toISOString(),
        requestId,
        caller: { ...caller, jti: verified.jti },
        purpose,
        ref: null,
        operationName: `audit ${op}`,
        documentHash: null,
        rejection: null,
        decisions: [],
      }));
    } catch {
      return reject(503, 'AUDIT_UNAVAILABLE', 'The audit log cannot be written; the operation did not run.');
    }
    try {
      const operation = { ...args, op } as AuditOperation;
      // Verify inside the serving process takes at most one worker thread: the other cores are
      // the traffic's. (An invalid count is left for runAuditOperation to refuse.)
      if (operation.op === 'verify') {
        const w = operation.workers;
        if (w === undefined || (Number.isInteger(w) && w > 1 && w <= 8)) operation.workers = 1;
        // This server's own log, signed up to now (its records so far, this request's among them):
        // only what arrives while verify reads is left pending.
        await options.audit().checkpoint();
      }
      const out = await runAuditOperation(options.db, operation, options.trustedKeys());
      send(res, 200, { ...out, audit: { requestId, recordId } });
    } catch (err) {
      // Our own messages (an unknown record, no checkpoint yet) help the auditor; anything else
      // (a database error) is not echoed.
      const message = err instanceof Error && /^(Record|No checkpoint|Log|Policy version|"|Pass )/.test(err.message) ? err.message.split('\n')[0] : 'The audit operation failed.';
      // A bad argument of the caller's (a worker count, a record id that is not one) is a bad request.
      // The call was recorded before it ran: its answer names that record, as a success's does.
      const audit = { requestId, recordId };
      if (err instanceof Error && /^("|Pass )/.test(err.message)) return send(res, 400, { errors: [{ message, extensions: { code: 'BAD_REQUEST' } }], audit });
      send(res, 500, { errors: [{ message, extensions: { code: 'AUDIT_OPERATION_FAILED' } }], audit });
    }
  };
}
