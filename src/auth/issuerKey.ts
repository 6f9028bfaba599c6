import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';

/** The embedded token issuer's Ed25519 key pair. */
export interface IssuerKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/**
 * Loads the embedded issuer key from `<dataDir>/keys/`, generating an Ed25519 pair on first use
 * (private key file mode 0600). The public half is also written as a JWKS for other services.
 */
export async function loadOrCreateIssuerKey(dataDir: string): Promise<IssuerKey> {
  const dir = join(dataDir, 'keys');
  const privatePath = join(dir, 'issuer.private.jwk.json');
  const jwksPath = join(dir, 'issuer.jwks.json');
  if (!existsSync(privatePath)) {
    mkdirSync(dir, { recursive: true });
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'EdDSA', use: 'sig' };
    writeFileSync(privatePath, JSON.stringify(privateJwk, null, 2), { mode: 0o600 });
    chmodSync(privatePath, 0o600);
    writeFileSync(jwksPath, JSON.stringify({ keys: [{ ...publicJwk, kid, alg: 'EdDSA', use: 'sig' }] }, null, 2));
  }
  const privateJwk = JSON.parse(readFileSync(privatePath, 'utf8')) as JWK & { kid: string };
  const { d: _d, ...publicJwk } = privateJwk;
  return { kid: privateJwk.kid, privateKey: (await importJWK(privateJwk, 'EdDSA')) as CryptoKey, publicJwk };
}
