// Accessibility and layout of each view (issue 16), in real headless Chromium: axe-core finds no
// serious or critical violation, and from 390 px to 1920 px nothing scrolls the page sideways.
// The views are filled first (results, details, errors shown), so what is checked is what a
// person sees after using them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openDashboard, startServer, tempDb, shots, seriousViolations, sidewaysScroll } from './harness.mjs';

let server, browser, page, errors;

// The views of the dashboard: the sections of the page, each filled by `fill` below.
const VIEWS = ['#map-section', '#check-section', '#screen-section', '#ledger-section', '#records-section',
  '#register-section', '#applications-section', '#reports-section', '#audit-section', '#sim-section'];

before(async () => {
  ({ server, browser, page, errors } = await openDashboard(['--insecure-local']));
  await page.goto(`${server.base}/?date=2025-06-01&regime=ai-diffusion-2025`);
  await page.waitForSelector('body[data-ready="true"]');
  await fill();
});

after(async () => {
  await browser?.context.close();
  server?.stop();
});

async function check(values) {
  for (const [sel, value] of Object.entries(values)) await page.fill(sel, value);
  await page.click('#chk-submit');
  await page.waitForSelector('#determination');
}

// Every view with something in it: a country's detail, a determination with screening hits and a
// recorded shipment, a screening, an account's history, a license, a VEU, the register with a
// shipment's record, an application's detail, a report, the verified audit chain, and field errors.
async function fill() {
  await page.evaluate(async () => {
    const post = (path, body) => fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    await post('/v1/licenses', { id: 'BIS-MY-1', consignee: 'X Sdn Bhd', destination: 'MY', items: ['nvidia-h100-sxm'], units: 10000, tpp: 200000000, granted: '2025-05-20', expires: '2027-05-20' });
    await post('/v1/veus', { id: 'UVEU-1', kind: 'uveu', owner: 'BigCloud Inc', hq: 'US', sites: [{ id: 'kl-1', country: 'MY' }] });
    await post('/v1/applications', { id: 'APP-1', date: '2025-06-02', destination: 'AE', consignee: { name: 'Gulf Compute LLC', hq: 'AE' }, items: [{ chip: 'nvidia-h100-sxm', quantity: 1000 }], value_usd: '1000000.00', end_use: 'deployment' });
  });
  await page.selectOption('#map-find', 'MY');
  await page.waitForSelector('#country-detail h3');
  await check({ '#chk-chip': 'nvidia-h100-sxm', '#chk-quantity': '2000', '#chk-destination': 'MY', '#chk-consignee': 'X Sdn Bhd', '#chk-hq': 'MY' });
  await page.click('#record-shipment');
  await page.waitForSelector('#shipment-status');
  await check({ '#chk-consignee': 'Huawei Technologies', '#chk-destination': 'CN', '#chk-hq': 'CN', '#chk-quantity': '10' });
  await page.waitForSelector('#det-screening');
  await page.fill('#scr-name', 'Huawei Technologies');
  await page.click('#scr-submit');
  await page.waitForSelector('#scr-verdict');
  await page.click('button.account[data-key="country:MY:2025-2027"]');
  await page.waitForSelector('#history-h');
  await page.waitForSelector('#register tbody tr');
  await page.locator('#register tbody tr').first().getByRole('button', { name: /^Details of/ }).click();
  await page.waitForSelector('#shipment-record');
  await page.click('#applications-refresh');
  await page.getByRole('button', { name: 'Open application APP-1' }).click();
  await page.waitForSelector('#decide-form');
  await page.selectOption('#rep-name', 'lpp-certifications');
  await page.fill('#rep-period', '2025');
  await page.click('#report-form button[type=submit]');
  await page.waitForSelector('#report-title');
  await page.click('#audit-verify');
  await page.waitForSelector('#verify-status');
  // Field errors in the license form, shown as a person would see them.
  const license = { '#lic-id': 'BAD-1', '#lic-consignee': 'Y', '#lic-destination': 'ZZ', '#lic-units': '1', '#lic-tpp': '1', '#lic-granted': '2025-05-20', '#lic-expires': '2027-05-20' };
  for (const [sel, value] of Object.entries(license)) await page.fill(sel, value);
  await page.click('#license-form button[type=submit]');
  await page.locator('#err-lic-destination').waitFor({ state: 'visible' });
}

test('axe-core: no serious or critical violation in any view, nor in the page as a whole', async () => {
  const found = {};
  for (const view of [...VIEWS, 'document']) {
    const v = await seriousViolations(page, view === 'document' ? undefined : view);
    if (v.length) found[view] = v;
  }
  assert.deepEqual(found, {}, JSON.stringify(found, null, 2));
});

test('axe-core: the sign-in view has no serious or critical violation, nor with its error shown', async () => {
  const s = await startServer(tempDb());
  const p = await browser.context.newPage();
  try {
    await p.goto(`${s.base}/`);
    await p.waitForSelector('#signin:not([hidden])');
    assert.deepEqual(await seriousViolations(p), []);
    await p.fill('#token', 'aidf_wrong');
    await p.click('#signin-form button');
    await p.waitForFunction(() => /not accepted/.test(document.querySelector('#err-token').textContent));
    assert.deepEqual(await seriousViolations(p), []);
    await p.setViewportSize({ width: 390, height: 844 });
    const scroll = await sidewaysScroll(p);
    assert.ok(scroll.scrollWidth <= scroll.clientWidth, JSON.stringify(scroll));
  } finally {
    await p.close();
    s.stop();
  }
});

// Widths from the smallest phone the issue names to a wide desktop.
const WIDTHS = [390, 768, 1280, 1920];

test('no sideways scroll in any view from 390 px to 1920 px', async () => {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    for (const view of VIEWS) {
      await page.locator(view).scrollIntoViewIfNeeded();
      const scrolls = await page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth);
      const scroll = await sidewaysScroll(page, scrolls ? 'body' : view);
      assert.ok(scroll.scrollWidth <= scroll.clientWidth && !scroll.out.length, `${view} at ${width} px: ${JSON.stringify(scroll)}`);
    }
  }
  await page.setViewportSize({ width: 390, height: 844 });
  await page.locator('#check-section').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, '33-check-390px.png') });
  await page.locator('#register-section').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(shots, '34-register-390px.png') });
  await page.setViewportSize({ width: 1280, height: 900 });
});

test('keyboard only: the controls of every view are reached by Tab, in order, without a trap', async () => {
  // Tab through the page from the skip link to the end (axe checks the controls' names; this
  // checks that the stops are there, in the page's order, and that focus leaves the page at last).
  await page.focus('.skip');
  const stops = [];
  for (let i = 0; i < 2000; i++) {
    await page.keyboard.press('Tab');
    const id = await page.evaluate(() => (document.activeElement === document.body ? null : document.activeElement.id || document.activeElement.tagName));
    if (id == null) break;
    stops.push(id);
  }
  assert.ok(stops.length < 2000, 'focus leaves the page: no trap');
  const expected = ['map-find', 'chk-kind', 'chk-submit', 'record-shipment', 'scr-name', 'scr-submit', 'ledger-refresh', 'lic-id', 'veu-id',
    'reg-status', 'app-id', 'decide-submit', 'due-as-of', 'rep-name', 'audit-verify'];
  const at = expected.map((id) => stops.indexOf(id));
  assert.ok(at.every((i) => i >= 0), `each is reached: ${expected.filter((id, n) => at[n] < 0)}`);
  assert.deepEqual([...at].sort((a, b) => a - b), at, 'in the page\'s order');
  assert.deepEqual(errors, [], 'no page or console errors');
  assert.deepEqual(browser.offsite, [], 'no request left localhost');
});
