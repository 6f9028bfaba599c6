import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { CallerKind } from '../policy/index.js';
import type { IssuerKey } from './issuerKey.js';

/** What a minted token says about its holder. */
export interface MintClaims {
  sub: string;
  kind: CallerKind;
  purposes: readonly string[];
  agency?: string;
  /** RFC 8693 delegation chain. */
  act?: Record<string, unknown>;
}

/** Parses a lifetime such as "90s", "15m", "12h" or "7d" into seconds. */
export function parseTtl(ttl: string): number {
  const m = /^(\d+)\s*([smhd])$/.exec(ttl.trim());
  if (!m) throw new Error(`TTL must look like 90s, 15m, 12h or 7d; got "${ttl}".`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

/** Signs an RFC 9068 access token with the embedded issuer key (EdDSA, `typ: at+jwt`). */
export async function mintToken(
  key: IssuerKey,
  claims: MintClaims,
  options: { issuer: string; audience: string; ttlSeconds?: number },
): Promise<string> {
  const body: Record<string, unknown> = { kind: claims.kind, purposes: [...claims.purposes] };
  if (claims.agency !== undefined) body.agency = claims.agency;
  if (claims.act !== undefined) body.act = claims.act;
  return new SignJWT(body)
    .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: key.kid })
    .setSubject(claims.sub)
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setIssuedAt()
    .setJti(randomUUID())
    .setExpirationTime(`${options.ttlSeconds ?? 900}s`)
    .sign(key.privateKey);
}
