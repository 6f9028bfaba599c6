import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Caller, CallerKind, PurposeRegistry } from '../policy/index.js';
import { AuthError } from './AuthError.js';

/** Asymmetric algorithms we accept; jose would otherwise take any algorithm that fits the key. */
export const ACCEPTED_ALGORITHMS = ['EdDSA', 'ES256', 'ES384', 'PS256', 'RS256'] as const;

const KINDS: ReadonlySet<CallerKind> = new Set(['internal', 'partner', 'agent', 'auditor', 'subscriber']);

/** A verified caller plus what the audit log keeps about the token. */
export interface VerifiedToken {
  caller: Caller;
  jti: string;
  /** The RFC 8693 delegation chain, when the token carries one. */
  act?: unknown;
}

/** Options of a token verifier. */
export interface TokenVerifierOptions {
  keys: JWTVerifyGetKey;
  issuer: string;
  audience: string;
  registry: PurposeRegistry;
  /** Allowed clock skew in seconds. @default 30 */
  clockToleranceSec?: number;
  /** Longest accepted token lifetime (exp - iat) and age, in seconds. @default 86400 */
  maxTokenAgeSec?: number;
}

/**
 * Verifies an RFC 9068 access token (`typ: at+jwt`) against the issuer's keys with a pinned
 * algorithm list, requires iss/aud/exp/iat/sub/jti, and checks our claims: `kind`, `purposes`
 * (an array of registry purposes) and `agency` (required for partners and agents).
 */
export function createTokenVerifier(options: TokenVerifierOptions): (token: string) => Promise<VerifiedToken> {
  return async (token) => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, options.keys, {
        algorithms: [...ACCEPTED_ALGORITHMS],
        issuer: options.issuer,
        audience: options.audience,
        typ: 'at+jwt',
        requiredClaims: ['iss', 'aud', 'exp', 'iat', 'sub', 'jti'],
        clockTolerance: options.clockToleranceSec ?? 30,
        maxTokenAge: options.maxTokenAgeSec ?? 86_400,
      }));
    } catch (err) {
      throw new AuthError(describe(err));
    }
    const { kind, purposes, agency, sub, jti, act, iat, exp } = payload as JWTPayload & Record<string, unknown>;
    const now = Math.floor(Date.now() / 1000);
    const tolerance = options.clockToleranceSec ?? 30;
    const maxAge = options.maxTokenAgeSec ?? 86_400;
    if (typeof iat !== 'number' || iat > now + tolerance) throw new AuthError('The token was issued in the future ("iat").');
    if (typeof exp !== 'number' || exp - iat > maxAge) throw new AuthError(`The token lives longer than the ${maxAge} s allowed ("exp" - "iat").`);
    if (typeof sub !== 'string' || sub === '' || typeof jti !== 'string' || jti === '') throw new AuthError('Token claims "sub" and "jti" must be non-empty strings.');
    if (typeof kind !== 'string' || !KINDS.has(kind as CallerKind)) {
      throw new AuthError(`Token claim "kind" must be one of ${[...KINDS].join(', ')}.`);
    }
    if (!Array.isArray(purposes) || purposes.some((p) => typeof p !== 'string')) {
      throw new AuthError('Token claim "purposes" must be an array of purpose names.');
    }
    const unknown = purposes.find((p) => !options.registry.has(p as string));
    if (unknown !== undefined) throw new AuthError(`Token claim "purposes" names unknown purpose "${String(unknown)}".`);
    if ((kind === 'partner' || kind === 'agent') && (typeof agency !== 'string' || agency === '')) {
      throw new AuthError(`A ${kind} token must carry an "agency" claim.`);
    }
    if (agency !== undefined && typeof agency !== 'string') throw new AuthError('Token claim "agency" must be a string.');
    if (act !== undefined && (typeof act !== 'object' || act === null || typeof (act as { sub?: unknown }).sub !== 'string')) {
      throw new AuthError('Token claim "act" must be an object with a "sub".');
    }
    const caller: Caller = { sub: sub as string, kind: kind as CallerKind, purposes: purposes as string[] };
    if (typeof agency === 'string') caller.agency = agency;
    const verified: VerifiedToken = { caller, jti: jti as string };
    if (act !== undefined) verified.act = act;
    return verified;
  };
}

function describe(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'The token has expired.';
  if (err instanceof errors.JWTClaimValidationFailed) return `The token's "${err.claim}" claim is not valid (${err.reason}).`;
  if (err instanceof errors.JOSEAlgNotAllowed) return 'The token is signed with an algorithm that is not accepted.';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'The token signature is not valid.';
  if (err instanceof errors.JWKSNoMatchingKey) return 'The token was not signed by a known key.';
  return 'The token is malformed or not valid.';
}
