// Spawns `aidf serve` (the binary from `cargo build`) and Debian's Chromium via playwright-core.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, cpSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, '../..');
export const aidfBin = process.env.AIDF_BIN || join(root, 'target/debug/aidf');
export const shots = join(root, 'artifacts/screenshots');
mkdirSync(shots, { recursive: true });

export function tempDb() {
  return join(mkdtempSync(join(tmpdir(), 'aidf-e2e-')), 'aidf.db');
}

export function token(db, tenant, role) {
  const out = execFileSync(aidfBin, ['token', 'create', '--json', '--db', db, '--tenant', tenant, '--role', role]);
  return JSON.parse(out.toString()).token;
}

/** Starts `aidf serve` on a free port; resolves with {base, startupMs, stop}. */
export function startServer(db, extra = []) {
  const t0 = process.hrtime.bigint();
  const child = spawn(aidfBin, ['serve', '--addr', '127.0.0.1:0', '--db', db, ...extra], { stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((ok, fail) => {
    const rl = createInterface({ input: child.stdout });
    const timer = setTimeout(() => fail(new Error('aidf serve did not print its listening line in 10 s')), 10_000);
    child.on('exit', (code) => fail(new Error(`aidf serve exited with ${code}`)));
    rl.once('line', (line) => {
      clearTimeout(timer);
      const startupMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const m = /^listening on (http:\/\/\S+)$/.exec(line.trim());
      if (!m) return fail(new Error(`unexpected first line: ${line}`));
      ok({ base: m[1], startupMs, stop: () => child.kill('SIGKILL') });
    });
  });
}

export async function launch() {
  const userDataDir = mkdtempSync(join(tmpdir(), 'aidf-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // The page must need nothing from another host: fail any request that leaves localhost.
  const offsite = [];
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.hostname === '127.0.0.1' || u.protocol === 'data:') return route.continue();
    offsite.push(u.href);
    return route.abort();
  });
  return { context, offsite };
}

/**
 * A copy of the repository's policy with `allocation_consumption_event = license_issued` (the
 * [U] reading under which a pending application holds the allocation); pass it to `aidf serve`
 * with `--policy-dir`.
 */
export function issuancePolicy() {
  const dir = join(mkdtempSync(join(tmpdir(), 'aidf-policy-')), 'policy');
  cpSync(join(root, 'policy'), dir, { recursive: true });
  const file = join(dir, 'regimes/ai-diffusion-2025.toml');
  const from = '[switches.allocation_consumption_event]\nvalue = "shipped"';
  const text = readFileSync(file, 'utf8');
  if (!text.includes(from)) throw new Error(`${file} no longer reads the switch as "shipped"`);
  writeFileSync(file, text.replace(from, '[switches.allocation_consumption_event]\nvalue = "license_issued"'));
  return dir;
}

/**
 * A served dashboard in a fresh browser: `aidf serve` (with `args`), Chromium, one page whose page
 * errors and console errors (other than expected 4xx loads) are collected in `errors`.
 */
export async function openDashboard(args) {
  const server = await startServer(tempDb(), args);
  const browser = await launch();
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // Expected 4xx answers are logged by Chromium as "Failed to load resource"; anything else is a fault.
  page.on('console', (m) => { if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) errors.push(m.text()); });
  return { server, browser, page, errors };
}

// axe-core's source, evaluated in the page (the dashboard's CSP rightly refuses inline scripts;
// the DevTools protocol's evaluation is not a script tag, and changes no policy).
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * axe-core's serious and critical violations in the page (or in the element `selector` selects),
 * one line each: rule, impact, what it asks and the first nodes at fault.
 */
export async function seriousViolations(page, selector) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const result = await page.evaluate((sel) => window.axe.run(sel ? { include: [sel] } : document, { resultTypes: ['violations'] }), selector);
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.slice(0, 4).map((n) => n.target.join(' ')).join(' | ')}`);
}

/**
 * Whether the page scrolls sideways: the document's width against the viewport's, and the
 * elements of `selector` that stick out past the right edge (to say what to fix).
 */
export function sidewaysScroll(page, selector = 'body') {
  return page.evaluate((sel) => {
    const doc = document.documentElement;
    const width = doc.clientWidth;
    const out = [...document.querySelectorAll(`${sel} *`)]
      .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > width + 0.5)
      .filter((e) => !e.parentElement.closest('.table-wrap, .record, .map-wrap'))
      .slice(-5)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${e.className && typeof e.className === 'string' ? `.${e.className.split(' ').join('.')}` : ''} right ${Math.round(e.getBoundingClientRect().right)}`);
    return { scrollWidth: doc.scrollWidth, clientWidth: width, out };
  }, selector);
}
