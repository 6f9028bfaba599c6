import { createHash, randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Caller, CallerKind } from '../policy/index.js';
import { AuthError } from './AuthError.js';
import type { IssuerKey } from './issuerKey.js';

/** The header a gateway sends its signed request context in, to a remote subgraph. */
export const CONTEXT_HEADER = 'x-purposegate-context';

/** `typ` of a context token: never accepted where an access token is expected, nor the reverse. */
const CONTEXT_TYP = 'purposegate-ctx+jwt';
const CONTEXT_ISSUER = 'purposegate-gateway';
/** Lifetime of a context token: it is minted for one subgraph fetch, just before it is sent. */
const CONTEXT_TTL_S = 60;
const CONTEXT_TOLERANCE_S = 5;

/** What a gateway verified about one request, as a subgraph needs it to decide. */
export interface RequestContext {
  requestId: string;
  caller: Caller;
  purpose: string;
  ref?: string;
  /** The request's decision time (ISO 8601): consent is read as of this instant. */
  at: string;
  /** The caller's RFC 8693 delegation chain, for the record. */
  act?: unknown;
}

/** The subgraph operation a context token is bound to. */
export interface BoundOperation {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
}

/** SHA-256 (hex) of one subgraph operation: a context token is valid for that operation only. */
export function operationHash(op: BoundOperation): string {
  return createHash('sha256')
    .update(JSON.stringify([op.query, op.variables ?? null, op.operationName ?? null]))
    .digest('hex');
}

/**
 * Signs a short-lived context token for one fetch from `subgraph`: the caller, purpose, reference
 * and decision time the gateway verified, bound to the subgraph (audience) and to the exact
 * operation (hash of query, variables and operation name).
 */
export async function mintContextToken(key: IssuerKey, ctx: RequestContext, subgraph: string, op: BoundOperation): Promise<string> {
  const claims: Record<string, unknown> = {
    rid: ctx.requestId,
    kind: ctx.caller.kind,
    purposes: [...ctx.caller.purposes],
    purpose: ctx.purpose,
    at: ctx.at,
    op: operationHash(op),
  };
  if (ctx.caller.agency !== undefined) claims.agency = ctx.caller.agency;
  if (ctx.ref !== undefined) claims.ref = ctx.ref;
  if (ctx.act !== undefined) claims.act = ctx.act;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'EdDSA', typ: CONTEXT_TYP, kid: key.kid })
    .setIssuer(CONTEXT_ISSUER)
    .setAudience(`purposegate-subgraph:${subgraph}`)
    .setSubject(ctx.caller.sub)
    .setIssuedAt()
    .setJti(randomUUID())
    .setExpirationTime(`${CONTEXT_TTL_S}s`)
    .sign(key.privateKey);
}

const KINDS: ReadonlySet<string> = new Set<CallerKind>(['internal', 'partner', 'agent', 'auditor', 'subscriber']);

const isString = (v: unknown): v is string => typeof v === 'string' && v !== '';

/**
 * Returns a verifier for the context tokens a subgraph receives: EdDSA only, signed by a trusted
 * gateway key, for this subgraph, unexpired, and bound to the operation that came with it.
 * Anything else throws AuthError: the subgraph refuses the request.
 */
export function createContextVerifier(options: { keys: JWTVerifyGetKey; subgraph: string }): (token: string | undefined, op: BoundOperation) => Promise<RequestContext> {
  return async (token, op) => {
    if (!token) throw new AuthError('The request did not come through a purposegate gateway (no context token).');
    let payload: JWTPayload & Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, options.keys, {
        algorithms: ['EdDSA'],
        typ: CONTEXT_TYP,
        issuer: CONTEXT_ISSUER,
        audience: `purposegate-subgraph:${options.subgraph}`,
        requiredClaims: ['iss', 'aud', 'exp', 'iat', 'sub', 'jti'],
        clockTolerance: CONTEXT_TOLERANCE_S,
        maxTokenAge: CONTEXT_TTL_S + CONTEXT_TOLERANCE_S,
      }));
    } catch {
      throw new AuthError('The gateway context token is not valid (forged, expired or for another subgraph).');
    }
    if (payload.op !== operationHash(op)) throw new AuthError('The gateway context token was issued for another operation.');
    const { sub, rid, kind, purposes, purpose, at, agency, ref, act } = payload;
    if (
      !isString(sub) || !isString(rid) || !isString(kind) || !KINDS.has(kind) || !isString(purpose) || !isString(at) || Number.isNaN(Date.parse(at)) ||
      !Array.isArray(purposes) || !purposes.every(isString) || (agency !== undefined && !isString(agency)) || (ref !== undefined && !isString(ref))
    ) {
      throw new AuthError('The gateway context token is malformed.');
    }
    const caller: Caller = { sub, kind: kind as CallerKind, purposes };
    if (agency !== undefined) caller.agency = agency;
    const ctx: RequestContext = { requestId: rid, caller, purpose, at };
    if (ref !== undefined) ctx.ref = ref;
    if (act !== undefined) ctx.act = act;
    return ctx;
  };
}
