// The screening panel (issue 14) and the check form's whole contract (issue 16), in real headless
// Chromium against a real `aidf serve`. What is asserted is read back from the server's answers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openDashboard, shots } from './harness.mjs';

let server, browser, page, errors;

before(async () => {
  ({ server, browser, page, errors } = await openDashboard(['--insecure-local']));
  await page.goto(`${server.base}/?date=2025-06-01`);
  await page.waitForSelector('body[data-ready="true"]');
});

after(async () => {
  await browser?.context.close();
  server?.stop();
});

const post = (path, body) => page.evaluate(([p, b]) => fetch(p, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(b) })
  .then((r) => r.json()), [path, body]);
const texts = (sel) => page.locator(sel).allTextContents();

test('the screening panel shows each hit: list, entry, score, verdict, the aligned name parts and the score\'s features', async () => {
  const query = { name: 'Huawei Technologies', country: 'CN', type: 'organization' };
  await page.fill('#scr-name', query.name);
  await page.fill('#scr-country', 'cn');
  await page.selectOption('#scr-type', query.type);
  await page.click('#scr-submit');
  await page.waitForSelector('#scr-verdict');
  const answer = await post('/v1/screen', query);
  assert.ok(answer.hits.length >= 2, 'the query has hits to show');
  assert.equal(await page.getAttribute('#scr-verdict', 'data-verdict'), answer.verdict);
  const hits = page.locator('#screen-result li.hit');
  assert.equal(await hits.count(), answer.hits.length);
  for (const [i, h] of answer.hits.entries()) {
    const li = hits.nth(i);
    assert.equal(await li.getAttribute('data-list'), h.entry.list_code);
    assert.equal(await li.getAttribute('data-verdict'), h.verdict);
    assert.equal(await li.locator('.hit-name').textContent(), h.entry.name);
    assert.equal(await li.locator('.hit-score').textContent(), h.score.toFixed(3));
  }
  // The best hit is open: its aligned parts, row by row, and its features.
  const best = answer.hits[0];
  const first = hits.first();
  assert.ok(await first.locator('details').evaluate((d) => d.open));
  const aligned = await first.locator('table').first().locator('tbody tr').allTextContents();
  assert.equal(aligned.length, best.explanation.aligned.length);
  for (const [i, a] of best.explanation.aligned.entries()) {
    assert.ok(aligned[i].startsWith(`${a.query}${a.entry}${a.latin}`), aligned[i]);
  }
  const features = await first.locator('table').nth(1).textContent();
  assert.ok(features.includes(`query coverage${best.explanation.query_coverage.toFixed(3)}`), features);
  assert.ok(features.includes(`specificity${best.explanation.specificity.toFixed(3)}`), features);
  for (const q of best.explanation.qualifiers) assert.ok(features.includes(q.detail), `${q.feature}: ${features}`);
  assert.match(await first.locator('.unmatched').textContent(), new RegExp(`listed: ${best.explanation.legal_forms_entry.join(', ')}\\.`));
  // The others open on demand (keyboard: the summary is a button).
  const second = hits.nth(1);
  assert.equal(await second.locator('details').evaluate((d) => d.open), false);
  await second.locator('summary').focus();
  await page.keyboard.press('Enter');
  assert.ok(await second.locator('details').evaluate((d) => d.open));
  await page.locator('#screen-section').screenshot({ path: join(shots, '30-screening-panel.png') });
});

// Errors land at the field the problem names (a data table: name, country, the field at fault).
const SCREEN_ERRORS = [
  ['Acme', 'USA', 'country', /`USA` \(expected an ISO 3166-1 alpha-2 code/],
  ['', '', 'name', /name/],
];

test('a screening error is shown at the field the problem names', async () => {
  for (const [name, country, field, message] of SCREEN_ERRORS) {
    await page.fill('#scr-name', name);
    await page.fill('#scr-country', country);
    await page.click('#scr-submit');
    await page.locator(`#err-scr-${field}`).waitFor({ state: 'visible' });
    assert.match(await page.textContent(`#err-scr-${field}`), message);
    assert.equal(await page.getAttribute(`#scr-${field}`, 'aria-invalid'), 'true');
    assert.equal(await page.locator('#screen-section .field-error:not([hidden])').count(), 1, 'only that field');
  }
  await page.fill('#scr-country', '');
});

// Fills the check form's fields in order (the item kind first), skipping those the kind hides.
async function fillCheck(values) {
  for (const [sel, value] of Object.entries(values)) {
    if (await page.locator(sel).isHidden()) continue;
    if (await page.locator(sel).evaluate((e) => e.tagName === 'SELECT')) await page.selectOption(sel, value);
    else if (typeof value === 'boolean') await page.setChecked(sel, value);
    else await page.fill(sel, value);
  }
}

/** Submits the check form; resolves with the body it sent. */
async function submitCheck() {
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.url().includes('/v1/determinations') && r.method() === 'POST'),
    page.click('#chk-submit'),
  ]);
  return request.postDataJSON();
}

const BASE = {
  '#chk-kind': 'chip', '#chk-chip': 'nvidia-h100-sxm', '#chk-quantity': '10', '#chk-destination': 'CN', '#chk-consignee': 'Huawei Technologies',
  '#chk-hq': 'CN', '#chk-parent-hq': '', '#chk-date': '2025-06-01', '#chk-exporter-name': '', '#chk-exporter-hq': '',
  '#chk-veu-kind': '', '#chk-veu-id': '', '#chk-transaction': 'export', '#chk-end-use': 'deployment',
  '#chk-end-user': '', '#chk-end-user-country': '', '#chk-purchaser': '', '#chk-purchaser-country': '', '#chk-parent': '', '#chk-value': '',
};

test('a determination\'s screening block is shown like the panel\'s hits', async () => {
  await fillCheck(BASE);
  const sent = await submitCheck();
  await page.waitForSelector('#det-screening');
  const answer = await post('/v1/determinations', sent);
  assert.equal(await page.getAttribute('#det-screening-verdict', 'data-verdict'), answer.screening.verdict);
  const party = answer.screening.parties[0];
  assert.equal(await page.getAttribute('#det-screening .party', 'data-role'), party.role);
  const shown = page.locator('#det-screening li.hit');
  assert.equal(await shown.count(), party.hits.length);
  for (const [i, h] of party.hits.entries()) {
    assert.equal(await shown.nth(i).getAttribute('data-list'), h.list);
    assert.equal(await shown.nth(i).locator('.hit-name').textContent(), h.entry);
  }
  const el = party.hits.find((h) => h.effect === 'entity_list');
  assert.ok(el, 'an Entity List hit');
  assert.match((await texts('#det-screening li.hit')).join('\n'), /effect: entity list/);
  assert.match(await shown.first().locator('table').first().textContent(), new RegExp(party.hits[0].explanation.aligned[0].query));
  await page.locator('#check-section').screenshot({ path: join(shots, '31-check-screening.png') });
});

// Each field of the contract, as the form sends it (a data table: the form's fields, the body).
const FIELDS = [
  ['transaction', { '#chk-transaction': 'reexport' }, (b) => b.transaction, 'reexport'],
  ['exporter', { '#chk-exporter-name': 'Acme Corp', '#chk-exporter-hq': 'us' }, (b) => b.exporter, { name: 'Acme Corp', hq: 'US' }],
  ['parent HQ', { '#chk-parent-hq': 'us' }, (b) => b.consignee.parent_hq, 'US'],
  ['VEU', { '#chk-veu-kind': 'nveu', '#chk-veu-id': 'NVEU-9' }, (b) => b.consignee.veu, { kind: 'nveu', id: 'NVEU-9' }],
  ['end use', { '#chk-end-use': 'military_intelligence' }, (b) => b.end_use, 'military_intelligence'],
  ['end user', { '#chk-end-user': 'Petronas Data', '#chk-end-user-country': 'my' }, (b) => b.end_user, { name: 'Petronas Data', country: 'MY' }],
  ['purchaser', { '#chk-purchaser': 'Acme Trading' }, (b) => b.purchaser, { name: 'Acme Trading' }],
  ['ultimate parent', { '#chk-parent': 'Acme Holdings' }, (b) => b.ultimate_parent, { name: 'Acme Holdings' }],
  ['value', { '#chk-value': '1250000.50' }, (b) => b.value_usd, '1250000.50'],
  ['HBM', { '#chk-kind': 'hbm', '#chk-hbm-bandwidth': '3300', '#chk-hbm-area': '110.5', '#chk-hbm-logic': true }, (b) => b.item, { hbm: { bandwidth_gbs: '3300', area_mm2: '110.5', logic_dominant: true } }],
  ['model weights', { '#chk-kind': 'model_weights', '#chk-mw-ops': '1e27', '#chk-mw-published': false, '#chk-quantity': '' }, (b) => [b.item, b.quantity], [{ model_weights: { published: false, training_ops: '1e27' } }, undefined]],
];

test('the check form sends every field of the contract, and each answer is the server\'s', async () => {
  for (const [what, values, pick, expected] of FIELDS) {
    await fillCheck({ ...BASE, '#chk-consignee': 'Acme Sdn Bhd', '#chk-destination': 'MY', '#chk-hq': 'MY', ...values });
    const sent = await submitCheck();
    assert.deepEqual(pick(sent), expected, what);
    await page.waitForSelector('#determination');
    const answer = await post('/v1/determinations', sent);
    await page.waitForFunction((a) => document.querySelector('#det-authorization')?.dataset.authorization === a, answer.authorization);
    assert.match(await page.textContent('#determination'), new RegExp(`ECCN ${answer.eccn ?? '—'}`), what);
  }
  // Only the selected kind's fields are shown.
  assert.ok(await page.locator('#chk-mw-ops').isVisible());
  assert.ok(await page.locator('#chk-chip').isHidden());
  assert.ok(await page.locator('#chk-hbm-area').isHidden());
});

// Errors land at the field the problem's `field` names, however deep (a data table).
const ERRORS = [
  [{ '#chk-parent-hq': 'ZZ' }, '#err-consignee-parent_hq', '#chk-parent-hq', /unknown country code `ZZ`/],
  [{ '#chk-exporter-hq': 'QQ' }, '#err-exporter-hq', '#chk-exporter-hq', /unknown country code `QQ`/],
  [{ '#chk-kind': 'hbm', '#chk-hbm-bandwidth': 'fast', '#chk-hbm-area': '100' }, '#err-item-hbm-bandwidth_gbs', '#chk-hbm-bandwidth', /`fast` is not a number/],
  [{ '#chk-kind': 'model_weights', '#chk-mw-ops': 'x' }, '#err-item-model_weights-training_ops', '#chk-mw-ops', /`x` is not a number/],
  [{ '#chk-value': '1.234' }, '#err-value_usd', '#chk-value', /fractions of a cent/],
  [{ '#chk-end-user': '   x', '#chk-end-user-country': 'QQ' }, '#err-end_user-country', '#chk-end-user-country', /QQ/],
  [{ '#chk-kind': 'model_weights', '#chk-mw-ops': '', '#chk-mw-parameters': '', '#chk-mw-tokens': '' }, '#err-item-model_weights-training_ops', '#chk-mw-ops', /required/],
];

test('a bad field of the check form shows its error at that field', async () => {
  for (const [values, errSel, inputSel, message] of ERRORS) {
    await fillCheck({ ...BASE, ...values });
    await page.click('#chk-submit');
    await page.locator(errSel).waitFor({ state: 'visible' });
    assert.match(await page.textContent(errSel), message);
    assert.equal(await page.getAttribute(inputSel, 'aria-invalid'), 'true', inputSel);
    assert.equal(await page.evaluate(() => document.activeElement.id), inputSel.slice(1), 'focus moves to the field');
    assert.ok(await page.locator('#err-check').isHidden(), 'not shown as a form-level error');
  }
  await page.locator('#check-form').screenshot({ path: join(shots, '32-check-field-error-deep.png') });
});

test('one Idempotency-Key per determination: a second click shows the first result and ships nothing more', async () => {
  await fillCheck({ ...BASE, '#chk-consignee': 'Acme Sdn Bhd', '#chk-destination': 'MY', '#chk-hq': 'MY', '#chk-quantity': '5' });
  await page.click('#chk-submit');
  await page.waitForSelector('#record-shipment');
  const keys = [];
  page.on('request', (r) => { if (r.url().endsWith('/v1/shipments') && r.method() === 'POST') keys.push(r.headers()['idempotency-key']); });
  await page.click('#record-shipment');
  await page.waitForSelector('#shipment-status');
  const first = await page.textContent('#shipment-result p');
  await page.click('#record-shipment');
  await page.waitForSelector('#shipment-again');
  assert.equal(keys.length, 2);
  assert.equal(keys[0], keys[1]);
  assert.ok((await page.textContent('#shipment-result p')).startsWith(first));
  const shipped = await page.evaluate(() => fetch('/v1/shipments?consignee=Acme%20Sdn%20Bhd').then((r) => r.json()));
  assert.equal(shipped.items.length, 1, 'one shipment recorded');
  // A new check is a new determination, with a new key.
  await page.click('#chk-submit');
  await page.waitForFunction(() => !document.querySelector('#shipment-status'));
  await page.click('#record-shipment');
  await page.waitForSelector('#shipment-status');
  assert.equal(keys.length, 3);
  assert.notEqual(keys[2], keys[0]);
  assert.deepEqual(errors, [], 'no page or console errors');
  assert.deepEqual(browser.offsite, [], 'no request left localhost');
});
