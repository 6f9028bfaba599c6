export { AuthError } from './AuthError.js';
export { loadOrCreateIssuerKey, type IssuerKey } from './issuerKey.js';
export { createTokenVerifier, ACCEPTED_ALGORITHMS, type VerifiedToken, type TokenVerifierOptions } from './verifyToken.js';
export { mintToken, parseTtl, type MintClaims } from './mintToken.js';
export { loadKeySet } from './loadKeySet.js';
export { loadOrCreateSecret } from './loadOrCreateSecret.js';
