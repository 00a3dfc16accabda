// web/flame.js — flame graphs with d3-flame-graph (global `flamegraph`, which
// uses the global `d3`): kiln's flamebearer levels turned into the nested
// {name, value, children} tree the library draws, single and diff, with
// colours, tooltips, search and zoom.
//
// Flamebearer levels (what /pyroscope/render answers): level i lists the
// frames at depth i, 4 numbers each — [x offset from the end of the previous
// frame of the level, total, self, name index]; a diff (render-diff) has 7 —
// [left offset, left total, left self, right offset, right total, right self,
// name]. A frame's parent is the frame one level up whose span holds it (for
// a diff, the sum of the left and right spans, which both trees share).

/* global d3, flamegraph */

import { escapeHTML, fmtShare, fmtValue } from './api.js';

function buildTree(names, levels, per, span) {
  let prev = [];
  let root = null;
  for (let depth = 0; depth < levels.length; depth++) {
    const lv = levels[depth];
    const cur = [];
    const pos = new Array(per === 7 ? 2 : 1).fill(0);
    let p = 0; // walks prev: frames come in x order on both levels
    for (let k = 0; k + per - 1 < lv.length; k += per) {
      const node = { name: names[lv[k + per - 1]], children: [] };
      if (per === 4) {
        pos[0] += lv[k];
        node.x = pos[0];
        node.value = lv[k + 1];
        node.self = lv[k + 2];
        pos[0] += lv[k + 1];
      } else {
        pos[0] += lv[k];
        pos[1] += lv[k + 3];
        node.x = pos[0] + pos[1];
        node.left = lv[k + 1];
        node.selfLeft = lv[k + 2];
        node.right = lv[k + 4];
        node.selfRight = lv[k + 5];
        node.value = node.left + node.right;
        pos[0] += lv[k + 1];
        pos[1] += lv[k + 4];
      }
      if (depth === 0) {
        if (!root) root = node;
      } else {
        while (p < prev.length && span(prev[p]) <= node.x) p++;
        if (p >= prev.length) continue; // malformed: a frame outside every parent
        prev[p].children.push(node);
      }
      cur.push(node);
    }
    prev = cur;
  }
  return root || { name: 'total', value: 0, self: 0, children: [] };
}

export function treeFromFlamebearer(fb) {
  return buildTree(fb.names, fb.levels, 4, (n) => n.x + n.value);
}

export function treeFromDiff(fb) {
  return buildTree(fb.names, fb.levels, 7, (n) => n.x + n.value);
}

// ---- colours ------------------------------------------------------------------------------------

const PALETTE = [
  '#f2a65a', '#e9c46a', '#8ecae6', '#a8dadc', '#b5e48c', '#f4a261', '#cdb4db', '#ffafcc',
  '#90be6d', '#f9c74f', '#bde0fe', '#ffc8a2', '#c9ada7', '#98c1d9', '#e5989b', '#b8c0ff',
];

// The package of a frame name: what pprof-style names share per library.
function packageOf(name) {
  let s = String(name);
  const paren = s.indexOf('(');
  if (paren > 0) s = s.slice(0, paren);
  if (s.includes('::')) return s.split('::')[0];
  const slash = s.lastIndexOf('/');
  const dot = s.indexOf('.', slash + 1);
  return dot > 0 ? s.slice(0, dot) : s;
}

function colourFor(name) {
  if (name === 'total') return '#9aa5b1';
  if (name === 'other') return '#cfd4da';
  const p = packageOf(name);
  let h = 2166136261;
  for (let i = 0; i < p.length; i++) h = Math.imul(h ^ p.charCodeAt(i), 16777619);
  return PALETTE[(h >>> 0) % PALETTE.length];
}

export const DIM = '#e4e7eb'; // frames that do not match an active search

// Diff: red where the comparison spends a larger share than the baseline,
// green where smaller, grey where the same; saturated at ±100 %.
function diffColour(data, lt, rt) {
  const l = lt ? data.left / lt : 0;
  const r = rt ? data.right / rt : 0;
  if (!data.left && data.right) return '#c0392b';
  if (data.left && !data.right) return '#27ae60';
  const ch = l ? (r - l) / l : 0;
  if (Math.abs(ch) < 0.01) return '#d5d8dc';
  const t = Math.min(1, Math.abs(ch));
  return ch > 0 ? d3.interpolateRgb('#f5d0cc', '#c0392b')(t) : d3.interpolateRgb('#cdeccf', '#27ae60')(t);
}

export function diffChange(data, lt, rt) {
  const l = lt ? data.left / lt : 0;
  const r = rt ? data.right / rt : 0;
  if (!l) return r ? Infinity : 0;
  return (r - l) / l;
}

// ---- the view ---------------------------------------------------------------------------------------

export class FlameView {
  // el: the container; details: an element for hover/search text;
  // onZoom(node|null) and onSearch(matches, sum, total) report to the page.
  constructor(el, details, { onZoom, onSearch } = {}) {
    this.el = el;
    this.details = details;
    this.onZoom = onZoom || (() => {});
    this.onSearch = onSearch || (() => {});
    this.chart = null;
    this.tip = null;
    this.term = '';
    this.opts = null;
    this.tree = null;
  }

  clear(message) {
    this.destroy();
    this.el.textContent = '';
    if (message) {
      const p = document.createElement('p');
      p.className = 'empty';
      p.textContent = message;
      this.el.appendChild(p);
    }
    this.el.dataset.frames = '0';
  }

  destroy() {
    if (this.chart) this.chart.destroy();
    if (this.tip && this.tip.destroy) this.tip.destroy();
    this.chart = null;
    this.tip = null;
  }

  // opts: {unit, diff, leftTicks, rightTicks, inverted}
  render(tree, opts) {
    this.tree = tree;
    this.opts = opts;
    this.draw();
  }

  draw() {
    const { tree, opts } = this;
    if (!tree) return;
    this.destroy();
    this.el.textContent = '';
    const total = tree.value;
    const unit = opts.unit;
    const lt = opts.leftTicks;
    const rt = opts.rightTicks;
    const label = (d) => {
      const n = d.data;
      if (opts.diff) {
        const ch = diffChange(n, lt, rt);
        const chs = ch === Infinity ? 'new' : (ch > 0 ? '+' : '') + fmtShare(ch);
        return `${n.name}\nbaseline: ${fmtValue(n.left, unit)} (${fmtShare(n.left / lt)})` +
          `\ncomparison: ${fmtValue(n.right, unit)} (${fmtShare(n.right / rt)})\nchange: ${chs}`;
      }
      return `${n.name}\ntotal: ${fmtValue(n.value, unit)} (${fmtShare(n.value / total)})` +
        `\nself: ${fmtValue(n.self, unit)} (${fmtShare(n.self / total)})`;
    };
    const tip = flamegraph.tooltip.defaultFlamegraphTooltip().html((d) => {
      const lines = label(d).split('\n');
      return `<div class="tip-name">${escapeHTML(lines[0])}</div>` +
        lines.slice(1).map((l) => `<div>${escapeHTML(l)}</div>`).join('');
    });
    this.tip = tip;
    const width = Math.max(300, Math.floor(this.el.clientWidth));
    const chart = flamegraph.default()
      .width(width)
      .cellHeight(20)
      .minFrameSize(1)
      .transitionDuration(300)
      .inverted(!!opts.inverted)
      .sort(false)
      .tooltip(tip)
      .label(label)
      .setSearchMatch((d, term) => !!term && String(d.data.name).toLowerCase().includes(term.toLowerCase()))
      .setSearchHandler((matches, sum, all) => this.onSearch(matches, sum, all))
      .setDetailsHandler(() => {})
      .onClick((d) => this.onZoom(d.depth === 0 ? null : d));
    chart.setColorMapper((d) => {
      if (this.term && !d.highlight) return DIM;
      if (opts.diff) return diffColour(d.data, lt, rt);
      return colourFor(d.data.name);
    });
    this.chart = chart;
    d3.select(this.el).datum(tree).call(chart);
    this.el.dataset.frames = String(this.el.querySelectorAll('g.frame').length);
    this.el.dataset.total = String(total);
    if (this.term) chart.search(this.term);
  }

  search(term) {
    this.term = term || '';
    if (!this.chart) return;
    if (this.term) this.chart.search(this.term);
    else {
      this.chart.clear();
      this.onSearch([], 0, this.tree ? this.tree.value : 0);
    }
  }

  resetZoom() {
    if (this.chart) this.chart.resetZoom();
    this.onZoom(null);
  }

  setInverted(on) {
    if (!this.opts) return;
    this.opts.inverted = on;
    this.draw();
  }

  resize() {
    if (this.chart && this.el.clientWidth && Math.abs(this.el.clientWidth - this.chart.width()) > 2) this.draw();
  }
}
