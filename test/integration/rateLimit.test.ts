import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/gateway/RateLimiter.js';
import { FIXTURES } from '../fixtures/subscribers.js';
import { expectRejected, startTestGateway, type TestGateway } from '../harness.js';

describe('RateLimiter', () => {
  it('allows a burst, then one request per refill interval, per caller', () => {
    let now = 0;
    const limiter = new RateLimiter(60, 3, () => now); // one a second, bursts of 3
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([0, 0, 0]);
    expect(limiter.take('a')).toBe(1);
    expect(limiter.take('b')).toBe(0); // callers do not share a bucket
    now += 1000;
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBe(1);
    expect(new RateLimiter(0, 1, () => now).take('a')).toBe(0); // 0 disables
  });
});

describe('rate limiting through the gateway', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ env: { RATE_LIMIT_PER_MINUTE: '60', RATE_LIMIT_BURST: '3' } });
  });
  afterAll(() => gw.close());

  it('answers 429 RATE_LIMITED with Retry-After once a caller exceeds its budget, records it, and leaves other callers alone', async () => {
    const q = `{ subscriber(id: "${FIXTURES.adult.id}") { fullName } }`;
    const token = await gw.mint({ sub: 'partner-portal', kind: 'partner', agency: 'agency-north', purposes: ['BILLING'] });
    for (let i = 0; i < 3; i++) expect((await gw.gql(q, { token, purpose: 'BILLING' })).status).toBe(200);
    const limited = await gw.gql(q, { token, purpose: 'BILLING' });
    expectRejected(limited, 429, 'RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(limited.body)).not.toContain(FIXTURES.adult.fullName);
    const { rows } = await gw.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM audit_records WHERE rejection_code = 'RATE_LIMITED'`);
    expect(Number(rows[0].n)).toBe(1);
    const other = await gw.mint({ sub: 'crm', kind: 'internal', purposes: ['BILLING'] });
    expect((await gw.gql(q, { token: other, purpose: 'BILLING' })).status).toBe(200);
  });
});
