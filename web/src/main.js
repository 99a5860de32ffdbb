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

function showError(form, prefix, formErrorId, err) {
  const field = err.problem?.field;
  const detail = err.problem?.detail || err.message;
  if (field) {
    const base = field.replace(/\[\d+\].*$/, '').replace(/\./g, '-');
    const p = document.getElementById(`err-${prefix}${base}`);
    if (p && form.contains(p)) {
      p.textContent = detail;
      p.hidden = false;
      const input = p.closest('.field')?.querySelector('input, select');
      if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
      return;
    }
  }
  const p = document.getElementById(formErrorId);
  p.textContent = detail;
  p.hidden = false;
}

function table(headers, rows, caption) {
  return el('table', {},
    caption ? el('caption', { class: 'muted', text: caption }) : null,
    el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col', class: h.num ? 'num' : null, text: h.label ?? h })))),
    el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c, i) => el('td', { class: headers[i]?.num ? 'num' : null }, c))))));
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
  await Promise.all([loadMap(), loadAccounts(), loadRecords(), loadRegister(), loadApplications(), loadAudit()]);
  document.body.dataset.ready = 'true';
}

function applyRole() {
  const exporter = can('exporter');
  $('#chk-submit').disabled = !exporter;
  const note = $('#chk-role-note');
  note.hidden = exporter;
  note.textContent = exporter ? '' : `Your role (${state.me.role}) may not check or ship; an exporter token can.`;
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
        shipments.length ? table(['Shipment', { label: 'TPP', num: true }, 'When'], shipments.map((e) => [String(e.meta.determination_id).replace(/^[^.]*\./, ''), fmt(e.posted_delta + e.pending_delta), new Date(e.at).toISOString().slice(0, 16).replace('T', ' ')])) : el('p', { class: 'muted', text: 'None recorded.' }),
        el('h4', { text: 'Licenses' }),
        myLics.length ? table(['Id', 'Consignee', { label: 'TPP cap', num: true }, 'Expires'], myLics.map((l) => [l.id, l.consignee, fmt(l.tpp_cap), l.expires_on])) : el('p', { class: 'muted', text: 'None.' }),
        el('h4', { text: 'Validated end users' }),
        myVeus.length ? table(['Id', 'Kind', 'Owner'], myVeus.map((v) => [v.id, v.kind.toUpperCase(), v.owner])) : el('p', { class: 'muted', text: 'None.' }))));
  if (focus) box.focus();
}

// Cumulative use over time, with the cap, as a small SVG step chart.
function historyChart(entries, cap) {
  const W = 540, H = 160, L = 96, R = 10, T = 10, B = 24;
  const pts = [];
  let used = 0;
  for (const e of entries) {
    used += (e.posted_delta || 0) + (e.pending_delta || 0);
    pts.push([e.at, used]);
  }
  if (!pts.length) return el('p', { class: 'muted', text: 'No history.' });
  const t0 = pts[0][0], t1 = Math.max(pts[pts.length - 1][0], t0 + 1);
  const now = Math.max(Date.now(), t1);
  const x = (t) => L + (t - t0) / (now - t0 || 1) * (W - L - R);
  const y = (v) => T + (1 - v / (cap || 1)) * (H - T - B);
  let d = `M${x(pts[0][0])},${y(pts[0][1])}`;
  for (let i = 1; i < pts.length; i++) d += `H${x(pts[i][0])}V${y(pts[i][1])}`;
  d += `H${x(now)}`;
  const s = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Allocation used over time: ${fmt(used)} of ${fmt(cap)} TPP` },
    svg('line', { x1: L, x2: W - R, y1: y(cap), y2: y(cap), class: 'cap' }),
    svg('text', { x: L - 4, y: y(cap) + 3, 'text-anchor': 'end' }, `cap ${fmt(cap)}`),
    svg('line', { x1: L, x2: W - R, y1: y(0), y2: y(0), stroke: '#999' }),
    svg('text', { x: L - 4, y: y(0) + 3, 'text-anchor': 'end' }, '0'),
    svg('path', { d, class: 'used' }),
    svg('text', { x: L, y: H - 6 }, new Date(t0).toISOString().slice(0, 10)),
    svg('text', { x: W - R, y: H - 6, 'text-anchor': 'end' }, new Date(now).toISOString().slice(0, 10)));
  return s;
}

// ------------------------------------------------------------------ check form

function checkInput() {
  const v = (id) => $(id).value.trim();
  const qty = v('#chk-quantity');
  return {
    date: v('#chk-date'),
    posture: v('#chk-posture'),
    destination: v('#chk-destination').toUpperCase(),
    consignee: { name: v('#chk-consignee'), hq: v('#chk-hq').toUpperCase() },
    item: { chip: v('#chk-chip') },
    // Sent as typed when it is not a whole number, so the server's error names the field.
    quantity: /^-?\d+$/.test(qty) ? Number(qty) : qty,
  };
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
    el('p', { class: 'muted' }, `Regime ${d.regime.id} (${d.regime.posture}, ${d.regime.date}) ${d.regime.digest.slice(0, 19)}…`));
}

async function onCheck(ev) {
  ev.preventDefault();
  const form = $('#check-form');
  clearErrors(form);
  const input = checkInput();
  const out = $('#check-result');
  out.replaceChildren(el('p', { class: 'status', text: 'Checking…' }));
  try {
    const d = await api('POST', '/v1/determinations', input);
    state.lastCheck = { input, determination: d, key: `web-${crypto.randomUUID()}` };
    out.replaceChildren(renderDetermination(d),
      el('button', { type: 'button', id: 'record-shipment', onclick: onRecord, disabled: !can('exporter') }, 'Record as shipment'),
      el('div', { id: 'shipment-result', 'aria-live': 'polite' }));
  } catch (e) {
    out.replaceChildren();
    showError(form, '', 'err-check', e);
  }
}

async function onRecord() {
  const { input, key } = state.lastCheck;
  const btn = $('#record-shipment');
  btn.disabled = true;
  const box = $('#shipment-result');
  try {
    // The Idempotency-Key is fixed per check: a double click or a retry records once.
    const s = await api('POST', '/v1/shipments', input, { 'Idempotency-Key': key });
    box.replaceChildren(el('p', {},
      el('span', { class: `badge ${s.status === 'authorized' ? 'ok' : 'bad'}`, id: 'shipment-status', text: s.status === 'authorized' ? 'Recorded: authorized' : 'Recorded: refused' }),
      ` shipment ${s.shipment_id.replace(/^[^.]*\./, '')}`, s.license_id ? ` under license ${s.license_id.replace(/^[^.]*\./, '')}` : '',
      s.refusal ? el('span', { class: 'refusal' }, ` — ${s.refusal}`) : ''),
    s.entries.length ? table(['Account', { label: 'Amount', num: true }, { label: 'Available after', num: true }],
      s.entries.map((e) => [e.account, fmt(e.result?.amount), fmt(e.balance_after?.available)])) : null);
    // A new check gets a new key.
    state.lastCheck.key = `web-${crypto.randomUUID()}`;
    btn.disabled = false;
    await Promise.all([loadAccounts(), loadAudit(), loadRegister(), state.selected ? selectCountry(state.selected, false) : null]);
  } catch (e) {
    box.replaceChildren(el('p', { class: 'form-error', role: 'alert', text: e.message }));
    btn.disabled = false;
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
      table(['#', 'When', 'Kind', { label: 'Posted Δ', num: true }, { label: 'Pending Δ', num: true }, 'Shipment / op'],
        h.map((e) => [String(e.seq), new Date(e.at).toISOString().replace('T', ' ').slice(0, 19), e.kind, fmt(e.posted_delta), fmt(e.pending_delta), e.meta?.determination_id || e.op_id || ''])));
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
  const h = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) h.Authorization = `Bearer ${token}`;
  const res = await fetch(`/v1/shipments/${encodeURIComponent(id)}/record?format=${format}`, { headers: h });
  if (!res.ok) { $('#err-register').textContent = `The record of ${id} could not be fetched (HTTP ${res.status}).`; $('#err-register').hidden = false; return; }
  const url = URL.createObjectURL(await res.blob());
  const a = el('a', { href: url, download: `${id}.${format}` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// Ids as the tenant gave them (the server keeps them in the tenant's namespace, `tenant.id`).
const local = (id) => id.replace(/^[^.]*\./, '');

function registerRows(items) {
  return items.map((s) => [
    local(s.shipment_id), s.business_date || '—', s.status, s.authorization, s.destination || '—', s.consignee || '—',
    fmt(s.total_tpp), s.license_id ? local(s.license_id) : (s.refusal || '—'),
    el('span', {},
      el('button', { type: 'button', class: 'secondary', onclick: () => openRecord(s.shipment_id, 'pdf'), 'aria-label': `Compliance record of ${local(s.shipment_id)} (PDF)`, text: 'PDF' }),
      ' ',
      el('button', { type: 'button', class: 'secondary', onclick: () => openRecord(s.shipment_id, 'html'), 'aria-label': `Compliance record of ${local(s.shipment_id)} (HTML)`, text: 'HTML' })),
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
    ? table(['Id', 'State', 'Since', 'Destination', 'Consignee', { label: 'TPP', num: true }, 'Review policy', 'License'],
      apps.map((a) => [a.id, a.state.replace(/_/g, ' '), a.state_date, a.input.destination, a.input.consignee.name,
        fmt(a.total_tpp), a.review_policy || 'none', a.license_id || '—']), 'Applications of this tenant')
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
    el('div', { class: 'pending-ages', role: 'group', 'aria-label': 'Pending applications by days since submission' },
      stats.pending_by_age.map((b) => {
        const bar = capBar(`${b.days} days: ${b.pending} pending`, b.pending, 0, maxPending);
        return el('div', { class: 'age' }, el('span', { text: `${b.days} days: ${b.pending}` }), bar);
      })));
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
  $('#license-form').addEventListener('submit', onLicense);
  $('#veu-form').addEventListener('submit', onVeu);
  $('#applications-refresh').addEventListener('click', loadApplications);
  $('#register-form').addEventListener('submit', loadRegister);
  $('#register-more').addEventListener('click', () => loadRegister(null, true));
  $('#app-as-of').addEventListener('change', loadApplications);
  $('#ledger-refresh').addEventListener('click', loadAccounts);
  $('#audit-refresh').addEventListener('click', loadAudit);
  $('#audit-verify').addEventListener('click', onVerify);
}

boot();
