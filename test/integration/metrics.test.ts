import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../harness.js';

describe('GET /metrics', () => {
  let gw: TestGateway;
  let names: string[];
  beforeAll(async () => {
    gw = await startTestGateway();
    await gw.gql('{ subscriber(id: "sub-adult") { id } }', { purpose: 'SERVICE_DELIVERY' });
    const text = await (await fetch(gw.url.replace(/\/graphql$/, '/metrics'))).text();
    names = [...new Set(text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]!))];
  });
  afterAll(async () => {
    await gw.close();
  });

  it.each([
    'purposegate_process_cpu_seconds_total',
    'purposegate_process_resident_memory_bytes',
    'purposegate_process_start_time_seconds',
    'purposegate_nodejs_heap_size_total_bytes',
    'purposegate_nodejs_heap_size_used_bytes',
    'purposegate_nodejs_eventloop_lag_seconds',
    'purposegate_requests_total',
    'purposegate_request_duration_seconds',
    'purposegate_decisions_total',
  ])('exposes %s', (name) => {
    expect(names).toContain(name);
  });

  it('names every metric purposegate_<name>, with no repeated prefix', () => {
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) {
      expect(name).toMatch(/^purposegate_/);
      expect(name).not.toMatch(/^purposegate_(process_process|process_nodejs)_/);
    }
  });
});
