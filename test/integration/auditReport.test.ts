import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportHtml, subscriberAccesses } from '../../src/audit/index.js';
import { FIXTURES } from '../fixtures/subscribers.js';
import { startTestGateway, type TestGateway } from '../harness.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('the subscriber access report (Art. 15)', () => {
  let gw: TestGateway;
  let browser: Browser;
  const dir = mkdtempSync(join(tmpdir(), 'pg-report-'));

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium is needed at ${CHROMIUM} (apt-get install chromium; .ci/run installs it).`);
    gw = await startTestGateway();
    const id = FIXTURES.adult.id;
    await gw.gql(`{ subscriber(id: "${id}") { fullName devices { imei } } }`, { purpose: 'CUSTOMER_SUPPORT' });
    await gw.gql(`{ subscriber(id: "${id}") { fullName lastKnownLocation { latitude } } }`, { purpose: 'MARKETING' });
    await gw.gql(`{ subscriber(id: "${id}") { fullName dateOfBirth } }`, { purpose: 'MARKETING' });
    await gw.gql(`{ subscriber(id: "${FIXTURES.none.id}") { fullName } }`, { purpose: 'BILLING' });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists who read what, when and why — only this subscriber\u2019s decisions', async () => {
    const entries = await subscriberAccesses(gw.db, FIXTURES.adult.id);
    expect(entries.map((e) => e.purpose)).toEqual(['CUSTOMER_SUPPORT', 'MARKETING', 'MARKETING']);
    expect(entries[0]).toMatchObject({ who: { sub: 'svc-test', kind: 'internal' }, masked: ['Device.imei'] });
    expect(entries[0].released).toContain('Subscriber.fullName');
    expect(entries[2].denied).toContainEqual({ coordinate: 'Subscriber.dateOfBirth', reason: 'PURPOSE_NOT_ALLOWED' });
    expect(JSON.stringify(entries)).not.toContain(FIXTURES.none.id);
  });

  it('renders in a real browser with the chart and the table', async () => {
    const entries = await subscriberAccesses(gw.db, FIXTURES.adult.id);
    const file = join(dir, 'report.html');
    writeFileSync(file, reportHtml(FIXTURES.adult.id, entries, new Date().toISOString()));
    const page = await browser.newPage();
    await page.goto(`file://${file}`);
    expect(await page.title()).toBe(`Access report for ${FIXTURES.adult.id}`);
    const chart = page.locator('svg#chart');
    expect(await chart.isVisible()).toBe(true);
    const box = await chart.boundingBox();
    expect(box!.width).toBeGreaterThan(300);
    const bars = page.locator('svg#chart rect.bar');
    expect(await bars.count()).toBe(2); // one day, two purposes
    const purposes = await bars.evaluateAll((rs) => rs.map((r) => r.getAttribute('data-purpose')).sort());
    expect(purposes).toEqual(['CUSTOMER_SUPPORT', 'MARKETING']);
    const heights = await bars.evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('height'))));
    expect(Math.max(...heights)).toBeGreaterThan(Math.min(...heights)); // MARKETING (2) is taller than CUSTOMER_SUPPORT (1)
    const rows = page.locator('table#accesses tbody tr');
    expect(await rows.count()).toBe(3);
    expect(await rows.nth(0).innerText()).toContain('Device.imei');
    await page.screenshot({ path: join(dir, 'report.png') });
    await page.close();
  });
});
