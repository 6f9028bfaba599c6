import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { IssuerKey } from './issuerKey.js';

/**
 * The issuer keys tokens are verified against: a remote JWKS (JWKS_URL), a JWKS file
 * (JWKS_FILE), or else the embedded issuer's public key.
 */
export function loadKeySet(options: { jwksUrl?: string; jwksFile?: string; embedded?: IssuerKey }): JWTVerifyGetKey {
  if (options.jwksUrl) return createRemoteJWKSet(new URL(options.jwksUrl));
  if (options.jwksFile) return createLocalJWKSet(JSON.parse(readFileSync(options.jwksFile, 'utf8')) as JSONWebKeySet);
  if (!options.embedded) throw new Error('No issuer keys: set JWKS_URL or JWKS_FILE, or use the embedded issuer.');
  return createLocalJWKSet({ keys: [{ ...options.embedded.publicJwk, kid: options.embedded.kid, alg: 'EdDSA', use: 'sig' }] });
}
