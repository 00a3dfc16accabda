// web/api.js — how the UI talks to kiln's query API (exporters/query/README.md),
// and the small helpers every view shares: times, selectors, number formats.
//
// Every request is a GET relative to the page (so kiln may sit behind a
// proxy under a path prefix) with the tenant, when one is given, in
// X-Scope-OrgID. Errors come back as Connect-style JSON
// {"code":"invalid_argument","message":"..."} and are thrown as ApiError.

export class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code || '';
  }
}

function headers(tenant) {
  const h = {};
  if (tenant) h['X-Scope-OrgID'] = tenant;
  return h;
}

async function request(path, params, tenant, signal) {
  const url = path + '?' + new URLSearchParams(params).toString();
  let r;
  try {
    r = await fetch(url, { headers: headers(tenant), signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(`cannot reach kiln (${e.message})`, 0);
  }
  return r;
}

export async function getJSON(path, params, tenant, signal) {
  const r = await request(path, params, tenant, signal);
  const text = await r.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch (_) {
    body = null;
  }
  if (!r.ok) {
    const msg = body && body.message ? body.message : text.slice(0, 300) || r.statusText;
    throw new ApiError(`${path}: ${msg}`, r.status, body && body.code);
  }
  if (body === null) throw new ApiError(`${path}: the answer is not JSON`, r.status);
  return body;
}

// Downloads an export (pprof, folded, speedscope) with the tenant header,
// which a plain link cannot send.
export async function download(path, params, tenant, filename) {
  const r = await request(path, params, tenant);
  if (!r.ok) throw new ApiError(`${path}: ${(await r.text()).slice(0, 300)}`, r.status);
  const blob = await r.blob();
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => {
    URL.revokeObjectURL(a.href);
    a.remove();
  }, 1000);
}

// A Connect unary call in JSON (querier.v1.QuerierService/<method>).
export async function connect(method, body, tenant, signal) {
  const h = headers(tenant);
  h['Content-Type'] = 'application/json';
  let r;
  try {
    r = await fetch(`querier.v1.QuerierService/${method}`, { method: 'POST', headers: h, body: JSON.stringify(body), signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(`cannot reach kiln (${e.message})`, 0);
  }
  const j = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(`${method}: ${(j && j.message) || r.statusText}`, r.status, j && j.code);
  return j || {};
}

export const api = {
  // {dataIngested, oldestProfileTime, newestProfileTime (ms, as strings)}
  profileStats: (tenant, signal) => connect('GetProfileStats', {}, tenant, signal),
  services: (tenant, from, until, signal) =>
    getJSON('pyroscope/label-values', { label: 'service_name', from, until }, tenant, signal),
  profileTypes: (tenant, selector, from, until, signal) =>
    getJSON('pyroscope/label-values', { label: '__name__', query: selector, from, until }, tenant, signal),
  labelNames: (tenant, selector, from, until, signal) =>
    getJSON('pyroscope/labels', { query: selector, from, until }, tenant, signal),
  render: (tenant, query, from, until, maxNodes, signal) =>
    getJSON('pyroscope/render', { query, from, until, format: 'json', maxNodes }, tenant, signal),
  renderDiff: (tenant, left, right, maxNodes, signal) =>
    getJSON('pyroscope/render-diff', {
      leftQuery: left.query, leftFrom: left.from, leftUntil: left.until,
      rightQuery: right.query, rightFrom: right.from, rightUntil: right.until, maxNodes,
    }, tenant, signal),
  findings: (tenant, query, from, until, top, signal) =>
    getJSON('kiln/v1/findings', { query, from, until, top }, tenant, signal),
};

// ---- times -------------------------------------------------------------------------------

const UNIT_MS = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3, M: 30 * 86400e3, y: 365 * 86400e3 };

// A time as kiln reads it (`now`, `now-1h`, Unix s/ms/µs/ns) or a date the
// browser can read ("2026-11-22T04:00", local time), in Unix ms.
export function parseTime(text, nowMs) {
  const s = String(text == null ? '' : text).trim();
  if (s === '' || s === 'now') return nowMs;
  const rel = /^now\s*([-+])\s*(\d+)\s*(s|m|h|d|w|M|y)$/.exec(s);
  if (rel) return nowMs + (rel[1] === '-' ? -1 : 1) * Number(rel[2]) * UNIT_MS[rel[3]];
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (s.length >= 19) return Math.floor(n / 1e6);
    if (s.length >= 16) return Math.floor(n / 1e3);
    if (s.length >= 13) return n;
    return n * 1000;
  }
  const d = Date.parse(s);
  if (Number.isNaN(d)) throw new Error(`cannot read the time "${s}" (use now-1h, Unix seconds or 2026-01-31T12:00)`);
  return d;
}

// "2026-11-22T04:05:06" in local time, as <input type=datetime-local> shows it.
export function toLocalInput(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

// Short: the time alone for today, else the day and the time.
export function fmtShort(ms) {
  const d = new Date(ms);
  const today = new Date();
  const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  if (d.toDateString() === today.toDateString()) return time;
  return d.toLocaleDateString(undefined, { year: d.getFullYear() === today.getFullYear() ? undefined : 'numeric', month: 'short', day: 'numeric' }) + ' ' + time;
}

export function fmtDate(ms) {
  return new Date(ms).toLocaleString(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

// ---- selectors -----------------------------------------------------------------------------

function quote(v) {
  return '"' + String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

// The matchers of a label filter the user typed: `{env="prod"}` or `env="prod"`.
export function selectorInner(text) {
  let s = String(text || '').trim();
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1);
  return s.trim().replace(/,\s*$/, '');
}

// `{service_name="svc", <filter>}`; an empty service selects every service.
export function selector(service, filter) {
  const parts = [];
  if (service) parts.push(`service_name=${quote(service)}`);
  const inner = selectorInner(filter);
  if (inner) parts.push(inner);
  return '{' + parts.join(', ') + '}';
}

// ---- profile types and numbers ---------------------------------------------------------------

// name:sample_type:sample_unit:period_type:period_unit
export function parseType(id) {
  const p = String(id || '').split(':');
  return { id, name: p[0] || '', sampleType: p[1] || '', unit: p[2] || '', periodType: p[3] || '', periodUnit: p[4] || '' };
}

export function typeLabel(id) {
  const t = parseType(id);
  return t.sampleType ? `${t.name} · ${t.sampleType}` : id;
}

function trim3(x) {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

// A value in the profile's unit, for people: 1.50 s, 12.3 MiB, 4.20k.
export function fmtValue(v, unit) {
  const a = Math.abs(v);
  const sign = v < 0 ? '-' : '';
  if (unit === 'nanoseconds') {
    if (a >= 3600e9) return sign + trim3(a / 3600e9) + ' h';
    if (a >= 60e9) return sign + trim3(a / 60e9) + ' min';
    if (a >= 1e9) return sign + trim3(a / 1e9) + ' s';
    if (a >= 1e6) return sign + trim3(a / 1e6) + ' ms';
    if (a >= 1e3) return sign + trim3(a / 1e3) + ' µs';
    return sign + a + ' ns';
  }
  if (unit === 'bytes') {
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let i = 0;
    let x = a;
    while (x >= 1024 && i < u.length - 1) {
      x /= 1024;
      i++;
    }
    return sign + (i === 0 ? String(x) : trim3(x)) + ' ' + u[i];
  }
  if (a < 1000) return sign + String(a);
  const u = ['', 'k', 'M', 'G', 'T', 'P'];
  let i = 0;
  let x = a;
  while (x >= 1000 && i < u.length - 1) {
    x /= 1000;
    i++;
  }
  return sign + trim3(x) + u[i];
}

export function fmtShare(x) {
  if (!Number.isFinite(x)) return '–';
  const p = Math.round(x * 1e8) / 1e6; // percent; float noise (0.2 - 0.3) rounded away
  if (p === 0) return '0%';
  if (Math.abs(p) >= 10) return p.toFixed(1) + '%';
  if (Math.abs(p) >= 0.01) return p.toFixed(2) + '%';
  return '<0.01%';
}

export function escapeHTML(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}
