import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../fixtures/subscribers.js';
import { expectRejected, startTestGateway, type TestGateway } from '../harness.js';

describe('production issuer keys (JWKS_FILE, TOKEN_ISSUER, TOKEN_AUDIENCE)', () => {
  let gw: TestGateway;
  let key: CryptoKey;
  const dir = mkdtempSync(join(tmpdir(), 'pg-jwks-'));
  const issuer = 'https://idp.operator.example';
  const audience = 'urn:operator:purposegate';

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    key = pair.privateKey;
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'idp-1', alg: 'ES256', use: 'sig' }] }));
    gw = await startTestGateway({ env: { JWKS_FILE: join(dir, 'jwks.json'), TOKEN_ISSUER: issuer, TOKEN_AUDIENCE: audience } });
  });
  afterAll(async () => {
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const idpToken = (claims: Record<string, unknown> = {}) =>
    new SignJWT({ kind: 'internal', purposes: ['BILLING'], ...claims })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'idp-1' })
      .setSubject('svc-billing')
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt()
      .setJti('j-1')
      .setExpirationTime('5m')
      .sign(key);

  it('accepts a token from the configured issuer and keys', async () => {
    const res = await gw.gql(`{ subscriber(id: "${FIXTURES.adult.id}") { fullName } }`, { token: await idpToken(), purpose: 'BILLING' });
    expect(res.body.data).toEqual({ subscriber: { fullName: FIXTURES.adult.fullName } });
  });

  it('refuses the embedded issuer once production keys are configured', async () => {
    const embedded = await gw.mint({ kind: 'internal', purposes: ['BILLING'] });
    expectRejected(await gw.gql(`{ subscriber(id: "${FIXTURES.adult.id}") { fullName } }`, { token: embedded, purpose: 'BILLING' }), 401, 'UNAUTHENTICATED');
  });
});
