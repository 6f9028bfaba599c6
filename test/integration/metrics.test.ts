import { Gauge } from 'prom-client';
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

  it('answers 500 (the process goes on) when a metric cannot be collected', async () => {
    const registry = gw.server.gateway.metrics.registry;
    new Gauge({ name: 'purposegate_test_broken', help: 'throws on collect', registers: [registry], collect() { throw new Error('broken collector'); } });
    try {
      const res = await fetch(gw.url.replace(/\/graphql$/, '/metrics'));
      expect(res.status).toBe(500);
      expect(await res.text()).toBe('metrics could not be collected\n');
    } finally {
      registry.removeSingleMetric('purposegate_test_broken');
    }
    expect((await fetch(gw.url.replace(/\/graphql$/, '/metrics'))).status).toBe(200);
  });

  it('answers another method on these routes with 405 and a reason; HEAD is served', async () => {
    const base = gw.url.replace(/\/graphql$/, '');
    const post = await fetch(`${base}/healthz`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect(await post.json()).toEqual({ errors: [{ message: 'POST is not served at "/healthz": use GET.', extensions: { code: 'METHOD_NOT_ALLOWED' } }] });
    expect((await fetch(`${base}/healthz`, { method: 'HEAD' })).status).toBe(200);
  });

  it.each([
    ['GET', '/healthz', 200],
    ['GET', '/readyz', 200],
    ['GET', '/metrics', 200],
    ['POST', '/healthz', 405],
    ['GET', '/nowhere', 404],
  ])('echoes X-Request-Id on %s %s, and makes one when none (or a malformed one) is sent', async (method, path, status) => {
    const url = gw.url.replace(/\/graphql$/, path);
    const echoed = await fetch(url, { method, headers: { 'x-request-id': 'probe-42.a:b' } });
    expect(echoed.status).toBe(status);
    expect(echoed.headers.get('x-request-id')).toBe('probe-42.a:b');
    const unusable: Array<Record<string, string>> = [{}, { 'x-request-id': 'not an id' }, { 'x-request-id': 'x'.repeat(129) }];
    for (const headers of unusable) {
      const made = await fetch(url, { method, headers });
      expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
  });

  it('names every metric purposegate_<name>, with no repeated prefix', () => {
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) {
      expect(name).toMatch(/^purposegate_/);
      expect(name).not.toMatch(/^purposegate_(process_process|process_nodejs)_/);
    }
  });
});

describe('purposegate_decisions_total', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw.close();
  });

  /** The counter's samples for one purpose, as `effect|reason` → value. */
  async function counted(purpose: string): Promise<Map<string, number>> {
    const text = await (await fetch(gw.url.replace(/\/graphql$/, '/metrics'))).text();
    const out = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (!line.startsWith('purposegate_decisions_total{')) continue;
      const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
      if (labels.purpose === purpose) out.set(`${labels.effect}|${labels.reason}`, Number(line.slice(line.lastIndexOf(' ') + 1)));
    }
    return out;
  }

  it('counts every value decided in a request, as its audit record does, by effect and reason', async () => {
    const before = await counted('MARKETING');
    const res = await gw.gql('{ subscribers(first: 50) { nodes { id msisdn fullName email lastKnownLocation { latitude } } } }', { purpose: 'MARKETING' });
    expect(res.status).toBe(200);
    const { rows } = await gw.db.query<{ body: string }>('SELECT body FROM audit_records WHERE record_id = $1', [res.body.extensions!.audit.recordId]);
    const decisions = (JSON.parse(rows[0]!.body) as { decisions: Array<{ effect: string; reason?: string; count: number }> }).decisions;
    const expected = new Map<string, number>();
    for (const d of decisions) expected.set(`${d.effect}|${d.reason ?? ''}`, (expected.get(`${d.effect}|${d.reason ?? ''}`) ?? 0) + d.count);
    // Several outcomes, several values each: the per-series sums are what is being checked.
    expect(expected.size).toBeGreaterThan(1);
    expect([...expected.values()].some((n) => n > 1)).toBe(true);
    const after = await counted('MARKETING');
    const delta = new Map([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)]).filter(([, v]) => v !== 0) as Array<[string, number]>);
    expect(delta).toEqual(expected);
  });
});
