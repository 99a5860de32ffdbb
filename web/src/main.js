// aidf dashboard: vanilla JS over the /v1 API. Country shapes are Natural Earth (world-atlas),
// drawn with d3-geo; ISO numeric -> alpha-2 from i18n-iso-countries. Bundled by esbuild.
import { geoNaturalEarth1, geoPath } from 'd3-geo';
import { feature } from 'topojson-client';
import world from 'world-atlas/countries-110m.json';
import isoCodes from 'i18n-iso-countries/codes.json';

const $ = (sel) => document.querySelector(sel);
const TOKEN_KEY = 'aidf.token';
const H100 = 'nvidia-h100-sxm';
const ROLES = ['viewer', 'exporter', 'officer', 'admin', 'global_admin'];

const state = {
  me: null,
  countries: new Map(), // alpha-2 -> {code, name, tier, groups}
  chips: [],
  h100Tpp: null,
  selected: null,
  lastCheck: null, // {input, determination}
  lastScreen: null, // the body of the last POST /v1/screen
};

// ------------------------------------------------------------------ helpers

const fmt = (n) => (n == null ? '—' : Number(n).toLocaleString('en-US'));
const fmtH = (tpp) => (state.h100Tpp ? (tpp / state.h100Tpp).toLocaleString('en-US', { maximumFractionDigits: 1 }) : '—');
const today = () => new Date().toISOString().slice(0, 10);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c == null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) e.setAttribute(k, v);
  for (const c of children.flat()) if (c != null) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

async function api(method, path, body, headers = {}) {
  const h = { Accept: 'application/json', ...headers };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

const can = (role) => state.me && ROLES.indexOf(state.me.role) >= ROLES.indexOf(role);

// Form errors: the problem's `field` (e.g. `item.chip`, `sites[0].country`) names the control.
function clearErrors(form) {
  form.querySelectorAll('.field-error, .form-error').forEach((p) => { p.hidden = true; p.textContent = ''; });
  form.querySelectorAll('[aria-invalid]').forEach((i) => i.removeAttribute('aria-invalid'));
}

// The error paragraph for a problem's `field`: the field's own (`item.hbm.area_mm2` ->
// `err-item-hbm-area_mm2`), else its nearest enclosing one (`items[1].chip` -> `err-items`).
function fieldErrorFor(form, prefix, field) {
  const parts = field.replace(/\[\d+\]/g, '.').split('.').filter(Boolean);
  for (let n = parts.length; n > 0; n--) {
    const p = document.getElementById(`err-${prefix}${parts.slice(0, n).join('-')}`);
    if (p && form.contains(p)) return p;
  }
  return null;
}

function showError(form, prefix, formErrorId, err) {
  const field = err.problem?.field;
  const detail = err.problem?.detail || err.message;
  const p = field ? fieldErrorFor(form, prefix, field) : null;
  if (p) {
    p.textContent = detail;
    p.hidden = false;
    const input = p.closest('.field')?.querySelector('input, select');
    if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
    return;
  }
  const formError = document.getElementById(formErrorId);
  formError.textContent = detail;
  formError.hidden = false;
}

// A table in its own horizontally scrolling region (focusable, so the keyboard can scroll it):
// a wide table scrolls by itself on a narrow screen instead of the page.
function table(headers, rows, caption) {
  const label = caption || headers.map((h) => h.label ?? h).join(', ');
  return el('div', { class: 'table-wrap', role: 'region', tabindex: '0', 'aria-label': label },
    el('table', {},
      caption ? el('caption', { class: 'muted', text: caption }) : null,
      el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col', class: h.num ? 'num' : null, text: h.label ?? h })))),
      el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c, i) => el('td', { class: headers[i]?.num ? 'num' : null }, c)))))));
}

function capBar(label, posted, pending, cap) {
  const pct = cap ? Math.min(100, (posted + pending) / cap * 100) : 0;
  const bar = el('div', {
    class: pending ? 'bar pending' : 'bar', role: 'meter', 'aria-label': label,
    'aria-valuemin': '0', 'aria-valuemax': String(cap), 'aria-valuenow': String(posted + pending),
    'aria-valuetext': `${fmt(posted + pending)} of ${fmt(cap)} (${pct.toFixed(1)}%)`,
  }, el('span'));
  bar.firstChild.style.width = `${pct}%`;
  return bar;
}

// ------------------------------------------------------------------ session

async function boot() {
  wire();
  try {
    state.me = await api('GET', '/v1/whoami');
  } catch (e) {
    if (e.status === 401) { showSignin(sessionStorage.getItem(TOKEN_KEY) ? 'That token was not accepted.' : null); return; }
    showSignin(e.message);
    return;
  }
  await start();
}

function showSignin(message) {
  $('#signin').hidden = false;
  $('#main').hidden = true;
  $('#session').textContent = '';
  const p = $('#err-token');
  p.hidden = !message;
  p.textContent = message || '';
  $('#token').focus();
}

async function start() {
  $('#signin').hidden = true;
  $('#main').hidden = false;
  const me = state.me;
  $('#session').replaceChildren(...[
    me.insecure_local
      ? el('span', { class: 'badge warn', text: 'insecure local mode (no authentication)' })
      : el('span', {}, 'Tenant ', el('strong', { text: me.tenant }), ' · role ', el('strong', { id: 'role', text: me.role })),
    me.insecure_local ? null : el('button', { type: 'button', class: 'secondary', id: 'signout', onclick: signOut, text: 'Sign out' }),
  ].filter(Boolean));
  applyRole();
  const [chips, regimes] = await Promise.all([api('GET', '/v1/chips'), api('GET', '/v1/regimes')]);
  state.chips = chips;
  state.h100Tpp = chips.find((c) => c.id === H100)?.tpp ?? null;
  $('#chip-list').replaceChildren(...chips.map((c) => el('option', { value: c.id, label: `${c.name}${c.tpp ? ` · TPP ${fmt(c.tpp)}` : ''}` })));
  $('#map-regime').append(...regimes.regimes.map((r) => el('option', { value: r.id, text: `${r.id} — ${r.title}` })));
  const params = new URLSearchParams(location.search);
  $('#map-date').value = params.get('date') || today();
  if (params.get('regime')) $('#map-regime').value = params.get('regime');
  if (params.get('posture')) $('#map-posture').value = params.get('posture');
  $('#chk-date').value = $('#map-date').value;
  $('#app-as-of').value = today();
  $('#app-date').value = today();
  if (!$('#app-items').children.length) addItemRow();
  setupReports();
  await Promise.all([loadMap(), loadAccounts(), loadRecords(), loadRegister(), loadApplications(), loadDue(), loadAudit(), loadDecisions(), loadThresholds()]);
  document.body.dataset.ready = 'true';
}

function applyRole() {
  // Every role checks (stateless); recording a shipment needs an exporter.
  const exporter = can('exporter');
  const note = $('#chk-role-note');
  note.hidden = exporter;
  note.textContent = exporter ? '' : `Your role (${state.me.role}) checks without recording; an exporter token can record shipments.`;
  $('#app-submit').disabled = !can('officer');
  $('#app-role-note').hidden = can('officer');
  $('#app-role-note').textContent = can('officer') ? '' : `Your role (${state.me.role}) may not file applications; an officer token can.`;
  const admin = can('admin');
  $('#thresholds-form').hidden = !admin;
  $('#thresholds-role-note').hidden = admin;
  $('#thresholds-role-note').textContent = admin ? '' : `Your role (${state.me.role}) may not change the thresholds; an admin token can.`;
  $('#decisions-role-note').hidden = can('officer');
  $('#decisions-role-note').textContent = can('officer') ? '' : `Your role (${state.me.role}) may not decide on hits; an officer token can.`;
  for (const [form, noteId, what] of [['#license-form', '#license-role-note', 'licenses'], ['#veu-form', '#veu-role-note', 'validated end users']]) {
    const ok = can('officer');
    $(form).hidden = !ok;
    $(noteId).hidden = ok;
    $(noteId).textContent = ok ? '' : `Your role (${state.me.role}) may not record ${what}; an officer token can.`;
  }
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
}

// ------------------------------------------------------------------ map

const TIERS = [
  { tier: 1, label: 'Tier 1', fill: '#cfe8d5', pattern: null },
  { tier: 2, label: 'Tier 2', fill: '#f2c46d', pattern: 'stripes' },
  { tier: 3, label: 'Tier 3', fill: '#8e1b2b', pattern: 'cross' },
  { tier: null, label: 'No tier / no data', fill: '#ffffff', pattern: 'dots' },
];
const tierKey = (t) => (t == null ? 'none' : String(t));

function patternDefs() {
  // Each tier has its own colour AND texture, so the map reads in grayscale too.
  const defs = svg('defs');
  for (const t of TIERS) {
    const id = `tier-${tierKey(t.tier)}`;
    const p = svg('pattern', { id, patternUnits: 'userSpaceOnUse', width: 6, height: 6, patternTransform: t.pattern === 'stripes' ? 'rotate(45)' : null });
    p.append(svg('rect', { width: 6, height: 6, fill: t.fill }));
    if (t.pattern === 'stripes') p.append(svg('rect', { width: 2, height: 6, fill: '#6b4a00' }));
    if (t.pattern === 'cross') p.append(svg('path', { d: 'M0,0L6,6M6,0L0,6', stroke: '#fff', 'stroke-width': 1.1 }));
    if (t.pattern === 'dots') p.append(svg('circle', { cx: 3, cy: 3, r: 0.8, fill: '#777' }));
    defs.append(p);
  }
  return defs;
}

const numericToAlpha2 = new Map(isoCodes.map(([a2, , num]) => [num, a2]));
const NO_ID = { Kosovo: 'XK', 'N. Cyprus': 'CY', Somaliland: 'SO' };

function alpha2Of(f) {
  if (f.id != null && numericToAlpha2.has(String(f.id).padStart(3, '0'))) return numericToAlpha2.get(String(f.id).padStart(3, '0'));
  return NO_ID[f.properties?.name] || null;
}

let mapBuilt = false;
let tierLabels = null;

function buildMap() {
  const land = feature(world, world.objects.countries);
  const width = 960, height = 500;
  const projection = geoNaturalEarth1().fitSize([width, height], { type: 'Sphere' });
  const path = geoPath(projection);
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'group', 'aria-label': 'World map of tiers. Arrow keys move between countries, Enter shows one' });
  root.append(patternDefs());
  root.append(svg('path', { d: path({ type: 'Sphere' }), fill: '#e8f0f8', stroke: '#999' }));
  const g = svg('g', { class: 'countries', tabindex: '-1' });
  tierLabels = svg('g', { class: 'tier-labels', 'aria-hidden': 'true' });
  for (const f of land.features) {
    const cc = alpha2Of(f);
    const p = svg('path', { d: path(f), class: 'country', 'data-cc': cc || '', 'data-name': f.properties?.name || '', tabindex: '-1', role: 'button' });
    g.append(p);
    // Tier number on larger countries: a label as well as colour and pattern.
    const [[x0, y0], [x1, y1]] = path.bounds(f);
    if ((x1 - x0) * (y1 - y0) > 900 && (x1 - x0) < width / 2) {
      const [cx, cy] = path.centroid(f);
      tierLabels.append(svg('text', { x: cx.toFixed(1), y: cy.toFixed(1), 'text-anchor': 'middle', class: 'tier-label', 'data-cc': cc || '' }));
    }
  }
  root.append(g, tierLabels);
  $('#map').replaceChildren(root);
  const tip = $('#map-tip');
  const describe = (p) => {
    const c = state.countries.get(p.dataset.cc);
    return c ? `${c.name} (${c.code}): ${c.tier ? `Tier ${c.tier}` : 'no tier'}${c.groups.length ? ` · ${c.groups.join(', ')}` : ''}` : p.dataset.name;
  };
  g.addEventListener('mousemove', (ev) => {
    const p = ev.target.closest('path.country');
    if (!p) { tip.hidden = true; return; }
    const box = $('#map').getBoundingClientRect();
    tip.textContent = describe(p);
    tip.style.left = `${ev.clientX - box.left + 12}px`;
    tip.style.top = `${ev.clientY - box.top + 12}px`;
    tip.hidden = false;
  });
  g.addEventListener('mouseleave', () => { tip.hidden = true; });
  g.addEventListener('click', (ev) => {
    const p = ev.target.closest('path.country');
    if (p?.dataset.cc) selectCountry(p.dataset.cc);
  });
  // Keyboard: the map is one tab stop (roving tabindex); arrow keys move between countries in
  // name order, Home/End jump to the ends, Enter or Space selects.
  const order = [...g.querySelectorAll('path.country')].sort((a, b) => a.dataset.name.localeCompare(b.dataset.name));
  order[0].setAttribute('tabindex', '0');
  g.addEventListener('keydown', (ev) => {
    const p = ev.target.closest('path.country');
    if (!p) return;
    if (p.dataset.cc && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); selectCountry(p.dataset.cc); return; }
    const i = order.indexOf(p);
    const next = { ArrowRight: i + 1, ArrowDown: i + 1, ArrowLeft: i - 1, ArrowUp: i - 1, Home: 0, End: order.length - 1 }[ev.key];
    if (next === undefined) return;
    ev.preventDefault();
    const q = order[(next + order.length) % order.length];
    p.setAttribute('tabindex', '-1');
    q.setAttribute('tabindex', '0');
    q.focus();
    tip.textContent = describe(q);
    const box = $('#map').getBoundingClientRect();
    const r = q.getBoundingClientRect();
    tip.style.left = `${r.left - box.left + r.width / 2}px`;
    tip.style.top = `${r.top - box.top + r.height / 2}px`;
    tip.hidden = false;
  });
  g.addEventListener('focusout', () => { tip.hidden = true; });
  mapBuilt = true;
}

async function loadMap() {
  const date = $('#map-date').value;
  const err = $('#err-map-date');
  err.hidden = true;
  $('#map-date').removeAttribute('aria-invalid');
  const q = new URLSearchParams({ date, posture: $('#map-posture').value });
  if ($('#map-regime').value) q.set('regime', $('#map-regime').value);
  let data;
  try {
    data = await api('GET', `/v1/countries?${q}`);
  } catch (e) {
    showError($('#map-form'), 'map-', 'err-map-date', e);
    return;
  }
  state.countries = new Map(data.countries.map((c) => [c.code, c]));
  if (!mapBuilt) buildMap();
  let drawn = 0;
  for (const p of document.querySelectorAll('#map path.country')) {
    const c = state.countries.get(p.dataset.cc);
    const tier = c ? c.tier : null;
    p.setAttribute('fill', `url(#tier-${tierKey(tier)})`);
    p.dataset.tier = tier == null ? '' : String(tier);
    p.setAttribute('aria-label', c ? `${c.name}, ${tier ? `Tier ${tier}` : 'no tier'}` : `${p.dataset.name}, no data`);
    drawn += 1;
  }
  for (const t of tierLabels.querySelectorAll('text')) {
    const c = state.countries.get(t.dataset.cc);
    t.textContent = c?.tier ? String(c.tier) : '';
  }
  const counts = { 1: 0, 2: 0, 3: 0, none: 0 };
  for (const c of state.countries.values()) counts[tierKey(c.tier)] += 1;
  $('#legend').replaceChildren(...TIERS.map((t) => el('li', {},
    (() => { const s = svg('svg', { width: 28, height: 16, 'aria-hidden': 'true' }); s.append(svg('rect', { width: 28, height: 16, fill: `url(#tier-${tierKey(t.tier)})` })); return s; })(),
    `${t.label} (${counts[tierKey(t.tier)]} codes)`)));
  $('#map-status').textContent = `${data.regime.id} · ${data.posture} · ${data.date} · ${drawn} countries drawn`;
  $('#map').dataset.drawn = String(drawn);
  const find = $('#map-find');
  if (find.options.length <= 1) {
    find.append(...[...state.countries.values()].sort((a, b) => a.name.localeCompare(b.name)).map((c) => el('option', { value: c.code, text: `${c.name} (${c.code})` })));
    $('#country-list').replaceChildren(...[...state.countries.values()].map((c) => el('option', { value: c.code, label: c.name })));
  }
  if (state.selected) selectCountry(state.selected, false);
}

async function selectCountry(cc, focus = true) {
  state.selected = cc;
  document.querySelectorAll('#map path.country.selected').forEach((p) => p.classList.remove('selected'));
  document.querySelectorAll(`#map path.country[data-cc="${cc}"]`).forEach((p) => p.classList.add('selected'));
  const c = state.countries.get(cc);
  const box = $('#country-detail');
  if (!c) { box.replaceChildren(el('p', { text: `No data for ${cc}` })); return; }
  const key = `country:${cc}:2025-2027`;
  const [acct, hist, lics, veus] = await Promise.all([
    api('GET', `/v1/accounts/${encodeURIComponent(key)}`).catch(() => null),
    api('GET', `/v1/accounts/${encodeURIComponent(key)}/history`).catch(() => []),
    api('GET', '/v1/licenses').catch(() => []),
    api('GET', '/v1/veus').catch(() => []),
  ]);
  const tierBadge = el('span', { class: `badge t${c.tier ?? ''}`, text: c.tier ? `Tier ${c.tier}` : 'No tier' });
  const alloc = acct
    ? el('div', {},
      capBar(`${cc} allocation used`, acct.balance.posted, acct.balance.pending, acct.balance.cap),
      el('p', {}, `Used ${fmt(acct.balance.posted + acct.balance.pending)} TPP (${fmtH(acct.balance.posted + acct.balance.pending)} H100-eq.); `,
        `remaining ${fmt(acct.balance.available)} TPP (${fmtH(acct.balance.available)} H100-eq.) of ${fmt(acct.balance.cap)}.`),
      historyChart(hist, acct.balance.cap))
    : el('p', { class: 'muted', text: 'No allocation account yet for 2025–2027 (opened at the first shipment that draws on it).' });
  const shipments = hist.filter((e) => e.kind !== 'open' && e.meta?.determination_id).slice(-8).reverse();
  const myLics = lics.filter((l) => l.destination_country === cc);
  const myVeus = veus.filter((v) => v.sites.some((s) => s.country === cc));
  box.replaceChildren(
    el('h3', {}, `${c.name} (${cc}) `, tierBadge),
    el('p', {}, 'Country groups: ', c.groups.length ? c.groups.join(', ') : 'none'),
    el('div', { class: 'cols' },
      el('div', {}, el('h4', { text: 'Allocation 2025–2027' }), alloc),
      el('div', {},
        el('h4', { text: 'Recent shipments' }),
        shipments.length ? table(['Shipment', { label: 'TPP', num: true }, 'Business date'], shipments.map((e) => [local(String(e.meta.determination_id)), fmt(e.posted_delta + e.pending_delta), businessDate(e)])) : el('p', { class: 'muted', text: 'None recorded.' }),
        el('h4', { text: 'Licenses' }),
        myLics.length ? table(['Id', 'Consignee', { label: 'TPP cap', num: true }, 'Expires'], myLics.map((l) => [l.id, l.consignee, fmt(l.tpp_cap), l.expires_on])) : el('p', { class: 'muted', text: 'None.' }),
        el('h4', { text: 'Validated end users' }),
        myVeus.length ? table(['Id', 'Kind', 'Owner'], myVeus.map((v) => [v.id, v.kind.toUpperCase(), v.owner])) : el('p', { class: 'muted', text: 'None.' }))));
  if (focus) box.focus();
}

// An entry's business date: the shipment's date; for an entry no shipment made (an expiry, an
// opening), the UTC date it was recorded.
const businessDate = (e) => e.business_date || new Date(e.at).toISOString().slice(0, 10);
const DAY_MS = 86_400_000;

// Cumulative use by business date, with the cap, as a small SVG step chart: the entries that move
// the balance, in business-date order (a backdated shipment lands on its own date).
function historyChart(entries, cap) {
  const W = 540, H = 160, L = 96, R = 10, T = 10, B = 24;
  const moves = entries.filter((e) => e.posted_delta || e.pending_delta)
    .map((e) => ({ date: businessDate(e), delta: e.posted_delta + e.pending_delta, seq: e.seq }))
    .sort((a, b) => a.date.localeCompare(b.date) || a.seq - b.seq);
  if (!moves.length) return el('p', { class: 'muted', text: 'No history.' });
  let used = 0;
  const pts = moves.map((m) => [Date.parse(`${m.date}T00:00:00Z`), (used += m.delta)]);
  const first = moves[0].date, last = moves[moves.length - 1].date;
  const t0 = pts[0][0], t1 = Math.max(pts[pts.length - 1][0], t0 + DAY_MS);
  const x = (t) => L + (t - t0) / (t1 - t0) * (W - L - R);
  const y = (v) => T + (1 - v / (cap || 1)) * (H - T - B);
  let d = `M${x(pts[0][0])},${y(pts[0][1])}`;
  for (let i = 1; i < pts.length; i++) d += `H${x(pts[i][0])}V${y(pts[i][1])}`;
  d += `H${x(t1)}`;
  return svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'data-from': first, 'data-to': last,
    'aria-label': `Allocation used by business date, ${first} to ${last}: ${fmt(used)} of ${fmt(cap)} TPP` },
  svg('line', { x1: L, x2: W - R, y1: y(cap), y2: y(cap), class: 'cap' }),
  svg('text', { x: L - 4, y: y(cap) + 3, 'text-anchor': 'end' }, `cap ${fmt(cap)}`),
  svg('line', { x1: L, x2: W - R, y1: y(0), y2: y(0), stroke: '#999' }),
  svg('text', { x: L - 4, y: y(0) + 3, 'text-anchor': 'end' }, '0'),
  svg('path', { d, class: 'used' }),
  svg('text', { x: L, y: H - 6 }, first),
  svg('text', { x: W - R, y: H - 6, 'text-anchor': 'end' }, last === first ? '' : last));
}

// ------------------------------------------------------------------ check form

// The item in the form the kind selects: a catalog chip, an HBM device or model weights.
// Numbers are sent as typed (strings), so the server reads them exactly and names the field.
function checkItem(v) {
  const kind = v('#chk-kind');
  if (kind === 'hbm') {
    return { hbm: { bandwidth_gbs: v('#chk-hbm-bandwidth'), area_mm2: v('#chk-hbm-area'), logic_dominant: $('#chk-hbm-logic').checked } };
  }
  if (kind === 'model_weights') {
    const w = { published: $('#chk-mw-published').checked };
    for (const [key, id] of [['training_ops', '#chk-mw-ops'], ['parameters', '#chk-mw-parameters'], ['tokens', '#chk-mw-tokens']]) {
      if (v(id)) w[key] = v(id);
    }
    return { model_weights: w };
  }
  return { chip: v('#chk-chip') };
}

function checkInput() {
  const v = (id) => $(id).value.trim();
  const upper = (id) => v(id).toUpperCase();
  const qty = v('#chk-quantity');
  const input = {
    date: v('#chk-date'),
    posture: v('#chk-posture'),
    transaction: v('#chk-transaction'),
    destination: upper('#chk-destination'),
    consignee: { name: v('#chk-consignee'), hq: upper('#chk-hq') },
    end_use: v('#chk-end-use'),
    item: checkItem(v),
  };
  if (v('#chk-exporter-name') || v('#chk-exporter-hq')) {
    input.exporter = {};
    if (v('#chk-exporter-name')) input.exporter.name = v('#chk-exporter-name');
    if (v('#chk-exporter-hq')) input.exporter.hq = upper('#chk-exporter-hq');
  }
  if (v('#chk-parent-hq')) input.consignee.parent_hq = upper('#chk-parent-hq');
  if (v('#chk-veu-kind')) input.consignee.veu = { kind: v('#chk-veu-kind'), id: v('#chk-veu-id') };
  // Other parties, screened like the consignee; a country only where one is given.
  for (const [key, name, country] of [['end_user', '#chk-end-user', '#chk-end-user-country'],
    ['purchaser', '#chk-purchaser', '#chk-purchaser-country'], ['ultimate_parent', '#chk-parent', null]]) {
    if (!v(name)) continue;
    input[key] = { name: v(name) };
    if (country && v(country)) input[key].country = upper(country);
  }
  // Sent as typed text: the server reads dollars exactly and names the field if it cannot.
  if (v('#chk-value')) input.value_usd = v('#chk-value');
  // Sent as typed when it is not a whole number, so the server's error names the field; left
  // out when empty (model weights need none; a chip without one is told it is required).
  if (qty) input.quantity = /^-?\d+$/.test(qty) ? Number(qty) : qty;
  return input;
}

// Shows the fields of the selected kind of item only.
function showItemKind() {
  const kind = $('#chk-kind').value;
  document.querySelectorAll('#check-form [data-kind]').forEach((f) => { f.hidden = f.dataset.kind !== kind; });
}

const AUTH_TEXT = {
  license: 'License required', AIA: 'License Exception AIA', LPP: 'License Exception LPP', ACM: 'License Exception ACM',
  ACA: 'License Exception ACA', NAC: 'License Exception NAC', UVEU: 'Universal VEU', NVEU: 'National VEU',
  NLR: 'No license required', not_controlled: 'Not controlled',
};
const REVIEW_TEXT = { approval: 'presumption of approval', denial: 'presumption of denial', case_by_case: 'case-by-case review' };

function renderDetermination(d) {
  return el('div', { id: 'determination' },
    el('p', { class: 'headline' },
      el('span', { class: `badge ${d.license_required ? 'warn' : 'ok'}`, id: 'det-authorization', 'data-authorization': d.authorization, text: AUTH_TEXT[d.authorization] || d.authorization }),
      d.review_policy ? el('span', {}, ' · ', el('strong', { id: 'det-review', text: REVIEW_TEXT[d.review_policy] || d.review_policy })) : null),
    el('p', {},
      `ECCN ${d.eccn ?? '—'} · destination ${d.destination} (Tier ${d.destination_tier ?? '—'}) · consignee Tier ${d.consignee_tier ?? '—'} · `,
      `${fmt(d.quantity)} × ${fmt(d.unit_tpp)} = ${fmt(d.total_tpp)} TPP (${fmt(d.h100_equivalents)} H100-eq.)`),
    el('p', { id: 'det-counts' }, 'Draws on: ', d.counts_against.length ? d.counts_against.map((c) => c.replace(/_/g, ' ')).join(', ') : 'no cap'),
    d.obligations?.length ? el('p', {}, 'Obligations: ', d.obligations.map((o) => typeof o === 'string' ? o : (o.detail || o.kind || JSON.stringify(o))).join('; ')) : null,
    el('h4', { text: 'Reasons' }),
    table(['Rule', 'Detail', 'Citation'], d.reasons.map((r) => [el('code', { text: r.rule }), r.detail, r.citation]), 'Reasons, in the order the rules applied'),
    d.assumptions?.length ? [el('h4', { text: 'Assumptions (unconfirmed readings)' }),
      table(['Switch', 'Value', 'Detail'], d.assumptions.map((a) => [el('code', { text: a.switch }), String(a.value), a.detail]))] : null,
    el('p', { class: 'muted' }, `Regime ${d.regime.id} (${d.regime.posture}, ${d.regime.date}) ${d.regime.digest.slice(0, 19)}…`),
    renderDeterminationScreening(d.screening));
}

async function onCheck(ev) {
  ev.preventDefault();
  const form = $('#check-form');
  clearErrors(form);
  const input = checkInput();
  const out = $('#check-result');
  out.replaceChildren(el('p', { class: 'status', text: 'Checking…' }));
  try {
    showCheck(input, await api('POST', '/v1/determinations', input));
  } catch (e) {
    out.replaceChildren();
    showError(form, '', 'err-check', e);
  }
}

// A determination's answer: a new determination, so a new Idempotency-Key for its recording.
function showCheck(input, d) {
  state.lastCheck = { input, determination: d, key: `web-${crypto.randomUUID()}` };
  // Recording is offered only to a role that may record; any other check stays stateless.
  $('#check-result').replaceChildren(renderDetermination(d),
    can('exporter')
      ? el('button', { type: 'button', id: 'record-shipment', onclick: onRecord }, 'Record as shipment')
      : el('p', { class: 'role-note', id: 'record-role-note', text: `Not recorded: your role (${state.me.role}) may not record shipments.` }),
    el('div', { id: 'shipment-result', 'aria-live': 'polite' }));
}

// The last check again (after a decision on one of its screening hits).
async function checkAgain() {
  const { input } = state.lastCheck;
  try {
    showCheck(input, await api('POST', '/v1/determinations', input));
  } catch (e) {
    $('#check-result').replaceChildren(el('p', { class: 'form-error', role: 'alert', text: e.message }));
  }
}

async function onRecord() {
  const { input, key } = state.lastCheck;
  const btn = $('#record-shipment');
  btn.disabled = true;
  const box = $('#shipment-result');
  try {
    // One Idempotency-Key per determination: a second click (or a retry) replays the first
    // recording instead of shipping twice, and shows that first result again.
    const s = await api('POST', '/v1/shipments', input, { 'Idempotency-Key': key });
    const again = state.lastCheck.recorded === s.shipment_id;
    state.lastCheck.recorded = s.shipment_id;
    box.replaceChildren(el('p', {},
      el('span', { class: `badge ${s.status === 'authorized' ? 'ok' : 'bad'}`, id: 'shipment-status', text: s.status === 'authorized' ? 'Recorded: authorized' : 'Recorded: refused' }),
      ` shipment ${local(s.shipment_id)}`, s.license_id ? ` under license ${local(s.license_id)}` : '',
      s.refusal ? el('span', { class: 'refusal' }, ` — ${s.refusal}`) : '',
      again ? el('span', { id: 'shipment-again', text: ' (already recorded for this check: the first result)' }) : ''),
    s.entries.length ? table(['Account', { label: 'Amount', num: true }, { label: 'Available after', num: true }],
      s.entries.map((e) => [e.account, fmt(e.result?.amount), fmt(e.balance_after?.available)])) : null);
    btn.disabled = false;
    await Promise.all([loadAccounts(), loadAudit(), loadRegister(), state.selected ? selectCountry(state.selected, false) : null]);
  } catch (e) {
    box.replaceChildren(el('p', { class: 'form-error', role: 'alert', text: e.message }));
    btn.disabled = false;
  }
}

// ------------------------------------------------------------------ screening (issue 14)

const VERDICT_TEXT = { clear_hit: 'clear hit', possible_hit: 'possible hit', no_match: 'no match' };
const VERDICT_BADGE = { clear_hit: 'bad', possible_hit: 'warn', no_match: 'ok' };
const score3 = (x) => (x == null ? '—' : Number(x).toFixed(3));

function verdictBadge(verdict, attrs = {}) {
  return el('span', { class: `badge ${VERDICT_BADGE[verdict] || ''}`, 'data-verdict': verdict, ...attrs, text: VERDICT_TEXT[verdict] || verdict });
}

// A hit of `POST /v1/screen` (its entry in full) or of a determination's `screening` block (the
// entry's name, list and effect): the same view of both.
function hitView(h) {
  if (typeof h.entry === 'string') {
    return { list: h.list, name: h.entry, effect: h.effect, source: h.list_version, citations: h.federal_register || [] };
  }
  const e = h.entry || {};
  return { list: e.list_code, name: e.name, effect: null, source: e.source, citations: (e.federal_register || []).map((f) => f.text) };
}

// The score's features: coverage on both sides, specificity, and each qualifier's factor.
function scoreFeatures(x) {
  const rows = [
    ['query coverage', score3(x.query_coverage), 'share of the queried name\'s weight aligned'],
    ['entry coverage', score3(x.entry_coverage), 'share of the listed name\'s weight aligned'],
    ['specificity', score3(x.specificity), 'rarity the aligned parts carry'],
    ...(x.qualifiers || []).map((q) => [q.feature.replace(/_/g, ' '), `× ${score3(q.factor)}`, q.detail]),
  ];
  return table(['Feature', { label: 'Value', num: true }, 'Detail'], rows, 'What the score is made of');
}

function alignedParts(x) {
  const rows = (x.aligned || []).map((a) => [a.query, a.entry, a.latin, a.how.replace(/_/g, ' '), score3(a.similarity), `${a.weight_query} / ${a.weight_entry}`]);
  const words = (list) => (list?.length ? list.join(', ') : 'none');
  return [
    rows.length
      ? table(['Queried part', 'Listed part', 'Compared as', 'How', { label: 'Similarity', num: true }, { label: 'Weight (query / list)', num: true }], rows, 'Aligned name parts')
      : el('p', { class: 'muted', text: 'No name parts aligned.' }),
    el('p', { class: 'unmatched' }, `Unmatched, queried: ${words(x.unmatched_query)}; listed: ${words(x.unmatched_entry)}. `,
      `Legal forms set aside, queried: ${words(x.legal_forms_query)}; listed: ${words(x.legal_forms_entry)}.`),
  ];
}

// `ctx` (optional): where the hits were screened, for an officer's decision on a possible hit:
// `{ scope, party, rerun }`, the ids' prefix, the party's name as screened and what re-screens.
function renderHit(h, open, ctx, i) {
  const v = hitView(h);
  const x = h.explanation || {};
  const ref = h.entry_id && v.list ? `${v.list}:${h.entry_id}` : null;
  const decidable = ctx && ref && h.verdict === 'possible_hit' && can('officer');
  return el('li', { class: 'hit', 'data-list': v.list || '', 'data-verdict': h.verdict, 'data-entry': ref },
    el('details', { open: open || (h.decision ? true : null) },
      el('summary', {}, verdictBadge(h.verdict), ' ', el('strong', { class: 'hit-name', text: v.name || h.matched_name }),
        ` · list ${v.list || '—'} · score `, el('span', { class: 'hit-score', text: score3(h.score) }),
        h.decision ? [' · ', decisionBadge(h.decision)] : null),
      h.decision ? decisionNote(h.decision) : null,
      el('p', {}, `Matched ${h.matched_alias ? 'alias' : 'name'}: `, el('q', { text: h.matched_name }),
        v.effect ? ` · effect: ${v.effect.replace(/_/g, ' ')}` : '', v.source ? ` · ${v.source}` : ''),
      v.citations.length ? el('p', { class: 'muted', text: `Federal Register: ${v.citations.join('; ')}` }) : null,
      decidable ? hitDecisionForm(`hd-${ctx.scope}-${i}-`, ref, v.name || h.matched_name, ctx) : null,
      alignedParts(x),
      scoreFeatures(x)));
}

function renderHits(hits, label, ctx) {
  if (!hits.length) return el('p', { class: 'muted no-hits', text: 'No hits at or above the possible-hit threshold.' });
  return el('ol', { class: 'hits', 'aria-label': label }, hits.map((h, i) => renderHit(h, i === 0, ctx, i)));
}

// ------------------------------------------------------------------ screening decisions

const DECISION_TEXT = { not_the_same_party: 'not the same party', same_party: 'same party' };
const when = (ms) => new Date(ms).toISOString().replace('T', ' ').slice(0, 16);

function decisionBadge(d) {
  return el('span', { class: `badge ${d.applied ? 'ok' : 'warn'}`, 'data-applied': String(d.applied),
    text: `${d.applied ? 'decided' : 'decision not applied'}: ${DECISION_TEXT[d.decision] || d.decision}` });
}

// An officer's decision on a hit: who, when, why, and whether it applies (the server's note).
function decisionNote(d) {
  return el('p', { class: 'hit-decision', 'data-applied': String(d.applied), 'data-id': d.id, tabindex: '-1' },
    el('strong', { text: `Decision: ${DECISION_TEXT[d.decision] || d.decision}` }),
    ` by ${d.by}, ${when(d.at)} UTC. Reason: `, el('q', { class: 'decision-reason', text: d.reason }), '. ',
    el('span', { class: 'decision-note', text: d.note }));
}

// "Not the same party" / "Same party" with a required reason; ids start with `prefix`.
function hitDecisionForm(prefix, ref, name, ctx) {
  const form = el('form', { class: 'hit-decide', novalidate: true, 'aria-label': `Decide on ${name}` },
    el('fieldset', { class: 'decision-choice', 'aria-describedby': `err-${prefix}decision` },
      el('legend', { text: `Is ${ctx.party} this listed party?` }),
      ['not_the_same_party', 'same_party'].map((value) => el('label', {},
        el('input', { type: 'radio', name: `${prefix}decision`, value }), ` ${value === 'same_party' ? 'Same party' : 'Not the same party'}`)),
      el('p', { class: 'field-error', id: `err-${prefix}decision`, role: 'alert', hidden: true })),
    el('div', { class: 'field' },
      el('label', { for: `${prefix}reason`, text: 'Reason' }),
      el('input', { id: `${prefix}reason`, class: 'decision-reason-input', autocomplete: 'off', required: true, 'aria-describedby': `err-${prefix}reason` }),
      el('p', { class: 'field-error', id: `err-${prefix}reason`, role: 'alert', hidden: true })),
    el('p', { class: 'form-error', id: `err-${prefix}form`, role: 'alert', hidden: true }),
    el('button', { type: 'submit', class: 'decide-hit', text: 'Record decision' }));
  form.addEventListener('submit', (ev) => onHitDecision(ev, form, prefix, ref, ctx));
  return form;
}

async function onHitDecision(ev, form, prefix, ref, ctx) {
  ev.preventDefault();
  clearErrors(form);
  const decision = form.querySelector('input[type=radio]:checked')?.value;
  if (!decision) {
    showError(form, prefix, `err-${prefix}form`, new ApiError(422, { field: 'decision', detail: 'Choose "Not the same party" or "Same party".' }));
    return;
  }
  const body = { party: ctx.party, entry: ref, decision, reason: $(`#${prefix}reason`).value.trim() };
  try {
    await api('POST', '/v1/screen/decisions', body);
  } catch (e) {
    showError(form, prefix, `err-${prefix}form`, e);
    return;
  }
  // The panel shows the same tenant's decisions: screened again too when the decision came from a check.
  const panel = ctx.rerun !== screenAgain && state.lastScreen ? screenAgain() : null;
  await Promise.all([ctx.rerun(), panel, loadDecisions(), loadAudit()]);
  // The hit as screened again, its decision shown.
  const note = [...ctx.container().querySelectorAll('li.hit')].find((li) => li.dataset.entry === ref)?.querySelector('.hit-decision');
  note?.focus();
}

async function loadDecisions() {
  const box = $('#screen-decisions');
  let rows;
  try { rows = await api('GET', '/v1/screen/decisions'); } catch (e) { box.replaceChildren(el('p', { class: 'form-error', text: e.message })); return; }
  box.replaceChildren(rows.length
    ? table(['When (UTC)', 'Who', 'Party', 'Entry', 'Decision', 'Reason', 'Status'],
      [...rows].reverse().map((d) => [when(d.at), d.by, d.party, `${d.list}:${d.entry_id}`, DECISION_TEXT[d.decision] || d.decision, d.reason,
        d.current ? 'current' : 'superseded']), 'Decisions on screening hits, newest first')
    : el('p', { class: 'muted', text: 'No decisions recorded.' }));
}

async function loadThresholds() {
  const box = $('#thresholds');
  let t;
  try { t = await api('GET', '/v1/screen/thresholds'); } catch (e) { box.replaceChildren(el('p', { class: 'form-error', text: e.message })); return; }
  box.replaceChildren(el('p', { id: 'thresholds-now', 'data-clear': t.clear, 'data-possible': t.possible },
    'Clear hit at ', el('strong', { text: t.clear }), ', possible hit at ', el('strong', { text: t.possible }),
    t.source === 'tenant' ? ` (set by ${t.set_by}, ${when(t.set_at)} UTC).` : ' (the defaults; this tenant has set none).'));
  if (can('admin') && !$('#thr-clear').value && !$('#thr-possible').value) {
    $('#thr-clear').value = t.clear;
    $('#thr-possible').value = t.possible;
  }
}

async function onThresholds(ev) {
  ev.preventDefault();
  const form = $('#thresholds-form');
  clearErrors(form);
  const body = { clear: $('#thr-clear').value.trim(), possible: $('#thr-possible').value.trim() };
  try {
    await api('PUT', '/v1/screen/thresholds', body);
  } catch (e) {
    showError(form, 'thr-', 'err-thr', e);
    return;
  }
  await Promise.all([loadThresholds(), loadAudit()]);
}

function renderScreening(s) {
  const versions = (s.list_versions || []).map((l) => `${l.id} of ${l.date} (${fmt(l.entries)} entries)`).join(', ');
  return el('div', { id: 'screening' },
    el('p', { class: 'headline' }, 'Verdict: ', verdictBadge(s.verdict, { id: 'scr-verdict' }), ` · ${s.hits.length} hit(s)`),
    el('p', { class: 'muted' }, `Lists: ${versions || '—'}; thresholds: clear ${s.thresholds?.clear}, possible ${s.thresholds?.possible}.`),
    renderHits(s.hits, 'Hits, best first', { scope: 'scr', party: state.lastScreen.name, rerun: screenAgain, container: () => $('#screen-result') }));
}

// A determination's `screening` block: each party screened, with its hits.
function renderDeterminationScreening(s) {
  if (!s) return null;
  return el('div', { id: 'det-screening' },
    el('h4', {}, 'Screening: ', verdictBadge(s.verdict, { id: 'det-screening-verdict' })),
    s.parties.map((p, i) => el('div', { class: 'party', 'data-role': p.role },
      el('p', {}, `${p.role.replace(/_/g, ' ')}: `, el('strong', { text: p.name }), p.country ? ` (${p.country}) ` : ' ', verdictBadge(p.verdict)),
      renderHits(p.hits, `Hits for ${p.name}`, { scope: `det-${i}`, party: p.name, rerun: checkAgain, container: () => $('#det-screening') }),
      p.hits_not_reported ? el('p', { class: 'muted', text: `${p.hits_not_reported} more hit(s) not reported in the answer.` }) : null)));
}

async function onScreen(ev) {
  ev.preventDefault();
  const form = $('#screen-form');
  clearErrors(form);
  const v = (id) => $(id).value.trim();
  const body = { name: v('#scr-name') };
  if (v('#scr-country')) body.country = v('#scr-country').toUpperCase();
  if (v('#scr-type')) body.type = v('#scr-type');
  const out = $('#screen-result');
  out.replaceChildren(el('p', { class: 'status', text: 'Screening…' }));
  try {
    const answer = await api('POST', '/v1/screen', body);
    state.lastScreen = body;
    out.replaceChildren(renderScreening(answer));
  } catch (e) {
    out.replaceChildren();
    showError(form, 'scr-', 'err-screen', e);
  }
}

// The last screen again (after a decision on one of its hits).
async function screenAgain() {
  const out = $('#screen-result');
  try {
    out.replaceChildren(renderScreening(await api('POST', '/v1/screen', state.lastScreen)));
  } catch (e) {
    out.replaceChildren(el('p', { class: 'form-error', role: 'alert', text: e.message }));
  }
}

// ------------------------------------------------------------------ ledger

async function loadAccounts() {
  const box = $('#accounts');
  let accts;
  try { accts = await api('GET', '/v1/accounts'); } catch (e) { box.replaceChildren(el('p', { class: 'form-error', text: e.message })); return; }
  if (!accts.length) { box.replaceChildren(el('p', { class: 'muted', text: 'No accounts yet: they open at the first shipment that draws on them.' })); return; }
  box.replaceChildren(table(['Account', 'Kind', 'Used of cap', { label: 'Posted', num: true }, { label: 'Pending', num: true }, { label: 'Cap', num: true }, { label: 'H100-eq. left', num: true }],
    accts.map((a) => [
      el('button', { type: 'button', class: 'secondary account', 'data-key': a.key, onclick: () => loadHistory(a.key), 'aria-label': `History of ${a.key}`, text: a.key }),
      a.kind.replace(/_/g, ' '),
      capBar(`${a.key} used`, a.posted, a.pending, a.cap),
      fmt(a.posted), fmt(a.pending), fmt(a.cap),
      a.kind === 'license_units' ? '—' : fmtH(a.cap - a.posted - a.pending),
    ])));
}

async function loadHistory(key) {
  const box = $('#account-history');
  try {
    const [h, a] = await Promise.all([api('GET', `/v1/accounts/${encodeURIComponent(key)}/history`), api('GET', `/v1/accounts/${encodeURIComponent(key)}`)]);
    box.replaceChildren(el('h3', { id: 'history-h', text: `History of ${key}` }),
      historyChart(h, a.balance.cap),
      table(['#', 'Business date', 'Recorded', 'Kind', { label: 'Posted Δ', num: true }, { label: 'Pending Δ', num: true }, 'Shipment / op'],
        h.map((e) => [String(e.seq), businessDate(e), new Date(e.at).toISOString().replace('T', ' ').slice(0, 19), e.kind, fmt(e.posted_delta), fmt(e.pending_delta), e.meta?.determination_id || e.op_id || ''])));
  } catch (e) {
    box.replaceChildren(el('p', { class: 'form-error', text: e.message }));
  }
}

// ------------------------------------------------------------------ licenses and VEUs

async function loadRecords() {
  const [lics, veus] = await Promise.all([api('GET', '/v1/licenses').catch(() => []), api('GET', '/v1/veus').catch(() => [])]);
  $('#licenses').replaceChildren(lics.length
    ? table(['Id', 'Consignee', 'Destination', 'Chips', { label: 'Units', num: true }, { label: 'TPP cap', num: true }, 'Granted', 'Expires'],
      lics.map((l) => [l.id, l.consignee, l.destination_country, l.allowed_item_ids.join(', ') || 'any', fmt(l.units_cap), fmt(l.tpp_cap), l.granted_on, l.expires_on]))
    : el('p', { class: 'muted', text: 'No licenses recorded.' }));
  $('#veus').replaceChildren(veus.length
    ? table(['Id', 'Kind', 'Owner', 'HQ', 'Sites'], veus.map((v) => [v.id, v.kind.toUpperCase(), v.owner, v.hq_country, v.sites.map((s) => `${s.id} (${s.country})`).join(', ')]))
    : el('p', { class: 'muted', text: 'No validated end users recorded.' }));
}

// ------------------------------------------------------------------ shipment register

const register = { next: null };

function registerQuery(after) {
  const q = new URLSearchParams({ limit: '25' });
  const v = (id) => $(id).value.trim();
  if (v('#reg-status')) q.set('status', v('#reg-status'));
  if (v('#reg-country')) q.set('country', v('#reg-country').toUpperCase());
  if (v('#reg-consignee')) q.set('consignee', v('#reg-consignee'));
  if (v('#reg-from')) q.set('from', v('#reg-from'));
  if (v('#reg-to')) q.set('to', v('#reg-to'));
  if (after) q.set('after', after);
  return q;
}

// The compliance record, fetched with the session's token, opened as a file.
async function openRecord(id, format) {
  const h = authHeaders();
  const res = await fetch(`/v1/shipments/${encodeURIComponent(id)}/record?format=${format}`, { headers: h });
  if (!res.ok) { $('#err-register').textContent = `The record of ${id} could not be fetched (HTTP ${res.status}).`; $('#err-register').hidden = false; return; }
  await saveAs(res, `${id}.${format}`);
}

// An answer's body, saved by the browser as a file.
async function saveAs(res, filename) {
  const url = URL.createObjectURL(await res.blob());
  const a = el('a', { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// The session's token as a request header, for fetches that are not JSON.
function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

// Ids as the tenant gave them (the server keeps them in the tenant's namespace, `tenant.id`).
const local = (id) => id.replace(/^[^.]*\./, '');

function registerRows(items) {
  return items.map((s) => [
    local(s.shipment_id), s.business_date || '—', s.status, s.authorization, s.destination || '—', s.consignee || '—',
    fmt(s.total_tpp), s.license_id ? local(s.license_id) : (s.refusal || '—'),
    el('span', {},
      el('button', { type: 'button', class: 'secondary', onclick: () => showShipment(s.shipment_id), 'aria-label': `Details of ${local(s.shipment_id)}`, text: 'Details' }),
      ' ',
      el('button', { type: 'button', class: 'secondary', onclick: () => openRecord(s.shipment_id, 'pdf'), 'aria-label': `PDF record of ${local(s.shipment_id)}`, text: 'PDF' }),
      ' ',
      el('button', { type: 'button', class: 'secondary', onclick: () => openRecord(s.shipment_id, 'html'), 'aria-label': `HTML record of ${local(s.shipment_id)}`, text: 'HTML' })),
  ]);
}

async function loadRegister(ev, more = false) {
  ev?.preventDefault?.();
  const form = $('#register-form');
  clearErrors(form);
  try {
    const page = await api('GET', `/v1/shipments?${registerQuery(more ? register.next : null)}`);
    const headers = ['Shipment', 'Shipped', 'Status', 'Authorization', 'Destination', 'Consignee', { label: 'TPP', num: true }, 'License / refusal', 'Record'];
    if (more && $('#register tbody')) {
      $('#register tbody').append(...registerRows(page.items).map((r) => el('tr', {}, r.map((c, i) => el('td', { class: headers[i]?.num ? 'num' : null }, c)))));
    } else {
      $('#register').replaceChildren(page.items.length
        ? table(headers, registerRows(page.items), 'Newest first')
        : el('p', { class: 'muted', text: 'No shipments match.' }));
    }
    register.next = page.next || null;
    $('#register-more').hidden = !register.next;
  } catch (e) { showError(form, 'reg-', 'err-register', e); }
}

// The shipment's compliance record (the server's HTML rendering, its sections taken into the
// page), with the PDF download; the print stylesheet prints only this record.
async function showShipment(id) {
  const box = $('#shipment-detail');
  const h = authHeaders();
  const res = await fetch(`/v1/shipments/${encodeURIComponent(id)}/record?format=html`, { headers: h });
  if (!res.ok) { box.replaceChildren(el('p', { class: 'form-error', role: 'alert', text: `The record of ${local(id)} could not be fetched (HTTP ${res.status}).` })); return; }
  const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
  doc.querySelectorAll('script, style, link').forEach((n) => n.remove());
  const record = el('article', { class: 'record', id: 'shipment-record', 'aria-label': `Compliance record of ${local(id)}` },
    ...[...doc.body.childNodes].map((n) => document.importNode(n, true)));
  box.replaceChildren(
    el('div', { class: 'row no-print' },
      el('h3', { id: 'shipment-detail-h', text: `Shipment ${local(id)}` }),
      el('button', { type: 'button', class: 'secondary', onclick: () => openRecord(id, 'pdf'), text: 'Download PDF record' }),
      el('button', { type: 'button', class: 'secondary', onclick: () => window.print(), text: 'Print record' })),
    record);
  box.focus();
}

// ------------------------------------------------------------------ applications

const permille = (r) => (r == null ? '—' : `${Math.floor(r / 10)}.${r % 10} %`);
const days = (d) => (d == null ? '—' : `${d} d`);

async function loadApplications() {
  const asOf = $('#app-as-of').value || today();
  const [apps, stats] = await Promise.all([
    api('GET', '/v1/applications').catch(() => []),
    api('GET', `/v1/applications/stats?as_of=${encodeURIComponent(asOf)}`).catch(() => null),
  ]);
  $('#applications').replaceChildren(apps.length
    ? table(['Id', 'State', 'Since', 'Destination', 'Consignee', { label: 'TPP', num: true }, 'Review policy', 'License', 'Detail'],
      apps.map((a) => [a.id, a.state.replace(/_/g, ' '), a.state_date, a.input.destination, a.input.consignee.name,
        fmt(a.total_tpp), a.review_policy || 'none', a.license_id || '—',
        el('button', { type: 'button', class: 'secondary', onclick: () => showApplication(a.id), 'aria-label': `Open application ${a.id}`, text: 'Open' })]), 'Applications of this tenant')
    : el('p', { class: 'muted', text: 'No applications filed.' }));
  if (!stats) { $('#app-stats').replaceChildren(); return; }
  const d = stats.days_to_decision;
  const maxPending = Math.max(1, ...stats.pending_by_age.map((b) => b.pending));
  $('#app-stats').replaceChildren(
    el('p', { id: 'app-stats-line' },
      `As of ${stats.as_of}: ${fmt(stats.applications)} filed, ${fmt(stats.decided)} decided, ${fmt(stats.approved)} approved (approval rate ${permille(stats.approval_rate_permille)}); `,
      `days to decision p50 ${days(d.p50_days)}, p90 ${days(d.p90_days)}.`),
    table(['Destination', { label: 'Decided', num: true }, { label: 'p50', num: true }, { label: 'p90', num: true }],
      Object.entries(stats.by_destination).map(([cc, s]) => [cc, fmt(s.decided), days(s.p50_days), days(s.p90_days)]),
      'Days to decision by destination'),
    processingChart(stats.by_destination),
    el('div', { class: 'pending-ages', role: 'group', 'aria-label': 'Pending applications by days since submission' },
      stats.pending_by_age.map((b) => {
        const bar = capBar(`${b.days} days: ${b.pending} pending`, b.pending, 0, maxPending);
        return el('div', { class: 'age' }, el('span', { text: `${b.days} days: ${b.pending}` }), bar);
      })));
}

// Days to decision, p50 and p90 bars per destination (the table above holds the same numbers).
function processingChart(byDestination) {
  const rows = Object.entries(byDestination).filter(([, s]) => s.p90_days != null);
  if (!rows.length) return null;
  const W = 540, L = 48, R = 60, barH = 12, gap = 10;
  const H = rows.length * (2 * barH + gap) + 20;
  const max = Math.max(1, ...rows.map(([, s]) => s.p90_days));
  const x = (d) => (d / max) * (W - L - R);
  const g = rows.flatMap(([cc, s], i) => {
    const y = 10 + i * (2 * barH + gap);
    return [
      svg('text', { x: L - 6, y: y + barH + 3, 'text-anchor': 'end' }, cc),
      svg('rect', { x: L, y, width: x(s.p50_days), height: barH, class: 'p50', 'data-cc': cc, 'data-days': s.p50_days }),
      svg('text', { x: L + x(s.p50_days) + 4, y: y + barH - 2 }, `p50 ${s.p50_days} d`),
      svg('rect', { x: L, y: y + barH, width: x(s.p90_days), height: barH, class: 'p90', 'data-cc': cc, 'data-days': s.p90_days }),
      svg('text', { x: L + x(s.p90_days) + 4, y: y + 2 * barH - 2 }, `p90 ${s.p90_days} d`),
    ];
  });
  const label = `Days to decision by destination: ${rows.map(([cc, s]) => `${cc} p50 ${s.p50_days} days, p90 ${s.p90_days} days`).join('; ')}`;
  return svg('svg', { class: 'chart bars', id: 'processing-chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label }, svg('title', {}, label), g);
}

const STATE_TEXT = (s) => s.replace(/_/g, ' ');

// An application's answer: its state, the presumption, the allocation and its hold.
function renderApplication(view) {
  const a = view.application;
  const al = a.allocation;
  const presumption = a.review_policy ? `presumption of ${a.review_policy}` : 'no review policy stated';
  return el('div', { class: 'application', 'data-id': a.id },
    el('p', { class: 'headline' },
      el('span', { class: 'badge', 'data-state': a.state, text: STATE_TEXT(a.state) }), ' ',
      el('strong', { class: 'app-id', text: a.id }), ` · ${a.input.destination} · ${a.input.consignee.name} · `,
      el('span', { class: `badge ${a.review_policy === 'denial' ? 'bad' : 'ok'}`, 'data-review': a.review_policy || '', text: presumption }),
      ` · ${fmt(a.total_units)} units, ${fmt(a.total_tpp)} TPP`),
    el('dl', { class: 'allocation' },
      el('dt', { text: 'Allocation' }), el('dd', { text: al.account || 'none drawn' }),
      el('dt', { text: 'Reading' }), el('dd', { text: `allocation_consumption_event = ${al.reading}` }),
      el('dt', { text: 'Hold' }), el('dd', { class: 'hold', text: al.held_tpp != null ? `${fmt(al.held_tpp)} TPP held (${al.hold_id})` : 'holds nothing' }),
      al.held_by.length ? [el('dt', { text: 'Held by' }), el('dd', { class: 'held-by', text: al.held_by.map((h) => `${h.id} (${fmt(h.tpp)} TPP)`).join(', ') })] : null,
      el('dt', { text: 'Why' }), el('dd', { class: 'allocation-note', text: al.note })),
    table(['Item', 'Chip', { label: 'Quantity', num: true }, 'Authorization', 'Review policy', { label: 'TPP', num: true }],
      a.determinations.map((d) => [String(d.index + 1), d.determination.item?.name || '—', fmt(d.determination.quantity), d.authorization, d.review_policy || '—', fmt(d.determination.total_tpp)]),
      'Each item\'s determination'));
}

function addItemRow(chip = '', quantity = '') {
  const box = $('#app-items');
  const n = box.children.length + 1;
  const row = el('div', { class: 'row item-row' },
    el('div', { class: 'field' }, el('label', { for: `app-item-chip-${n}`, text: `Item ${n} chip` }),
      el('input', { id: `app-item-chip-${n}`, class: 'item-chip', list: 'chip-list', autocomplete: 'off', value: chip, 'aria-describedby': 'err-app-items' })),
    el('div', { class: 'field' }, el('label', { for: `app-item-qty-${n}`, text: `Item ${n} quantity` }),
      el('input', { id: `app-item-qty-${n}`, class: 'item-qty', inputmode: 'numeric', value: quantity, 'aria-describedby': 'err-app-items' })),
    n > 1 ? el('button', { type: 'button', class: 'secondary', onclick: () => row.remove(), 'aria-label': `Remove item ${n}`, text: 'Remove' }) : null);
  box.append(row);
}

function applicationInput() {
  const v = (id) => $(id).value.trim();
  const dest = v('#app-destination').toUpperCase();
  const body = {
    id: v('#app-id'), date: v('#app-date'), destination: dest,
    consignee: { name: v('#app-consignee-name'), hq: v('#app-consignee-hq').toUpperCase() },
    items: [...document.querySelectorAll('#app-items .item-row')].map((r) => {
      const q = r.querySelector('.item-qty').value.trim();
      return { chip: r.querySelector('.item-chip').value.trim(), quantity: /^\d+$/.test(q) ? Number(q) : q };
    }),
    value_usd: v('#app-value_usd'), end_use: v('#app-end_use'),
  };
  if (v('#app-consignee-parent_hq')) body.consignee.parent_hq = v('#app-consignee-parent_hq').toUpperCase();
  // The purchaser and end user are named in the destination country.
  if (v('#app-purchaser-name')) body.purchaser = { name: v('#app-purchaser-name'), country: dest };
  if (v('#app-end_users')) body.end_users = [{ name: v('#app-end_users'), country: dest }];
  return body;
}

async function onApplication(ev) {
  ev.preventDefault();
  const form = $('#app-form');
  clearErrors(form);
  const out = $('#app-result');
  try {
    const view = await api('POST', '/v1/applications', applicationInput());
    out.replaceChildren(el('h4', { text: 'Filed' }), renderApplication(view));
    await loadApplications();
    await showApplication(view.application.id, false);
  } catch (e) {
    out.replaceChildren();
    showError(form, 'app-', 'err-app', e);
  }
}

async function showApplication(id, focus = true) {
  const box = $('#app-detail');
  let view;
  try { view = await api('GET', `/v1/applications/${encodeURIComponent(id)}`); } catch (e) { box.replaceChildren(el('p', { class: 'form-error', role: 'alert', text: e.message })); return; }
  box.replaceChildren(
    el('h3', { id: 'app-detail-h', text: `Application ${id}` }),
    renderApplication(view),
    el('h4', { text: 'Transitions' }),
    table(['Date', 'Actor', 'From', 'To', 'License', 'Note'],
      view.transitions.map((t) => [t.date, t.actor, t.from ? STATE_TEXT(t.from) : '—', STATE_TEXT(t.to), t.license_id || '—', t.note || '']),
      'Oldest first'),
    can('officer') ? decideForm(id) : el('p', { class: 'role-note', text: `Your role (${state.me.role}) may not decide applications; an officer token can.` }));
  if (focus) box.focus();
}

const fieldOf = (id, label, input, errId) => el('div', { class: 'field' }, el('label', { for: id, text: label }), input,
  errId ? el('p', { class: 'field-error', id: errId, role: 'alert', hidden: true }) : null);

function decideForm(id) {
  const form = el('form', { id: 'decide-form', novalidate: true, 'aria-labelledby': 'decide-h' },
    el('h4', { id: 'decide-h', text: `Decide ${id}` }),
    el('div', { class: 'grid' },
      fieldOf('dec-decision', 'Decision', el('select', { id: 'dec-decision' },
        el('option', { value: 'approve', text: 'approve' }), el('option', { value: 'deny', text: 'deny' }), el('option', { value: 'return', text: 'return without action' }))),
      fieldOf('dec-date', 'Date', el('input', { id: 'dec-date', type: 'date', 'aria-describedby': 'err-dec-date' }), 'err-dec-date'),
      fieldOf('dec-license_id', 'License id (approval)', el('input', { id: 'dec-license_id', 'aria-describedby': 'err-dec-license_id' }), 'err-dec-license_id'),
      fieldOf('dec-note', 'Note', el('input', { id: 'dec-note' }))),
    el('fieldset', { class: 'conditions', 'aria-describedby': 'err-dec-conditions' }, el('legend', { text: 'Conditions (approval)' }),
      el('label', {}, el('input', { type: 'checkbox', id: 'dec-end-user' }), ' End user may not be changed'),
      el('label', {}, el('input', { type: 'checkbox', id: 'dec-report' }), ' Report each export within '),
      el('input', { id: 'dec-report-days', inputmode: 'numeric', size: '4', value: '30', 'aria-label': 'Days to report each export' }), ' days',
      el('p', { class: 'field-error', id: 'err-dec-conditions', role: 'alert', hidden: true })),
    el('p', { class: 'form-error', id: 'err-decide', role: 'alert', hidden: true }),
    el('button', { type: 'submit', id: 'decide-submit', text: 'Record decision' }),
    el('div', { id: 'decide-result', 'aria-live': 'polite' }));
  form.addEventListener('submit', (ev) => onDecide(ev, id));
  return form;
}

async function onDecide(ev, id) {
  ev.preventDefault();
  const form = $('#decide-form');
  clearErrors(form);
  const v = (sel) => $(sel).value.trim();
  const body = { decision: v('#dec-decision'), date: v('#dec-date'), note: v('#dec-note') };
  if (body.decision === 'approve') {
    body.license_id = v('#dec-license_id');
    const conditions = [];
    if ($('#dec-end-user').checked) conditions.push({ kind: 'end_user_unchanged' });
    const d = v('#dec-report-days');
    if ($('#dec-report').checked) conditions.push({ kind: 'report_within_days', days: /^\d+$/.test(d) ? Number(d) : d });
    body.conditions = conditions;
  }
  try {
    await api('POST', `/v1/applications/${encodeURIComponent(id)}/decision`, body);
    await Promise.all([loadApplications(), loadRecords(), loadAccounts(), loadAudit()]);
    await showApplication(id);
  } catch (e) {
    // A refused transition (409) names both states: shown as the form's error, in full.
    if (e.status === 409) {
      const p = $('#err-decide');
      p.replaceChildren(el('strong', { text: 'Refused: ' }), e.problem.detail || e.message);
      p.dataset.status = '409';
      p.hidden = false;
      return;
    }
    showError(form, 'dec-', 'err-decide', e);
  }
}

// ------------------------------------------------------------------ reports

// The reports the view offers; a new one (or format) is one entry here.
const REPORTS = [
  { name: 'veu-semiannual', label: 'Data Center VEU semi-annual', period: 'half year, e.g. 2025-H1' },
  { name: 'aia-certifications', label: 'AIA certifications past the trigger', period: 'none: as of a date' },
  { name: 'lpp-certifications', label: 'LPP certifications of a year', period: 'calendar year, e.g. 2025' },
];
const REPORT_FORMATS = ['csv'];

const DUE_TEXT = { overdue: 'overdue', 'due-within-30-days': 'due within 30 days', upcoming: 'upcoming' };

async function loadDue(ev) {
  ev?.preventDefault?.();
  const form = $('#due-form');
  clearErrors(form);
  const asOf = $('#due-as-of').value || today();
  try {
    const due = await api('GET', `/v1/reports/due?as_of=${encodeURIComponent(asOf)}`);
    $('#reports-due').replaceChildren(due.length
      ? table(['Report', 'Period', 'Due', 'Status', 'Reason'], due.map((d) => [d.report, d.period, d.due,
        el('span', { class: `badge ${d.status === 'overdue' ? 'bad' : d.status === 'upcoming' ? 'ok' : 'warn'}`, 'data-status': d.status, text: DUE_TEXT[d.status] || d.status }), d.reason]),
      `Due as of ${asOf}; the ledger does not record filings, so a past due date shows as overdue`)
      : el('p', { class: 'muted', text: `Nothing due as of ${asOf}.` }));
  } catch (e) { showError(form, 'due-', 'err-due', e); }
}

function reportQuery(format) {
  const q = new URLSearchParams();
  if ($('#rep-period').value.trim()) q.set('period', $('#rep-period').value.trim());
  if ($('#rep-as_of').value) q.set('as_of', $('#rep-as_of').value);
  if (format) q.set('format', format);
  return q;
}

async function loadReport(ev) {
  ev?.preventDefault?.();
  const form = $('#report-form');
  clearErrors(form);
  const name = $('#rep-name').value;
  try {
    const r = await api('GET', `/v1/reports/${encodeURIComponent(name)}?${reportQuery()}`);
    $('#report').replaceChildren(
      el('h4', { id: 'report-title', text: `${r.title} — ${r.period}` }),
      el('p', {}, r.due ? `Due: ${r.due}. ` : '', r.citation ? `Citation: ${r.citation}. ` : '', r.regime ? `Regime ${r.regime[0]}.` : ''),
      r.notes.length ? el('ul', { class: 'notes' }, r.notes.map((n) => el('li', { text: n }))) : null,
      r.rows.length
        ? table(r.columns.map((c, i) => ({ label: c, num: r.numeric.includes(i) })),
          r.rows.map((row) => row.map((v, i) => (r.numeric.includes(i) && /^\d+$/.test(v) ? fmt(v) : v))), `${r.rows.length} row(s)`)
        : el('p', { class: 'muted', id: 'report-empty', text: 'Nothing to report for this period.' }));
  } catch (e) { showError(form, 'rep-', 'err-report', e); }
}

async function downloadReport(format) {
  const name = $('#rep-name').value;
  const h = authHeaders();
  const res = await fetch(`/v1/reports/${encodeURIComponent(name)}?${reportQuery(format)}`, { headers: h });
  if (!res.ok) {
    let problem = {};
    try { problem = await res.json(); } catch { /* not JSON */ }
    showError($('#report-form'), 'rep-', 'err-report', new ApiError(res.status, problem));
    return;
  }
  await saveAs(res, `${name}.${format}`);
}

function setupReports() {
  $('#rep-name').replaceChildren(...REPORTS.map((r) => el('option', { value: r.name, text: r.label })));
  const hint = () => { $('#hint-rep-period').textContent = REPORTS.find((r) => r.name === $('#rep-name').value)?.period || ''; };
  $('#rep-name').addEventListener('change', hint);
  hint();
  $('#due-as-of').value = today();
}

const whole = (s) => (/^\d+$/.test(s.trim()) ? Number(s.trim()) : s.trim());

async function onLicense(ev) {
  ev.preventDefault();
  const form = $('#license-form');
  clearErrors(form);
  const v = (id) => $(id).value.trim();
  const body = {
    id: v('#lic-id'), consignee: v('#lic-consignee'), destination: v('#lic-destination').toUpperCase(),
    items: v('#lic-items') ? v('#lic-items').split(',').map((s) => s.trim()).filter(Boolean) : [],
    units: whole(v('#lic-units')), tpp: whole(v('#lic-tpp')), granted: v('#lic-granted'), expires: v('#lic-expires'),
  };
  try {
    await api('POST', '/v1/licenses', body);
    form.reset();
    await loadRecords();
  } catch (e) { showError(form, 'lic-', 'err-license', e); }
}

async function onVeu(ev) {
  ev.preventDefault();
  const form = $('#veu-form');
  clearErrors(form);
  const v = (id) => $(id).value.trim();
  const sites = v('#veu-sites') ? v('#veu-sites').split(',').map((s) => { const [id, country] = s.split(':').map((x) => (x || '').trim()); return { id, country: (country || '').toUpperCase() }; }) : [];
  try {
    await api('POST', '/v1/veus', { id: v('#veu-id'), kind: v('#veu-kind'), owner: v('#veu-owner'), hq: v('#veu-hq').toUpperCase(), sites });
    form.reset();
    await loadRecords();
  } catch (e) { showError(form, 'veu-', 'err-veu', e); }
}

// ------------------------------------------------------------------ audit

async function loadAudit() {
  let rows;
  try { rows = await api('GET', '/v1/audit?limit=50'); } catch (e) { $('#audit').replaceChildren(el('p', { class: 'form-error', text: e.message })); return; }
  $('#audit').replaceChildren(rows.length
    ? table([{ label: '#', num: true }, 'When', 'Actor', 'Action', 'Outcome', 'Input digest', 'Hash'],
      rows.map((r) => [String(r.seq), new Date(r.at).toISOString().replace('T', ' ').slice(0, 19), r.actor, r.action, r.outcome, el('code', { text: r.input_digest.slice(0, 19) + '…' }), el('code', { text: r.hash.slice(0, 19) + '…' })]), 'Newest first')
    : el('p', { class: 'muted', text: 'No audit records yet.' }));
}

async function onVerify() {
  const out = $('#audit-result');
  out.textContent = 'Verifying…';
  try {
    const v = await api('POST', '/v1/audit/verify');
    out.replaceChildren(v.ok
      ? el('span', { class: 'badge ok', id: 'verify-status', 'data-ok': 'true', text: `Chain intact: ${fmt(v.records)} records verified` })
      : el('span', { class: 'badge bad', id: 'verify-status', 'data-ok': 'false', text: `Chain broken at record ${v.first_bad_seq}: ${v.problem}` }));
  } catch (e) { out.replaceChildren(el('span', { class: 'form-error', text: e.message })); }
}

// ------------------------------------------------------------------ wiring

function wire() {
  $('#signin-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const t = $('#token').value.trim();
    if (!t) { showSignin('Paste a token.'); return; }
    sessionStorage.setItem(TOKEN_KEY, t);
    try { state.me = await api('GET', '/v1/whoami'); } catch (e) { sessionStorage.removeItem(TOKEN_KEY); showSignin(e.status === 401 ? 'That token was not accepted.' : e.message); return; }
    $('#token').value = '';
    await start();
  });
  for (const id of ['#map-date', '#map-posture', '#map-regime']) $(id).addEventListener('change', loadMap);
  $('#map-form').addEventListener('submit', (ev) => { ev.preventDefault(); loadMap(); });
  $('#map-find').addEventListener('change', (ev) => { if (ev.target.value) selectCountry(ev.target.value); });
  $('#check-form').addEventListener('submit', onCheck);
  $('#chk-kind').addEventListener('change', showItemKind);
  $('#screen-form').addEventListener('submit', onScreen);
  $('#thresholds-form').addEventListener('submit', onThresholds);
  $('#license-form').addEventListener('submit', onLicense);
  $('#veu-form').addEventListener('submit', onVeu);
  $('#applications-refresh').addEventListener('click', loadApplications);
  $('#app-form').addEventListener('submit', onApplication);
  $('#app-add-item').addEventListener('click', () => addItemRow());
  $('#due-form').addEventListener('submit', loadDue);
  $('#report-form').addEventListener('submit', loadReport);
  $('#rep-csv').addEventListener('click', () => downloadReport(REPORT_FORMATS[0]));
  $('#register-form').addEventListener('submit', loadRegister);
  $('#register-more').addEventListener('click', () => loadRegister(null, true));
  $('#app-as-of').addEventListener('change', loadApplications);
  $('#ledger-refresh').addEventListener('click', loadAccounts);
  $('#audit-refresh').addEventListener('click', loadAudit);
  $('#audit-verify').addEventListener('click', onVerify);
}

boot();
