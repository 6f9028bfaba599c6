/**
 * A privacy gateway talks to its store, its subgraphs and its issuer, and to no one else: Apollo
 * Gateway's usage telemetry (and the cloud metadata probes it makes to describe its host) is off.
 */
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../fixtures/subscribers.js';
import { startTestGateway, type TestGateway } from '../harness.js';

describe('outbound connections', () => {
  const attempts: string[] = [];
  const original = Socket.prototype.connect;
  let gw: TestGateway;

  beforeAll(async () => {
    delete process.env.APOLLO_TELEMETRY_DISABLED;
    Socket.prototype.connect = function (this: Socket, ...args: unknown[]) {
      const first = args[0] as { host?: string; path?: string } | number | string;
      const host = typeof first === 'object' && first !== null ? (first.path ? `unix:${first.path}` : (first.host ?? 'localhost')) : typeof args[1] === 'string' ? args[1] : 'localhost';
      attempts.push(host);
      return (original as (...a: unknown[]) => Socket).apply(this, args);
    } as typeof Socket.prototype.connect;
    gw = await startTestGateway();
  });
  afterAll(async () => {
    Socket.prototype.connect = original;
    await gw?.close();
  });

  it('go to loopback only, whatever the gateway serves', async () => {
    const res = await gw.gql(`{ subscriber(id: "${FIXTURES.adult.id}") { fullName devices { imei } } }`, { purpose: 'CUSTOMER_SUPPORT' });
    expect(res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 2000)); // the metadata probes start right after the gateway is built
    expect(attempts.length).toBeGreaterThan(0);
    expect(attempts.filter((h) => !/^(127\.0\.0\.1|localhost|::1|unix:.*)$/.test(h))).toEqual([]);
    expect(process.env.APOLLO_TELEMETRY_DISABLED).toBe('true');
  });
});
