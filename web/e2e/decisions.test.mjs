// Officers' decisions on possible screening hits and the tenant's thresholds (issue 14, items 3
// and 4), in real headless Chromium against a real `aidf serve`, signed in with tokens of each
// role. What is asserted is read back from the server's answers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launch, startServer, tempDb, token, shots, seriousViolations, sidewaysScroll } from './harness.mjs';

// A sibling of Huawei, not listed: possible hits only.
const SIBLING = 'Huawei Technologies Research Co., Ltd.';

let server, browser, tokens;
const errors = [];

before(async () => {
  const db = tempDb();
  tokens = Object.fromEntries(['viewer', 'officer', 'admin'].map((role) => [role, token(db, 'acme', role)]));
  server = await startServer(db);
  browser = await launch();
});

after(async () => {
  await browser?.context.close();
  server?.stop();
});

/** A page signed in with the role's token, its page and console errors collected. */
async function signIn(role) {
  const p = await browser.context.newPage();
  p.on('pageerror', (e) => errors.push(String(e)));
  p.on('console', (m) => { if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) errors.push(m.text()); });
  await p.goto(`${server.base}/`);
  await p.waitForSelector('#signin:not([hidden])');
  await p.fill('#token', tokens[role]);
  await p.click('#signin-form button');
  await p.waitForSelector('body[data-ready="true"]');
  assert.equal(await p.textContent('#role'), role);
  return p;
}

const call = (p, method, path, body) => p.evaluate(([m, path, b]) => fetch(path, {
  method: m, headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${sessionStorage.getItem('aidf.token')}` },
  body: b === undefined ? undefined : JSON.stringify(b),
}).then((r) => r.json()), [method, path, body]);

async function screen(p, name) {
  await p.fill('#scr-name', name);
  await p.click('#scr-submit');
  await p.waitForSelector('#scr-verdict');
}

const hitOf = (p, scope, entry) => p.locator(`${scope} li.hit`).filter({ has: p.locator(`xpath=self::*[@data-entry=${JSON.stringify(entry)}]`) });

test('an officer records "not the same party" on a possible hit: shown applied on the hit and listed', async () => {
  const p = await signIn('officer');
  await screen(p, SIBLING);
  const answer = await call(p, 'POST', '/v1/screen', { name: SIBLING });
  assert.equal(answer.verdict, 'possible_hit');
  const first = answer.hits[0];
  const entry = `${first.entry.list_code}:${first.entry_id}`;
  const forms = p.locator('#screen-result form.hit-decide');
  assert.equal(await forms.count(), answer.hits.filter((h) => h.verdict === 'possible_hit').length, 'a form on each possible hit');
  const hit = hitOf(p, '#screen-result', entry);
  const form = hit.locator('form.hit-decide');

  // Errors at their fields: no choice made, then no reason (the server's problem names `reason`).
  await form.locator('button[type=submit]').click();
  await form.locator('[id$="-decision"].field-error').waitFor({ state: 'visible' });
  await form.getByLabel('Not the same party').check();
  await form.locator('button[type=submit]').click();
  const reasonError = form.locator('[id$="-reason"].field-error');
  await reasonError.waitFor({ state: 'visible' });
  assert.match(await reasonError.textContent(), /reason/);
  assert.equal(await form.getByLabel('Reason').getAttribute('aria-invalid'), 'true');
  assert.equal(await forms.count(), answer.hits.filter((h) => h.verdict === 'possible_hit').length, 'nothing re-screened');

  const reason = 'A research arm in Shenzhen, not the listed UK entity';
  await form.getByLabel('Reason').fill(reason);
  await form.locator('button[type=submit]').click();
  const note = hitOf(p, '#screen-result', entry).locator('.hit-decision');
  await note.waitFor();
  assert.equal(await note.getAttribute('data-applied'), 'true');
  const decided = (await call(p, 'POST', '/v1/screen', { name: SIBLING })).hits[0].decision;
  assert.equal(decided.applied, true);
  assert.equal(await note.getAttribute('data-id'), decided.id);
  const text = await note.textContent();
  for (const part of [reason, decided.by, decided.note, 'not the same party']) assert.ok(text.includes(part), `${part}: ${text}`);
  assert.equal(await p.evaluate(() => document.activeElement.className), 'hit-decision', 'focus on the decision shown');

  // Listed: when, who, party, entry, decision, reason.
  const listed = await call(p, 'GET', '/v1/screen/decisions');
  assert.equal(listed.length, 1);
  const rows = p.locator('#screen-decisions tbody tr');
  assert.equal(await rows.count(), 1);
  const cells = await rows.first().locator('td').allTextContents();
  assert.deepEqual(cells.slice(1, 6), [listed[0].by, SIBLING, entry, 'not the same party', reason]);
  assert.ok(cells[0].startsWith(new Date(listed[0].at).toISOString().slice(0, 10)), cells[0]);

  // The check answer's screening block: the decision applied on that hit, and a form on the others.
  for (const [sel, value] of [['#chk-chip', 'nvidia-h100-sxm'], ['#chk-quantity', '10'], ['#chk-destination', 'SG'], ['#chk-consignee', SIBLING], ['#chk-hq', 'CN'], ['#chk-date', '2025-06-01']]) await p.fill(sel, value);
  await p.click('#chk-submit');
  await p.waitForSelector('#det-screening');
  await hitOf(p, '#det-screening', entry).locator('.hit-decision[data-applied="true"]').waitFor();
  const other = await p.locator('#det-screening li.hit:not(:has(.hit-decision))').first().getAttribute('data-entry');
  const otherForm = hitOf(p, '#det-screening', other).locator('form.hit-decide');
  await otherForm.getByLabel('Same party', { exact: true }).check();
  await otherForm.getByLabel('Reason').fill('Same address as the listed entry');
  await otherForm.locator('button[type=submit]').click();
  await hitOf(p, '#det-screening', other).locator('.hit-decision[data-applied="true"]').waitFor();
  assert.match(await hitOf(p, '#det-screening', other).locator('.hit-decision').textContent(), /same party.*Same address as the listed entry/s);
  await p.waitForFunction(() => document.querySelectorAll('#screen-decisions tbody tr').length === 2);

  assert.deepEqual(await seriousViolations(p, '#screen-section'), []);
  assert.deepEqual(await seriousViolations(p, '#check-section'), []);
  await p.locator('#screen-section').screenshot({ path: join(shots, '35-screening-decision.png') });
  await p.setViewportSize({ width: 390, height: 844 });
  for (const view of ['#screen-section', '#check-section']) {
    await p.locator(view).scrollIntoViewIfNeeded();
    const scroll = await sidewaysScroll(p, view);
    assert.ok(scroll.scrollWidth <= scroll.clientWidth && !scroll.out.length, `${view} at 390 px: ${JSON.stringify(scroll)}`);
  }
  await p.close();
});

test('a viewer sees the hits, their decisions and the list, but no decision form and no thresholds form', async () => {
  const p = await signIn('viewer');
  await screen(p, SIBLING);
  assert.ok(await p.locator('#screen-result li.hit[data-verdict="possible_hit"]').count() > 0);
  assert.equal(await p.locator('form.hit-decide').count(), 0);
  assert.match(await p.textContent('#decisions-role-note'), /may not decide on hits/);
  assert.ok(await p.locator('#screen-result .hit-decision').count() >= 1, 'the officer\'s decision is shown');
  assert.ok(await p.locator('#thresholds-form').isHidden());
  assert.match(await p.textContent('#thresholds-role-note'), /may not change the thresholds/);
  await p.close();
});

// Bad thresholds: the field the problem names shows the error (a data table).
const BAD_THRESHOLDS = [
  ['0.5', '0.6', 'possible', /above the clear threshold/],
  ['1.5', '0.6', 'clear', /`1.5` is not a decimal above 0 and at most 1/],
  ['0.9', 'x', 'possible', /`x` is not a decimal/],
];

test('an admin changes the thresholds; a bad one shows its error at its field', async () => {
  const p = await signIn('admin');
  assert.equal(await p.getAttribute('#thresholds-now', 'data-clear'), '0.88');
  for (const [clear, possible, field, message] of BAD_THRESHOLDS) {
    await p.fill('#thr-clear', clear);
    await p.fill('#thr-possible', possible);
    await p.click('#thr-submit');
    await p.locator(`#err-thr-${field}`).waitFor({ state: 'visible' });
    assert.match(await p.textContent(`#err-thr-${field}`), message);
    assert.equal(await p.getAttribute(`#thr-${field}`, 'aria-invalid'), 'true');
    assert.equal(await p.locator('#thresholds-form .field-error:not([hidden])').count(), 1, 'only that field');
  }
  assert.deepEqual(await seriousViolations(p, '#screen-section'), []);
  await p.fill('#thr-clear', '0.9');
  await p.fill('#thr-possible', '0.75');
  await p.click('#thr-submit');
  await p.waitForSelector('#thresholds-now[data-possible="0.75"]');
  const shown = await call(p, 'GET', '/v1/screen/thresholds');
  assert.deepEqual([shown.clear, shown.possible, shown.source], ['0.9', '0.75', 'tenant']);
  assert.equal(await p.getAttribute('#thresholds-now', 'data-clear'), '0.9');
  assert.match(await p.textContent('#thresholds-now'), new RegExp(`set by ${shown.set_by}`));
  assert.equal(await p.locator('#thresholds-form .field-error:not([hidden])').count(), 0);
  // The tenant's screens use them.
  await screen(p, SIBLING);
  assert.match(await p.textContent('#screening'), /thresholds: clear 0\.9, possible 0\.75/);
  await p.close();
  assert.deepEqual(errors, [], 'no page or console errors');
  assert.deepEqual(browser.offsite, [], 'no request left localhost');
});
