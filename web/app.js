// web/app.js — kiln's web UI: the controls (service, profile type, label
// filter, time range, tenant), the single and diff views, the top-functions
// table and the hottest path. The state lives in the page URL (?service=…&type=…)
// so a view can be reloaded or shared.
//
// Data: /pyroscope/label-values (services, profile types), /pyroscope/render
// (flame graph + timeline), /pyroscope/render-diff (diff flame graph),
// /kiln/v1/findings (top functions by self and total, hottest path).

import {
  api, download, escapeHTML, fmtDate, fmtShare, fmtShort, fmtValue, parseTime, parseType, selector,
  toLocalInput, typeLabel,
} from './api.js';
import { FlameView, treeFromDiff, treeFromFlamebearer } from './flame.js';
import { Timeline } from './timeline.js';

const MAX_NODES = 8192; // the server's max_nodes_default; frames under 1 px are not drawn
const TOP_ROWS = 100;
const PRESETS = ['now-5m', 'now-15m', 'now-1h', 'now-6h', 'now-24h', 'now-7d'];

const $ = (id) => document.getElementById(id);

const state = {
  tenant: '',
  service: '',
  type: '',
  filter: '',
  from: 'now-1h',
  until: 'now',
  view: 'single',
  left: { filter: '', from: '', until: '' },
  right: { filter: '', from: '', until: '' },
  brush: 'main', // what a timeline selection sets in the diff view: main, left or right
  search: '',
  sort: 'self',
  inverted: false,
};

let generation = 0; // the latest refresh; older answers are dropped
let autoJump = false; // the first load may move to the newest profiles (no range in the URL)
let findings = null;
let diffRows = null;
let unit = '';

// ---- URL <-> state ------------------------------------------------------------------------------

function readURL() {
  const q = new URLSearchParams(location.search);
  const s = (k, d) => (q.has(k) ? q.get(k) : d);
  state.tenant = s('tenant', localStorage.getItem('kiln.tenant') || '');
  state.service = s('service', '');
  state.type = s('type', '');
  state.filter = s('query', '');
  state.from = s('from', 'now-1h');
  state.until = s('until', 'now');
  state.view = s('view', 'single') === 'diff' ? 'diff' : 'single';
  state.left = { filter: s('lq', ''), from: s('lf', ''), until: s('lu', '') };
  state.right = { filter: s('rq', ''), from: s('rf', ''), until: s('ru', '') };
  state.search = s('search', '');
  state.sort = s('sort', 'self') === 'total' ? 'total' : 'self';
  state.inverted = s('icicle', '') === '1';
}

function writeURL() {
  const q = new URLSearchParams();
  const put = (k, v, d) => {
    if (v && v !== d) q.set(k, v);
  };
  put('tenant', state.tenant);
  put('service', state.service);
  put('type', state.type);
  put('query', state.filter);
  put('from', state.from, 'now-1h');
  put('until', state.until, 'now');
  if (state.view === 'diff') {
    q.set('view', 'diff');
    put('lq', state.left.filter);
    put('lf', state.left.from);
    put('lu', state.left.until);
    put('rq', state.right.filter);
    put('rf', state.right.from);
    put('ru', state.right.until);
  }
  put('search', state.search);
  put('sort', state.sort, 'self');
  if (state.inverted) q.set('icicle', '1');
  const s = q.toString();
  history.replaceState(null, '', s ? '?' + s : location.pathname);
}

// ---- status --------------------------------------------------------------------------------------

function setStatus(text, kind) {
  const el = $('status');
  el.textContent = text || '';
  el.className = kind || '';
  el.hidden = !text;
}

function busy(on) {
  document.body.dataset.state = on ? 'loading' : 'ready';
  $('apply').disabled = on;
}

// ---- controls ----------------------------------------------------------------------------------------

function rangeMs() {
  const now = Date.now();
  return [parseTime(state.from, now), parseTime(state.until, now)];
}

function syncRangeControls() {
  const preset = state.until === 'now' && PRESETS.includes(state.from);
  $('range').value = preset ? state.from : 'custom';
  $('custom').hidden = preset;
  if (!preset) {
    try {
      const [f, u] = rangeMs();
      $('from').value = toLocalInput(f);
      $('until').value = toLocalInput(u);
    } catch (_) { /* shown when applied */ }
  }
}

function fillSelect(el, values, current, label) {
  el.textContent = '';
  for (const v of values) {
    const o = document.createElement('option');
    o.value = v;
    o.textContent = label ? label(v) : v;
    el.appendChild(o);
  }
  if (current && values.includes(current)) el.value = current;
}

async function loadServices() {
  const [from, until] = rangeMs();
  let services = await api.services(state.tenant, from, until);
  services = services || [];
  if (state.service && !services.includes(state.service)) services = [state.service, ...services];
  if (!state.service || !services.includes(state.service)) state.service = services[0] || '';
  fillSelect($('service'), services, state.service);
  $('service').disabled = services.length === 0;
  return services.length > 0;
}

function preferredType(types) {
  return types.find((t) => t.startsWith('process_cpu:cpu:')) || types.find((t) => t.includes(':cpu:')) || types[0] || '';
}

async function loadTypes() {
  const [from, until] = rangeMs();
  let types = state.service ? await api.profileTypes(state.tenant, selector(state.service, ''), from, until) : [];
  types = types || [];
  if (state.type && !types.includes(state.type) && types.length === 0) types = [state.type];
  if (!types.includes(state.type)) state.type = preferredType(types);
  fillSelect($('ptype'), types, state.type, typeLabel);
  $('ptype').disabled = types.length === 0;
}

function readControls() {
  state.tenant = $('tenant').value.trim();
  state.filter = $('selector').value.trim();
  const r = $('range').value;
  if (r === 'custom') {
    const now = Date.now();
    if ($('from').value) state.from = String(parseTime($('from').value, now));
    if ($('until').value) state.until = String(parseTime($('until').value, now));
  } else {
    state.from = r;
    state.until = 'now';
  }
  state.left.filter = $('left-selector').value.trim();
  state.left.from = $('left-from').value.trim();
  state.left.until = $('left-until').value.trim();
  state.right.filter = $('right-selector').value.trim();
  state.right.from = $('right-from').value.trim();
  state.right.until = $('right-until').value.trim();
}

function writeControls() {
  $('tenant').value = state.tenant;
  $('selector').value = state.filter;
  $('search').value = state.search;
  $('invert').checked = state.inverted;
  syncRangeControls();
  $('left-selector').value = state.left.filter;
  $('left-from').value = state.left.from;
  $('left-until').value = state.left.until;
  $('right-selector').value = state.right.filter;
  $('right-from').value = state.right.from;
  $('right-until').value = state.right.until;
  for (const b of document.querySelectorAll('.tabs button')) b.classList.toggle('active', b.dataset.view === state.view);
  document.body.dataset.view = state.view;
  $('diff-controls').hidden = state.view !== 'diff';
  for (const th of document.querySelectorAll('#top-table th[data-sort]')) {
    th.classList.toggle('sorted', state.view !== 'diff' && th.dataset.sort === state.sort);
  }
}

// Baseline and comparison default to the two halves of the main range.
function defaultDiffSides() {
  const [f, u] = rangeMs();
  const mid = Math.round((f + u) / 2);
  if (!state.left.from) state.left.from = String(f);
  if (!state.left.until) state.left.until = String(mid);
  if (!state.right.from) state.right.from = String(mid);
  if (!state.right.until) state.right.until = String(u);
}

// ---- single view -------------------------------------------------------------------------------------

function showSummary(html) {
  $('summary').innerHTML = html;
}

function renderTable() {
  const body = $('top-table').querySelector('tbody');
  body.textContent = '';
  const term = state.search.toLowerCase();
  if (state.view === 'diff') {
    renderDiffTable(body, term);
    return;
  }
  if (!findings) return;
  const rows = state.sort === 'total' ? findings.topTotal : findings.topSelf;
  let shown = 0;
  for (const r of rows) {
    const tr = document.createElement('tr');
    tr.dataset.name = r.name;
    const match = !term || r.name.toLowerCase().includes(term);
    tr.hidden = !match;
    if (match) shown++;
    tr.innerHTML =
      `<td class="fn" title="${escapeHTML(r.name)}"><span class="fn-name">${escapeHTML(r.name)}</span></td>` +
      `<td class="num self" data-value="${r.self}" title="${r.self}">${fmtValue(r.self, unit)}</td>` +
      `<td class="share self-share" data-value="${r.selfShare}">${bar(r.selfShare)}${fmtShare(r.selfShare)}</td>` +
      `<td class="num total" data-value="${r.total}" title="${r.total}">${fmtValue(r.total, unit)}</td>` +
      `<td class="share total-share" data-value="${r.totalShare}">${bar(r.totalShare)}${fmtShare(r.totalShare)}</td>`;
    body.appendChild(tr);
  }
  const more = findings.functions > rows.length ? ` (top ${rows.length} of ${findings.functions} functions)` : ` (${findings.functions} functions)`;
  $('table-info').textContent = term ? `${shown} match "${state.search}"` + more : more.trim();
}

function bar(share) {
  const w = Math.max(0, Math.min(1, share || 0)) * 100;
  return `<span class="bar"><span style="width:${w.toFixed(1)}%"></span></span>`;
}

function renderHotPath() {
  const ol = $('hot-path');
  ol.textContent = '';
  if (!findings || !findings.hottestPath) return;
  findings.hottestPath.forEach((n, i) => {
    const li = document.createElement('li');
    li.dataset.name = n.name;
    li.style.setProperty('--depth', String(Math.min(i, 30)));
    li.title = `${n.name}\ntotal ${fmtValue(n.total, unit)} (${fmtShare(n.share)}), self ${fmtValue(n.self, unit)}`;
    li.innerHTML = `${bar(n.share)}<span class="hp-share">${fmtShare(n.share)}</span>` +
      `<span class="hp-name">${escapeHTML(n.name)}</span>`;
    ol.appendChild(li);
  });
}

async function renderSingle(gen) {
  const [from, until] = rangeMs();
  if (!(until > from)) throw new Error('the time range is empty: "until" must be after "from"');
  const query = state.type + selector(state.service, state.filter);
  const [r, f] = await Promise.all([
    api.render(state.tenant, query, from, until, MAX_NODES),
    api.findings(state.tenant, query, from, until, TOP_ROWS),
  ]);
  if (gen !== generation) return;
  unit = parseType(state.type).unit;
  findings = f;
  const fb = r.flamebearer;
  const period = `${fmtShort(from)} – ${fmtShort(until)}`;
  if (!fb || !fb.numTicks) {
    flame.clear(`No ${typeLabel(state.type)} samples for ${selector(state.service, state.filter)} between ${period}.`);
    showSummary(`<span class="muted">no data · ${escapeHTML(period)}</span>`);
  } else {
    flame.render(treeFromFlamebearer(fb), { unit, inverted: state.inverted });
    showSummary(`<b>${escapeHTML(typeLabel(state.type))}</b> · total <b data-total="${fb.numTicks}">` +
      `${fmtValue(fb.numTicks, unit)}</b> · ${f.functions} functions · ${escapeHTML(period)}`);
  }
  timeline.render(r.timeline || { startTime: from / 1000, samples: [], durationDelta: 15 }, unit, from, until);
  $('timeline-info').textContent = fb && fb.numTicks ? `${fmtValue(fb.numTicks, unit)} in range` : '';
  renderTable();
  renderHotPath();
  applySearch();
}

// ---- diff view ----------------------------------------------------------------------------------------

// Per-function self of both sides from the diff tree, largest change first.
function diffFunctions(tree, lt, rt) {
  const by = new Map();
  const walk = (n) => {
    if (n.name !== 'total') {
      const e = by.get(n.name) || { name: n.name, left: 0, right: 0 };
      e.left += n.selfLeft;
      e.right += n.selfRight;
      by.set(n.name, e);
    }
    n.children.forEach(walk);
  };
  walk(tree);
  const rows = [...by.values()].filter((e) => e.left || e.right);
  for (const e of rows) e.delta = (rt ? e.right / rt : 0) - (lt ? e.left / lt : 0);
  rows.sort((a, b) => Math.abs(b.delta) - Math.abs(a.delta) || a.name.localeCompare(b.name));
  return rows.slice(0, TOP_ROWS);
}

function renderDiffTable(body, term) {
  if (!diffRows) return;
  let shown = 0;
  for (const r of diffRows.rows) {
    const tr = document.createElement('tr');
    tr.dataset.name = r.name;
    const match = !term || r.name.toLowerCase().includes(term);
    tr.hidden = !match;
    if (match) shown++;
    const ls = diffRows.lt ? r.left / diffRows.lt : 0;
    const rs = diffRows.rt ? r.right / diffRows.rt : 0;
    const cls = r.delta > 0 ? 'up' : r.delta < 0 ? 'down' : '';
    tr.innerHTML =
      `<td class="fn" title="${escapeHTML(r.name)}"><span class="fn-name">${escapeHTML(r.name)}</span></td>` +
      `<td class="num" data-value="${r.left}">${fmtValue(r.left, unit)}</td>` +
      `<td class="share" data-value="${ls}">${fmtShare(ls)}</td>` +
      `<td class="num" data-value="${r.right}">${fmtValue(r.right, unit)}</td>` +
      `<td class="share ${cls}" data-value="${r.delta}">${r.delta > 0 ? '+' : ''}${fmtShare(r.delta)}</td>`;
    body.appendChild(tr);
  }
  $('table-info').textContent = `self, largest change of share first${term ? ` · ${shown} match` : ''}`;
}

async function renderDiff(gen) {
  defaultDiffSides();
  writeControls();
  const now = Date.now();
  const side = (s) => ({
    query: state.type + selector(state.service, s.filter || state.filter),
    from: parseTime(s.from, now),
    until: parseTime(s.until, now),
  });
  const left = side(state.left);
  const right = side(state.right);
  for (const [n, s] of [['baseline', left], ['comparison', right]]) {
    if (!(s.until > s.from)) throw new Error(`the ${n} time range is empty: "until" must be after "from"`);
  }
  const [from, until] = rangeMs();
  const [d, main] = await Promise.all([
    api.renderDiff(state.tenant, left, right, MAX_NODES),
    api.render(state.tenant, state.type + selector(state.service, state.filter), from, until, 1),
  ]);
  if (gen !== generation) return;
  unit = parseType(state.type).unit;
  const fb = d.flamebearer;
  const lt = d.leftTicks || 0;
  const rt = d.rightTicks || 0;
  const tree = treeFromDiff(fb);
  if (!lt && !rt) {
    flame.clear('Neither side has samples: pick other time ranges or label filters.');
    diffRows = null;
  } else {
    flame.render(tree, { unit, diff: true, leftTicks: lt, rightTicks: rt, inverted: state.inverted });
    diffRows = { rows: diffFunctions(tree, lt, rt), lt, rt };
  }
  const span = (s) => escapeHTML(`${fmtShort(s.from)} – ${fmtShort(s.until)}`);
  showSummary(`<span class="legend"><i class="up"></i>more in comparison <i class="down"></i>less</span> · ` +
    `<b>${escapeHTML(typeLabel(state.type))}</b> · baseline <b data-total="${lt}">${fmtValue(lt, unit)}</b> ` +
    `(${span(left)}) · comparison <b data-total="${rt}">${fmtValue(rt, unit)}</b> (${span(right)})`);
  timeline.render(main.timeline || { startTime: from / 1000, samples: [], durationDelta: 15 }, unit, from, until, [
    { from: left.from, until: left.until, cls: 'left', label: 'baseline' },
    { from: right.from, until: right.until, cls: 'right', label: 'comparison' },
  ]);
  $('timeline-info').textContent = '';
  findings = null;
  renderTable();
  renderHotPath();
  applySearch();
}

// ---- refresh, search, zoom -------------------------------------------------------------------------------

async function refresh({ reloadLists = false } = {}) {
  const gen = ++generation;
  busy(true);
  setStatus('');
  try {
    readControls();
    if (reloadLists) {
      let any = await loadServices();
      if (gen !== generation) return;
      if (!any && autoJump) {
        // the first view found nothing in the default range: show the newest
        // profiles instead (a pprof keeps its own time, which may be old)
        const newest = await newestProfile();
        if (gen !== generation) return;
        if (newest) {
          jumpTo(newest);
          any = await loadServices();
          if (gen !== generation) return;
          if (any) setStatus(`Nothing in the last hour: showing the newest profiles, from ${fmtDate(newest)}.`, 'info');
        }
      }
      autoJump = false;
      if (!any) {
        await emptyState();
        return;
      }
      await loadTypes();
      if (gen !== generation) return;
    }
    writeURL();
    setHeads();
    if (!state.service || !state.type) {
      await emptyState();
      return;
    }
    if (state.view === 'diff') await renderDiff(gen);
    else await renderSingle(gen);
  } catch (e) {
    if (gen !== generation || e.name === 'AbortError') return;
    setStatus(e.message, 'error');
    flame.clear('');
  } finally {
    if (gen === generation) {
      busy(false);
      document.body.dataset.rendered = String(gen); // tests wait for this to move
    }
  }
}

// The time (ms) of the tenant's newest profile, or 0 (none, or unknown).
async function newestProfile() {
  try {
    const s = await api.profileStats(state.tenant);
    return s.dataIngested ? Number(s.newestProfileTime) || 0 : 0;
  } catch (_) {
    return 0;
  }
}

// A one-hour custom range ending a little after t.
function jumpTo(t) {
  state.from = String(t - 55 * 60e3);
  state.until = String(t + 5 * 60e3);
  syncRangeControls();
}

async function emptyState() {
  const [from, until] = rangeMs();
  const tenant = state.tenant ? `tenant "${state.tenant}"` : 'the default tenant';
  const who = state.service ? `service "${state.service}" (${tenant})` : tenant;
  flame.clear('');
  const p = document.createElement('div');
  p.className = 'empty';
  p.innerHTML = `<p>No profiles for ${escapeHTML(who)} between ${escapeHTML(fmtDate(from))} and ` +
    `${escapeHTML(fmtDate(until))}.</p><p>Pick a longer time range, or send one the way Pyroscope's clients do:</p>` +
    `<pre>curl --data-binary @profile.pb.gz '${escapeHTML(location.origin)}/ingest?name=myapp&amp;format=pprof'</pre>`;
  $('flame').appendChild(p);
  const newest = state.service ? 0 : await newestProfile();
  if (newest && (newest < from || newest > until)) {
    const b = document.createElement('button');
    b.type = 'button';
    b.id = 'jump-newest';
    b.textContent = `Show the newest profiles (${fmtDate(newest)})`;
    b.addEventListener('click', () => {
      jumpTo(newest);
      refresh({ reloadLists: true });
    });
    p.appendChild(b);
  }
  timeline.clear('');
  findings = null;
  diffRows = null;
  renderTable();
  renderHotPath();
  showSummary('<span class="muted">no data</span>');
  fillSelect($('ptype'), [], '');
}

function setHeads() {
  const diff = state.view === 'diff';
  $('flame-title').textContent = diff ? 'Diff flame graph' : 'Flame graph';
  $('table-title').textContent = diff ? 'Largest changes' : 'Top functions';
  const heads = diff ? ['Function', 'Baseline', 'Share', 'Comparison', 'Δ share'] : ['Function', 'Self', 'Self %', 'Total', 'Total %'];
  document.querySelectorAll('#top-table th').forEach((th, i) => {
    th.textContent = heads[i];
    if (th.dataset.sort) th.classList.toggle('sorted', !diff && th.dataset.sort === state.sort);
  });
  $('hot-panel').hidden = diff;
}

function applySearch() {
  flame.search(state.search);
  renderTable();
  for (const li of document.querySelectorAll('#hot-path li')) {
    li.classList.toggle('match', !!state.search && li.dataset.name.toLowerCase().includes(state.search.toLowerCase()));
  }
}

function onSearchResult(matches, sum, total) {
  const info = $('search-info');
  if (!state.search) {
    info.textContent = '';
    return;
  }
  info.textContent = `${matches.length} frame${matches.length === 1 ? '' : 's'} · ${fmtValue(sum, unit)} (${fmtShare(total ? sum / total : 0)})`;
}

function onZoom(node) {
  const el = $('zoom-info');
  $('reset-zoom').disabled = !node;
  el.textContent = node ? `zoomed to ${node.data.name}` : '';
  $('flame').dataset.zoom = node ? node.data.name : '';
}

// ---- wiring ----------------------------------------------------------------------------------------------------

const flame = new FlameView($('flame'), null, { onZoom, onSearch: onSearchResult });
const timeline = new Timeline($('timeline'), {
  onSelect: (a, b) => {
    if (state.view === 'diff' && state.brush !== 'main') {
      const side = state.brush === 'left' ? 'left' : 'right';
      $(`${side}-from`).value = String(a);
      $(`${side}-until`).value = String(b);
    } else {
      $('range').value = 'custom';
      $('custom').hidden = false;
      $('from').value = toLocalInput(a);
      $('until').value = toLocalInput(b);
    }
    refresh({ reloadLists: state.view !== 'diff' });
  },
});

function wire() {
  $('service').addEventListener('change', async () => {
    state.service = $('service').value;
    state.type = '';
    try {
      await loadTypes();
    } catch (e) {
      setStatus(e.message, 'error');
    }
    refresh();
  });
  $('ptype').addEventListener('change', () => {
    state.type = $('ptype').value;
    refresh();
  });
  $('range').addEventListener('change', () => {
    const custom = $('range').value === 'custom';
    $('custom').hidden = !custom;
    if (custom) {
      const [f, u] = rangeMs();
      $('from').value = toLocalInput(f);
      $('until').value = toLocalInput(u);
      return; // applied with the button
    }
    refresh({ reloadLists: true });
  });
  $('apply').addEventListener('click', () => refresh({ reloadLists: true }));
  for (const id of ['selector', 'tenant', 'from', 'until', 'left-selector', 'left-from', 'left-until',
    'right-selector', 'right-from', 'right-until']) {
    $(id).addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') refresh({ reloadLists: id === 'tenant' || id === 'from' || id === 'until' });
    });
  }
  $('tenant').addEventListener('change', () => {
    localStorage.setItem('kiln.tenant', $('tenant').value.trim());
    state.service = '';
    state.type = '';
    refresh({ reloadLists: true });
  });
  let searchTimer = 0;
  $('search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      state.search = $('search').value.trim();
      writeURL();
      applySearch();
    }, 120);
  });
  $('search').addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') {
      $('search').value = '';
      state.search = '';
      writeURL();
      applySearch();
    }
  });
  $('reset-zoom').addEventListener('click', () => flame.resetZoom());
  $('invert').addEventListener('change', () => {
    state.inverted = $('invert').checked;
    writeURL();
    flame.setInverted(state.inverted);
  });
  for (const b of document.querySelectorAll('.tabs button')) {
    b.addEventListener('click', () => {
      if (state.view === b.dataset.view) return;
      state.view = b.dataset.view;
      writeControls();
      refresh();
    });
  }
  for (const r of document.querySelectorAll('input[name=brush]')) {
    r.addEventListener('change', () => {
      state.brush = r.value;
    });
  }
  $('swap').addEventListener('click', () => {
    readControls();
    [state.left, state.right] = [state.right, state.left];
    writeControls();
    refresh();
  });
  for (const th of document.querySelectorAll('#top-table th[data-sort]')) {
    th.addEventListener('click', () => {
      if (state.view === 'diff') return;
      state.sort = th.dataset.sort;
      writeControls();
      writeURL();
      renderTable();
    });
  }
  const pick = (ev) => {
    const row = ev.target.closest('[data-name]');
    if (!row) return;
    $('search').value = row.dataset.name;
    state.search = row.dataset.name;
    writeURL();
    applySearch();
  };
  $('top-table').addEventListener('click', pick);
  $('hot-path').addEventListener('click', pick);
  for (const a of document.querySelectorAll('[data-export]')) {
    a.addEventListener('click', async (ev) => {
      ev.preventDefault();
      const fmt = a.dataset.export;
      try {
        const [from, until] = rangeMs();
        const query = state.type + selector(state.service, state.filter);
        const ext = { pprof: 'pb.gz', folded: 'folded.txt', speedscope: 'speedscope.json' }[fmt];
        await download('pyroscope/render', { query, from, until, format: fmt }, state.tenant,
          `${state.service || 'profile'}.${ext}`);
      } catch (e) {
        setStatus(e.message, 'error');
      }
    });
  }
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      flame.resize();
      timeline.resize();
    }, 200);
  });
  document.addEventListener('keydown', (ev) => {
    if (ev.key === '/' && document.activeElement.tagName !== 'INPUT') {
      ev.preventDefault();
      $('search').focus();
    }
  });
}

readURL();
autoJump = !new URLSearchParams(location.search).has('from');
writeControls();
wire();
refresh({ reloadLists: true });
