import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Caller, CallerKind, PurposeRegistry } from '../policy/index.js';
import { isWellFormedJson } from '../wellFormed.js';
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

/** Who may act for whom (RFC 8693 `act`): a token subject → the actor subjects it may be delegated to. */
export type ActorPolicy = ReadonlyMap<string, ReadonlySet<string>>;

/** Deepest delegation chain accepted (`act` within `act`). */
export const MAX_ACTOR_CHAIN = 5;

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
  /**
   * The actors each subject may be delegated to (ACTORS_FILE). With a policy, a token with an
   * `act` claim is accepted only when every actor of its chain is listed for its `sub`; without
   * one, the issuer that signed the chain is the authority on it (SPEC §4: decide on the
   * top-level claims, log the whole chain). @default undefined (any actor the issuer signed)
   */
  actors?: ActorPolicy;
}

/**
 * Verifies an RFC 9068 access token (`typ: at+jwt`) against the issuer's keys with a pinned
 * algorithm list, requires iss/aud/exp/iat/sub/jti, and checks our claims: `kind`, `purposes`
 * (an array of registry purposes) and `agency` (required for partners and agents). A delegated
 * token (`act`, RFC 8693) names at most five actors, none of them its own subject; with an actor
 * policy (ACTORS_FILE) each must be permitted for its `sub`: the issuer's signature says who
 * acts, the operator's policy says who may (a claim such as `may_act` inside the same token
 * cannot authorise its own actor).
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
      throw new AuthError(`${kind === 'agent' ? 'An' : 'A'} ${kind} token must carry an "agency" claim.`);
    }
    if (agency !== undefined && typeof agency !== 'string') throw new AuthError('Token claim "agency" must be a string.');
    if (!isWellFormedJson([sub, jti, agency ?? null, act ?? null])) {
      throw new AuthError('Token claims must be well-formed Unicode text without NUL characters.');
    }
    const actors = act === undefined ? [] : actorChain(act);
    const caller: Caller = { sub: sub as string, kind: kind as CallerKind, purposes: purposes as string[] };
    if (typeof agency === 'string') caller.agency = agency;
    const verified: VerifiedToken = { caller, jti: jti as string };
    if (act !== undefined) verified.act = act;
    const permitted = options.actors?.get(caller.sub);
    const refused = actors.find((actor) => actor === caller.sub || (options.actors !== undefined && !permitted?.has(actor)));
    if (refused !== undefined) throw new AuthError(`Actor "${refused}" is not permitted to act for "${caller.sub}" (token claim "act").`, verified);
    return verified;
  };
}

/** The actor subjects of an RFC 8693 `act` claim, current actor first, prior actors after it. */
function actorChain(act: unknown): string[] {
  const chain: string[] = [];
  for (let link = act; link !== undefined; link = (link as { act?: unknown }).act) {
    if (typeof link !== 'object' || link === null || typeof (link as { sub?: unknown }).sub !== 'string' || (link as { sub: string }).sub === '') {
      throw new AuthError('Token claim "act" must be an object with a non-empty "sub" at every level.');
    }
    chain.push((link as { sub: string }).sub);
    if (chain.length > MAX_ACTOR_CHAIN) throw new AuthError(`Token claim "act" nests more than ${MAX_ACTOR_CHAIN} actors.`);
  }
  return chain;
}

function describe(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'The token has expired.';
  if (err instanceof errors.JWTClaimValidationFailed) return `The token's "${err.claim}" claim is not valid (${err.reason}).`;
  if (err instanceof errors.JOSEAlgNotAllowed) return 'The token is signed with an algorithm that is not accepted.';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'The token signature is not valid.';
  if (err instanceof errors.JWKSNoMatchingKey) return 'The token was not signed by a known key.';
  return 'The token is malformed or not valid.';
}
