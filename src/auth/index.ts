export { AuthError } from './AuthError.js';
export { loadOrCreateIssuerKey, loadOrCreateSigningKey, type IssuerKey } from './issuerKey.js';
export { createTokenVerifier, ACCEPTED_ALGORITHMS, MAX_ACTOR_CHAIN, type ActorPolicy, type VerifiedToken, type TokenVerifierOptions } from './verifyToken.js';
export { loadActorPolicy } from './loadActorPolicy.js';
export { mintToken, parseTtl, type MintClaims } from './mintToken.js';
export { loadKeySet } from './loadKeySet.js';
export { loadOrCreateSecret } from './loadOrCreateSecret.js';
export { CONTEXT_HEADER, createContextVerifier, mintContextToken, operationHash, type BoundOperation, type RequestContext } from './contextToken.js';
