// The dashboard end to end in real headless Chromium, against a real `aidf serve`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, tempDb, token, shots, openDashboard } from './harness.mjs';

let server, browser, page, errors;

before(async () => {
  ({ server, browser, page, errors } = await openDashboard(['--insecure-local']));
  console.log(`# aidf serve: spawn to "listening on" in ${server.startupMs.toFixed(1)} ms`);
});

after(async () => {
  await browser?.context.close();
  server?.stop();
});

const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });

test('the map draws at least 150 countries with the right tiers on 2025-06-01 (ai-diffusion-2025, as written)', async () => {
  await page.goto(`${server.base}/?date=2025-06-01&regime=ai-diffusion-2025&posture=as_written`);
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await page.textContent('#session'), 'insecure local mode (no authentication)');
  const drawn = await page.locator('#map path.country').count();
  assert.ok(drawn >= 150, `only ${drawn} countries drawn`);
  const expected = { US: '1', DE: '1', IN: '2', AE: '2', CN: '3' };
  for (const [cc, tier] of Object.entries(expected)) {
    const p = page.locator(`#map path.country[data-cc="${cc}"]`).first();
    assert.equal(await p.getAttribute('data-tier'), tier, `${cc} tier`);
    // Colour and pattern: the fill is the tier's pattern, whose base colour is the tier's.
    assert.equal(await p.getAttribute('fill'), `url(#tier-${tier})`, `${cc} fill`);
    assert.match(await p.getAttribute('aria-label'), new RegExp(`Tier ${tier}$`));
  }
  const base = await page.evaluate(() => Object.fromEntries(['1', '2', '3'].map((t) => [t, document.querySelector(`#tier-${t} rect`).getAttribute('fill')])));
  assert.deepEqual(base, { 1: '#cfe8d5', 2: '#f2c46d', 3: '#8e1b2b' });
  // Hover shows the tier; click shows the detail panel.
  await page.locator('#map path.country[data-cc="IN"]').first().hover();
  assert.match(await page.locator('#map-tip').textContent(), /India \(IN\): Tier 2/);
  await shot('01-map-hover-india');
  // (The UAE's bounding-box centre is in the Gulf, so click a country whose centre is land.)
  await page.locator('#map path.country[data-cc="SA"]').first().click();
  await page.waitForSelector('#country-detail h3');
  assert.match(await page.locator('#country-detail h3').textContent(), /Saudi Arabia \(SA\) Tier 2/);
  assert.match(await page.locator('#country-detail').textContent(), /Country groups: D:4/);
  // Keyboard: the map is one tab stop after "Find a country"; arrows move, Enter selects.
  await page.focus('#map-find');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.name), 'Afghanistan');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.cc), 'AL');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /Albania \(AL\)/.test(document.querySelector('#country-detail h3')?.textContent || ''));
  assert.equal(await page.evaluate(() => document.activeElement.id), 'country-detail', 'focus moves to the detail');
  await page.keyboard.press('Shift+Tab');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.cc), 'AL', 'one tab stop, where it was left');
  await page.locator('#map path.country[data-cc="CN"]').first().focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /\(CN\)/.test(document.querySelector('#country-detail h3')?.textContent || ''));
  await page.locator('#map-section').screenshot({ path: join(shots, '02-map-china-detail.png') });
  // Grayscale: the same map with colour removed still separates the tiers by pattern and label.
  await page.emulateMedia({ colorScheme: 'light' });
  await page.addStyleTag({ content: 'html { filter: grayscale(1); }' });
  await page.locator('#map-section').screenshot({ path: join(shots, '03-map-grayscale.png') });
  await page.addStyleTag({ content: 'html { filter: none; }' });
});

async function check(quantity) {
  await page.fill('#chk-chip', 'nvidia-h100-sxm');
  await page.fill('#chk-quantity', String(quantity));
  await page.fill('#chk-destination', 'MY');
  await page.fill('#chk-consignee', 'X Sdn Bhd');
  await page.fill('#chk-hq', 'MY');
  await page.fill('#chk-date', '2025-06-01');
  await page.click('#chk-submit');
}

test('the check form: 2,000 H100 to a Malaysian consignee needs a license, presumption of approval, drawing the allocation', async () => {
  await check(2000);
  await page.waitForSelector('#determination');
  assert.equal(await page.getAttribute('#det-authorization', 'data-authorization'), 'license');
  assert.equal(await page.textContent('#det-review'), 'presumption of approval');
  assert.match(await page.textContent('#det-counts'), /country allocation/);
  const reasons = await page.locator('#determination table').first().textContent();
  assert.match(reasons, /allocation\.within/);
  assert.match(reasons, /MY allocation: 0 used \+ 31,664,000 = 31,664,000 <= 790,000,000 TPP/);
  assert.match(reasons, /15 CFR 742\.6\(b\)/);
  assert.match(reasons, /lpp\.exceeds_limit/);
  await page.locator('#check-section').screenshot({ path: join(shots, '04-check-result.png') });
});

test('record as shipment: refused without a license; with one, authorized and the allocation bar moves', async () => {
  const bar = () => page.locator('.bar[aria-label="country:MY:2025-2027 used"]');
  await page.click('#record-shipment');
  await page.waitForSelector('#shipment-status');
  assert.equal(await page.textContent('#shipment-status'), 'Recorded: refused');
  // A refused shipment draws nothing and opens no account: Malaysia has no allocation bar yet.
  assert.equal(await bar().count(), 0);

  // An officer action (insecure-local is admin): record the license in the Licenses form.
  await page.fill('#lic-id', 'BIS-MY-1');
  await page.fill('#lic-consignee', 'X Sdn Bhd');
  await page.fill('#lic-destination', 'MY');
  await page.fill('#lic-items', 'nvidia-h100-sxm');
  await page.fill('#lic-units', '10000');
  await page.fill('#lic-tpp', '200000000');
  await page.fill('#lic-granted', '2025-05-20');
  await page.fill('#lic-expires', '2027-05-20');
  await page.click('#license-form button[type=submit]');
  await page.waitForFunction(() => /BIS-MY-1/.test(document.querySelector('#licenses').textContent));

  // And a validated end user with a site in Malaysia (shown in the country panel below).
  await page.fill('#veu-id', 'UVEU-1');
  await page.selectOption('#veu-kind', 'uveu');
  await page.fill('#veu-owner', 'BigCloud Inc');
  await page.fill('#veu-hq', 'US');
  await page.fill('#veu-sites', 'kl-1:MY');
  await page.click('#veu-form button[type=submit]');
  await page.waitForFunction(() => /UVEU-1/.test(document.querySelector('#veus').textContent));
  await page.locator('#records-section').screenshot({ path: join(shots, '06a-licenses-veus.png') });

  await check(2000);
  await page.waitForSelector('#record-shipment');
  await page.click('#record-shipment');
  await page.waitForFunction(() => document.querySelector('#shipment-status')?.textContent === 'Recorded: authorized');
  await page.waitForFunction(() => document.querySelector('.bar[aria-label="country:MY:2025-2027 used"]')?.getAttribute('aria-valuenow') === '31664000');
  assert.match(await bar().getAttribute('aria-valuetext'), /31,664,000 of 790,000,000 \(4\.0%\)/);
  await page.locator('#check-section').screenshot({ path: join(shots, '05-shipment-recorded.png') });
  // The account's history, and the country panel's chart.
  await page.click('button.account[data-key="country:MY:2025-2027"]');
  await page.waitForSelector('#history-h');
  assert.match(await page.textContent('#account-history'), /transfer/);
  // By business date (the shipment's, 2025-06-01), not the clock that recorded it.
  assert.equal(await page.getAttribute('#account-history svg.chart', 'data-to'), '2025-06-01');
  const transfer = page.locator('#account-history tbody tr', { hasText: 'transfer' }).first();
  assert.equal(await transfer.locator('td').nth(1).textContent(), '2025-06-01');
  await page.locator('#ledger-section').screenshot({ path: join(shots, '06-ledger.png') });
  await page.selectOption('#map-find', 'MY');
  await page.waitForFunction(() => /Used 31,664,000 TPP \(2,000 H100-eq\.\)/.test(document.querySelector('#country-detail').textContent));
  assert.match(await page.textContent('#country-detail'), /BIS-MY-1/);
  assert.match(await page.textContent('#country-detail'), /UVEU-1\s*UVEU\s*BigCloud Inc/);
  await page.locator('#map-section').screenshot({ path: join(shots, '07-map-malaysia-after-shipment.png') });
});

test('the shipment register lists what was recorded, filters it, and files a PDF record (issue 15)', async () => {
  await page.waitForFunction(() => document.querySelectorAll('#register tbody tr').length >= 2);
  const all = await page.locator('#register tbody tr').allTextContents();
  assert.ok(all.some((r) => /refused/.test(r)) && all.some((r) => /authorized/.test(r)), all.join('\n'));
  await page.selectOption('#reg-status', 'refused');
  await page.fill('#reg-country', 'my');
  await page.click('#register-form button[type="submit"]');
  await page.waitForFunction(() => [...document.querySelectorAll('#register tbody tr')].every((r) => /refused/.test(r.textContent)));
  const refused = await page.locator('#register tbody tr').allTextContents();
  assert.ok(refused.length >= 1 && refused.every((r) => /MY/.test(r)), refused.join('\n'));
  await page.selectOption('#reg-status', 'authorized');
  await page.click('#register-form button[type="submit"]');
  await page.waitForFunction(() => /authorized/.test(document.querySelector('#register tbody tr')?.textContent || ''));
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('#register tbody tr').first().getByRole('button', { name: /^PDF record of / }).click(),
  ]);
  const { readFile } = await import('node:fs/promises');
  const pdf = await readFile(await download.path());
  assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
  // A bad filter is shown at its field.
  await page.fill('#reg-country', 'MYS');
  await page.click('#register-form button[type="submit"]');
  await page.waitForFunction(() => !document.querySelector('#err-reg-country').hidden);
  assert.match(await page.textContent('#err-reg-country'), /MYS/);
  await page.locator('#register-section').screenshot({ path: join(shots, '08-register.png') });
  await page.fill('#reg-country', '');
  await page.selectOption('#reg-status', '');
});

test('license applications: the list and the processing times (issue 15)', async () => {
  const answer = await page.evaluate(async () => {
    const post = (path, body) => fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
      .then(async (r) => ({ status: r.status, body: await r.json() }));
    const app = (id, quantity) => ({
      id, date: '2025-06-02', destination: 'AE',
      consignee: { name: 'Gulf Compute LLC', hq: 'AE', parent_hq: 'AE', veu: null },
      items: [{ chip: 'NVIDIA H100 SXM', quantity }], value_usd: '1000000.00', end_use: 'deployment',
    });
    return [
      await post('/v1/applications', app('APP-1', 1000)),
      await post('/v1/applications', app('APP-2', 500)),
      await post('/v1/applications/APP-1/decision', { decision: 'approve', date: '2025-06-30', license_id: 'L-APP-1' }),
    ].map((r) => r.status);
  });
  assert.deepEqual(answer, [200, 200, 200]);
  await page.fill('#app-as-of', '2025-12-31');
  await page.click('#applications-refresh');
  await page.waitForFunction(() => document.querySelectorAll('#applications tbody tr').length === 2);
  const rows = await page.locator('#applications tbody tr').allTextContents();
  assert.match(rows.join('\n'), /APP-1\s*approved\s*2025-06-30\s*AE\s*Gulf Compute LLC\s*15,832,000/);
  assert.match(rows.join('\n'), /APP-2\s*submitted/);
  await page.waitForFunction(() => /As of 2025-12-31/.test(document.querySelector('#app-stats-line')?.textContent || ''));
  const line = await page.textContent('#app-stats-line');
  assert.match(line, /2 filed, 1 decided, 1 approved \(approval rate 100\.0 %\); days to decision p50 28 d, p90 28 d\./);
  // APP-2 has waited 212 days by 2025-12-31.
  assert.match(await page.textContent('#app-stats .pending-ages'), /181\+ days: 1/);
  await page.locator('#applications-section').screenshot({ path: join(shots, '08-applications.png') });
});

test('the audit log lists the actions and the chain verifies', async () => {
  await page.click('#audit-refresh');
  await page.waitForFunction(() => document.querySelectorAll('#audit tbody tr').length >= 4);
  const log = await page.textContent('#audit');
  assert.match(log, /shipment/);
  assert.match(log, /license\.add/);
  await page.click('#audit-verify');
  await page.waitForSelector('#verify-status');
  assert.equal(await page.getAttribute('#verify-status', 'data-ok'), 'true');
  assert.match(await page.textContent('#verify-status'), /Chain intact: \d+ records verified/);
  await page.locator('#audit-section').screenshot({ path: join(shots, '08-audit-verified.png') });
});

test('a bad input shows its error next to the field the problem names', async () => {
  await check(-3);
  const err = page.locator('#err-quantity');
  await err.waitFor({ state: 'visible' });
  assert.match(await err.textContent(), /quantity.*positive/);
  assert.equal(await page.getAttribute('#chk-quantity', 'aria-invalid'), 'true');
  // Next to its field: in the quantity control's own container, directly below it.
  assert.equal(await err.evaluate((e) => e.closest('.field').querySelector('input').id), 'chk-quantity');
  assert.ok(await page.locator('#err-destination').isHidden());
  // Another field: an unknown chip names `item.chip`.
  await page.fill('#chk-quantity', '5');
  await page.fill('#chk-chip', 'H1000 SXM');
  await page.click('#chk-submit');
  await page.locator('#err-item-chip').waitFor({ state: 'visible' });
  assert.match(await page.textContent('#err-item-chip'), /unknown chip `H1000 SXM`; nearest: nvidia-h100-sxm/);
  assert.ok(await page.locator('#err-quantity').isHidden());
  await page.locator('#check-form').screenshot({ path: join(shots, '09-field-error.png') });
  // The same in the license form: the problem names `destination`.
  await page.fill('#lic-id', 'BAD-1');
  await page.fill('#lic-consignee', 'Y');
  await page.fill('#lic-destination', 'ZZ');
  await page.fill('#lic-units', '1');
  await page.fill('#lic-tpp', '1');
  await page.fill('#lic-granted', '2025-05-20');
  await page.fill('#lic-expires', '2027-05-20');
  await page.click('#license-form button[type=submit]');
  await page.locator('#err-lic-destination').waitFor({ state: 'visible' });
  assert.match(await page.textContent('#err-lic-destination'), /unknown country code `ZZ`/);
  assert.equal(await page.getAttribute('#lic-destination', 'aria-invalid'), 'true');
  assert.deepEqual(errors, [], 'no page or console errors');
  assert.deepEqual(browser.offsite, [], 'no request left localhost');
});

test('signing in with a viewer token: reads and checks, and cannot record shipments or licenses', async () => {
  const db = tempDb();
  const viewer = token(db, 'acme', 'viewer');
  const s = await startServer(db);
  try {
    const p = await browser.context.newPage();
    await p.goto(`${s.base}/`);
    await p.waitForSelector('#signin:not([hidden])');
    await p.fill('#token', 'aidf_wrong');
    await p.click('#signin-form button');
    await p.waitForFunction(() => /not accepted/.test(document.querySelector('#err-token').textContent));
    await p.fill('#token', viewer);
    await p.click('#signin-form button');
    await p.waitForSelector('body[data-ready="true"]');
    assert.equal(await p.textContent('#role'), 'viewer');
    assert.equal(await p.evaluate(() => sessionStorage.getItem('aidf.token')?.startsWith('aidf_')), true);
    // A stateless check: the determination, and no "Record as shipment".
    for (const [sel, value] of [['#chk-chip', 'nvidia-h100-sxm'], ['#chk-quantity', '10'], ['#chk-destination', 'MY'], ['#chk-consignee', 'X Sdn Bhd'], ['#chk-hq', 'MY'], ['#chk-date', '2025-06-01']]) await p.fill(sel, value);
    await p.click('#chk-submit');
    await p.waitForSelector('#determination');
    assert.equal(await p.getAttribute('#det-authorization', 'data-authorization'), 'LPP');
    assert.equal(await p.locator('#record-shipment').count(), 0);
    assert.match(await p.textContent('#record-role-note'), /may not record shipments/);
    assert.ok(await p.locator('#license-form').isHidden());
    assert.match(await p.textContent('#license-role-note'), /may not record licenses/);
    assert.ok((await p.locator('#map path.country').count()) >= 150);
    await p.screenshot({ path: join(shots, '10-viewer-signed-in.png') });
    await p.close();
  } finally {
    s.stop();
  }
});
