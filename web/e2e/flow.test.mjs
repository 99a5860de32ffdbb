// Issue 15's whole flow in the dashboard, in real headless Chromium against a real `aidf serve`
// started with the issuance reading of the allocation (a pending application holds it):
// G2G for AE → APP-1 holds the doubled allocation → APP-2 presumed denied naming APP-1 →
// APP-1 approved with conditions → shipped under its license → the register's detail and PDF
// record → the reports due and the VEU report. Numbers asserted are read back from the server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { openDashboard, shots, issuancePolicy } from './harness.mjs';

let server, browser, page, errors;

before(async () => {
  ({ server, browser, page, errors } = await openDashboard(['--insecure-local', '--policy-dir', issuancePolicy()]));
});

after(async () => {
  await browser?.context.close();
  server?.stop();
});

const shot = (sel, name) => page.locator(sel).screenshot({ path: join(shots, `${name}.png`) });
const fmt = (n) => Number(n).toLocaleString('en-US');
const json = (path) => page.evaluate((p) => fetch(p).then((r) => r.json()), path);

async function fillApplication(id, items, destination = 'AE') {
  await page.fill('#app-id', id);
  await page.fill('#app-date', '2025-06-02');
  await page.fill('#app-destination', destination);
  await page.fill('#app-consignee-name', 'Gulf Compute LLC');
  await page.fill('#app-consignee-hq', 'AE');
  await page.fill('#app-consignee-parent_hq', 'AE');
  await page.fill('#app-value_usd', '1250000000.00');
  await page.selectOption('#app-end_use', 'deployment');
  // One item row is there; add the others.
  while (await page.locator('#app-items .item-row').count() > 1) await page.locator('#app-items .item-row button').last().click();
  for (const [i, [chip, quantity]] of items.entries()) {
    if (i > 0) await page.click('#app-add-item');
    await page.fill(`#app-item-chip-${i + 1}`, chip);
    await page.fill(`#app-item-qty-${i + 1}`, String(quantity));
  }
}

async function fileApplication(id, items) {
  await fillApplication(id, items);
  await page.click('#app-submit');
  await page.waitForSelector(`#app-result .application[data-id="${id}"]`);
}

test('G2G, two applications, a hold, a denial presumption naming the holder, approval, shipment, record and reports', async () => {
  await page.goto(`${server.base}/?date=2025-06-02&regime=ai-diffusion-2025&posture=as_written`);
  await page.waitForSelector('body[data-ready="true"]');

  // The G2G arrangement for AE (the dashboard has no G2G form; recorded through the API as an
  // officer would with `aidf g2g add`).
  const g2g = await page.evaluate(() => fetch('/v1/g2g', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ country: 'AE', date: '2025-01-15' }) }).then((r) => r.status));
  assert.equal(g2g, 200);

  // A bad field is shown next to it: the problem names `destination`.
  await fillApplication('BAD-1', [['nvidia-h100-sxm', 10]], 'ZZ');
  await page.click('#app-submit');
  await page.locator('#err-app-destination').waitFor({ state: 'visible' });
  assert.match(await page.textContent('#err-app-destination'), /unknown country code `ZZ`/);
  assert.equal(await page.getAttribute('#app-destination', 'aria-invalid'), 'true');
  // An item line's error is shown at the items.
  await fillApplication('BAD-2', [['nvidia-h100-sxm', 10], ['H1000 SXM', 5]]);
  await page.click('#app-submit');
  await page.locator('#err-app-items').waitFor({ state: 'visible' });
  assert.match(await page.textContent('#err-app-items'), /items\[1\].*unknown chip `H1000 SXM`/);
  assert.ok(await page.locator('#err-app-destination').isHidden());
  await shot('#app-form', '19-application-field-errors');

  // APP-1: 50,000 H100 fit the doubled allocation and hold it.
  await fileApplication('APP-1', [['nvidia-h100-sxm', 50000]]);
  const one = (await json('/v1/applications/APP-1')).application;
  assert.equal(one.allocation.reading, 'license_issued');
  assert.equal(one.review_policy, 'approval');
  assert.equal(one.allocation.held_tpp, one.total_tpp);
  const r1 = page.locator('#app-result .application');
  assert.equal(await r1.locator('[data-state]').textContent(), 'submitted');
  assert.equal(await r1.locator('[data-review]').textContent(), 'presumption of approval');
  assert.match(await r1.locator('.hold').textContent(), new RegExp(`^${fmt(one.allocation.held_tpp)} TPP held`));
  assert.equal(fmt(one.total_tpp), '791,600,000');
  await shot('#applications-section', '20-application-holds');

  // APP-2: 30,000 + 20,000 H100 (two item lines) pass it: presumption of denial, naming APP-1.
  await fileApplication('APP-2', [['nvidia-h100-sxm', 30000], ['NVIDIA H100 SXM', 20000]]);
  const two = (await json('/v1/applications/APP-2')).application;
  assert.equal(two.review_policy, 'denial');
  assert.deepEqual(two.allocation.held_by.map((h) => h.id), ['APP-1']);
  const r2 = page.locator('#app-result .application');
  assert.equal(await r2.locator('[data-review]').textContent(), 'presumption of denial');
  assert.equal(await r2.locator('.held-by').textContent(), `APP-1 (${fmt(one.allocation.held_tpp)} TPP)`);
  assert.match(await r2.locator('.hold').textContent(), /holds nothing/);
  assert.equal(await r2.locator('tbody tr').count(), 2, 'one determination per item line');
  await shot('#app-result', '21-application-presumed-denied');

  // Approve APP-1 from its detail, with both typed conditions and a license id.
  await page.locator('#applications tbody tr', { hasText: 'APP-1' }).getByRole('button', { name: 'Open application APP-1' }).click();
  await page.waitForSelector('#decide-form');
  await page.selectOption('#dec-decision', 'approve');
  await page.fill('#dec-date', '2025-06-30');
  await page.fill('#dec-license_id', 'L-APP-1');
  await page.check('#dec-end-user');
  await page.check('#dec-report');
  await page.fill('#dec-report-days', '30');
  await page.click('#decide-submit');
  await page.waitForFunction(() => /approved/.test(document.querySelector('#app-detail [data-state]')?.textContent || ''));
  const view = await json('/v1/applications/APP-1');
  assert.deepEqual(view.transitions.at(-1).conditions, [{ kind: 'end_user_unchanged' }, { kind: 'report_within_days', days: 30 }]);
  const transitions = await page.locator('#app-detail table').last().locator('tbody tr').allTextContents();
  assert.equal(transitions.length, view.transitions.length);
  assert.match(transitions.at(-1), /2025-06-30.*submitted\s*approved\s*L-APP-1/);
  // A second decision is refused: the 409 names both states.
  await page.selectOption('#dec-decision', 'deny');
  await page.fill('#dec-date', '2025-07-01');
  await page.click('#decide-submit');
  await page.locator('#err-decide').waitFor({ state: 'visible' });
  assert.equal(await page.getAttribute('#err-decide', 'data-status'), '409');
  assert.match(await page.textContent('#err-decide'), /`approved` to `denied`/);
  await shot('#app-detail', '22-application-approved-409');

  // The processing-time chart: AE decided in 28 days (2025-06-02 → 2025-06-30), as the server counts.
  await page.fill('#app-as-of', '2025-12-31');
  await page.click('#applications-refresh');
  await page.waitForSelector('#processing-chart rect.p50[data-cc="AE"]');
  const stats = await json('/v1/applications/stats?as_of=2025-12-31');
  assert.equal(await page.getAttribute('#processing-chart rect.p50[data-cc="AE"]', 'data-days'), String(stats.by_destination.AE.p50_days));
  assert.equal(stats.by_destination.AE.p50_days, 28);
  assert.match(await page.getAttribute('#processing-chart', 'aria-label'), /AE p50 28 days, p90 28 days/);

  // Ship against the license from the check panel.
  await page.fill('#chk-chip', 'nvidia-h100-sxm');
  await page.fill('#chk-quantity', '50000');
  await page.fill('#chk-destination', 'AE');
  await page.fill('#chk-consignee', 'Gulf Compute LLC');
  await page.fill('#chk-hq', 'AE');
  await page.fill('#chk-date', '2025-07-01');
  await page.click('#chk-submit');
  await page.waitForSelector('#record-shipment');
  await page.click('#record-shipment');
  await page.waitForFunction(() => document.querySelector('#shipment-status')?.textContent === 'Recorded: authorized');
  assert.match(await page.textContent('#shipment-result'), /under license L-APP-1/);
  await shot('#check-section', '23-shipped-under-license');

  // The register: the shipment, its detail (the record in the page), its PDF.
  await page.selectOption('#reg-status', 'authorized');
  await page.fill('#reg-country', 'AE');
  await page.click('#register-form button[type="submit"]');
  await page.waitForFunction(() => /L-APP-1/.test(document.querySelector('#register tbody tr')?.textContent || ''));
  const row = page.locator('#register tbody tr').first();
  const shipmentId = (await row.locator('td').first().textContent()).trim();
  await row.getByRole('button', { name: `Details of ${shipmentId}` }).click();
  await page.waitForSelector('#shipment-record');
  const record = await page.textContent('#shipment-record');
  const stored = await json(`/v1/shipments/${encodeURIComponent(shipmentId)}/record?format=json`);
  assert.match(record, /Gulf Compute LLC/);
  assert.match(record, /L-APP-1/);
  assert.ok(record.includes(String(stored.shipment?.total_tpp ?? one.total_tpp)), 'the record shows the stored total TPP');
  assert.match(record, /report this export to BIS within 30 day\(s\)/);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download PDF record' }).click(),
  ]);
  const pdf = await readFile(await download.path());
  assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
  // Printing shows the record only.
  await page.emulateMedia({ media: 'print' });
  assert.ok(await page.locator('#map-section').isHidden(), 'the map is not printed');
  assert.ok(await page.locator('#register-form').isHidden(), 'the filters are not printed');
  assert.ok(await page.locator('#shipment-record').isVisible(), 'the record is printed');
  await page.emulateMedia({ media: 'screen' });
  await shot('#register-section', '24-register-shipment-detail');

  // Reports: a VEU makes the semi-annual report due; what is due matches the server.
  await page.fill('#veu-id', 'UVEU-AE');
  await page.selectOption('#veu-kind', 'uveu');
  await page.fill('#veu-owner', 'BigCloud Inc');
  await page.fill('#veu-hq', 'US');
  await page.fill('#veu-sites', 'ad-1:AE');
  await page.click('#veu-form button[type=submit]');
  await page.waitForFunction(() => /UVEU-AE/.test(document.querySelector('#veus').textContent));
  await page.fill('#due-as-of', '2025-08-01');
  await page.click('#due-form button[type=submit]');
  await page.waitForFunction(() => /veu-semiannual/.test(document.querySelector('#reports-due').textContent));
  const due = await json('/v1/reports/due?as_of=2025-08-01');
  assert.deepEqual(due.map((d) => [d.report, d.period, d.due, d.status]), [
    ['veu-semiannual', '2025-H1', '2025-07-15', 'overdue'],
    ['veu-semiannual', '2025-H2', '2026-01-15', 'upcoming'],
  ]);
  const dueRows = await page.locator('#reports-due tbody tr').allTextContents();
  assert.equal(dueRows.length, due.length);
  for (const [i, d] of due.entries()) {
    assert.ok(dueRows[i].includes(d.period) && dueRows[i].includes(d.due) && dueRows[i].includes(d.reason), dueRows[i]);
  }
  assert.equal(await page.getAttribute('#reports-due tbody tr:first-child [data-status]', 'data-status'), 'overdue');
  // The VEU report of 2025-H1 as a table, and its CSV.
  await page.selectOption('#rep-name', 'veu-semiannual');
  await page.fill('#rep-period', '2025-H1');
  await page.click('#report-form button[type=submit]');
  await page.waitForSelector('#report-title');
  const report = await json('/v1/reports/veu-semiannual?period=2025-H1');
  assert.equal(await page.textContent('#report-title'), `${report.title} — ${report.period}`);
  assert.match(await page.textContent('#report'), new RegExp(`Due: ${report.due}`));
  assert.equal(report.rows.length, 0, 'nothing shipped under a VEU');
  assert.ok(await page.locator('#report-empty').isVisible());
  const [csv] = await Promise.all([page.waitForEvent('download'), page.click('#rep-csv')]);
  const text = (await readFile(await csv.path())).toString();
  assert.equal(text.split('\n')[0], report.columns.join(','));
  // A bad period is shown at its field.
  await page.fill('#rep-period', '2025-H3');
  await page.click('#report-form button[type=submit]');
  await page.locator('#err-rep-period').waitFor({ state: 'visible' });
  assert.match(await page.textContent('#err-rep-period'), /H1, H2/);
  await shot('#reports-section', '25-reports-due-and-veu-report');

  assert.deepEqual(errors, [], 'no page or console errors');
  assert.deepEqual(browser.offsite, [], 'no request left localhost');
});
