/**
 * Structured logs: one JSON line per request with its request id, caller and purpose, and never a
 * subscriber value, whatever the request released, masked or was refused.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/gateway/index.js';
import { FIXTURES } from '../fixtures/subscribers.js';
import { startTestGateway, type TestGateway } from '../harness.js';

const A = FIXTURES.adult;

describe('structured request logs (pino)', () => {
  let gw: TestGateway;
  let server: RunningServer;
  const lines: Array<Record<string, any>> = [];

  beforeAll(async () => {
    gw = await startTestGateway();
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    // A second gateway on the same store, logging into memory.
    server = await startServer(gw.config, { db: gw.db, logger: pino({ level: 'info' }, sink) });
  });
  afterAll(async () => {
    await server?.close();
    await gw?.close();
  });

  it('logs each request with id, caller and purpose, and no value of the data it served', async () => {
    const send = async (purpose: string, query: string, headers: Record<string, string> = {}) => {
      const token = await gw.mint({ kind: 'partner', agency: A.agencyId, purposes: [purpose] });
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-purpose': purpose, ...headers },
        body: JSON.stringify({ query }),
      });
      return res.json() as Promise<any>;
    };
    const full = `{ subscriber(id: "${A.id}") { fullName msisdn email postalAddress devices { imei imsi } billingAccount { balance paymentCard { last4 } } } }`;
    const served = await send('CUSTOMER_SUPPORT', full, { 'x-request-id': 'log-test-1' });
    expect(served.data.subscriber.fullName).toBe(A.fullName);
    await send('BILLING', full, { 'x-request-id': 'log-test-2' });
    await send('CUSTOMER_SUPPORT', `{ subscriberByMsisdn(msisdn: "${A.msisdn}") { fullName } }`, { 'x-request-id': 'log-test-3' });
    const refused = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-purpose': 'BILLING', 'x-request-id': 'log-test-4' }, body: '{"query":"{ __typename }"}' });
    expect(refused.status).toBe(401);
    await server.logger.flush?.();

    const requests = lines.filter((l) => l.msg === 'request');
    const byId = new Map(requests.map((l) => [l.requestId, l]));
    expect(byId.get('log-test-1')).toMatchObject({
      level: 30,
      caller: { sub: 'svc-test', kind: 'partner', agency: A.agencyId },
      purpose: 'CUSTOMER_SUPPORT',
      status: 200,
      rejection: null,
      recordId: served.extensions.audit.recordId,
    });
    expect(byId.get('log-test-2')).toMatchObject({ purpose: 'BILLING', status: 200 });
    expect(byId.get('log-test-4')).toMatchObject({ caller: null, purpose: null, status: 401, rejection: 'UNAUTHENTICATED' });
    expect(typeof byId.get('log-test-1')!.ms).toBe('number');

    // Without the numbers pino adds (a timestamp such as 1796420127358 holds "4201", a card's last four digits).
    const text = JSON.stringify(lines.map(({ time: _t, pid: _p, ms: _m, ...rest }) => rest));
    for (const value of [A.fullName, A.msisdn, A.email, A.postalAddress, A.device.imei, A.device.imsi, A.device.imei.slice(-4), A.billing.last4]) {
      expect(text, `the logs must not carry "${value}"`).not.toContain(value);
    }
  });
});
