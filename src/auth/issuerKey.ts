import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';

/** An Ed25519 signing key pair kept in `<dataDir>/keys/` (the embedded issuer's, or the gateway's). */
export interface IssuerKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/**
 * Loads the Ed25519 key pair `<dataDir>/keys/<name>.private.jwk.json`, generating it on first use
 * (file mode 0600). The public half is also written as `<name>.jwks.json` for other services.
 */
export async function loadOrCreateSigningKey(dataDir: string, name: string): Promise<IssuerKey> {
  const dir = join(dataDir, 'keys');
  const privatePath = join(dir, `${name}.private.jwk.json`);
  const jwksPath = join(dir, `${name}.jwks.json`);
  if (!existsSync(privatePath)) {
    mkdirSync(dir, { recursive: true });
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'EdDSA', use: 'sig' };
    // Linked into place from a temporary file: two processes starting at once both end up with
    // the one key that won (link fails when the name exists), never half a file.
    const tmp = `${privatePath}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(privateJwk, null, 2), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    let won = false;
    try {
      linkSync(tmp, privatePath);
      won = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      unlinkSync(tmp);
    }
    if (won) writeFileSync(jwksPath, JSON.stringify({ keys: [{ ...publicJwk, kid, alg: 'EdDSA', use: 'sig' }] }, null, 2));
  }
  const privateJwk = JSON.parse(readFileSync(privatePath, 'utf8')) as JWK & { kid: string };
  const { d: _d, ...publicJwk } = privateJwk;
  return { kid: privateJwk.kid, privateKey: (await importJWK(privateJwk, 'EdDSA')) as CryptoKey, publicJwk };
}

/** The embedded token issuer's key pair (`issuer.private.jwk.json`, `issuer.jwks.json`). */
export function loadOrCreateIssuerKey(dataDir: string): Promise<IssuerKey> {
  return loadOrCreateSigningKey(dataDir, 'issuer');
}
