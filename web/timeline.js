// web/timeline.js — the timeline of the total: the `timeline` of
// /pyroscope/render ({startTime (Unix s), durationDelta (s), samples[]},
// bucket i holding the profiles of [start + i·step, start + (i+1)·step)),
// drawn with d3 as a step area with a time axis. Dragging over it selects a
// time range (onSelect(fromMs, untilMs)); `bands` shade ranges (the diff
// view's baseline and comparison).

/* global d3 */

import { fmtValue, fmtDate } from './api.js';

export class Timeline {
  constructor(el, { onSelect } = {}) {
    this.el = el;
    this.onSelect = onSelect || (() => {});
    this.last = null;
  }

  clear(message) {
    this.last = null;
    this.el.textContent = '';
    if (message) {
      const p = document.createElement('p');
      p.className = 'empty small';
      p.textContent = message;
      this.el.appendChild(p);
    }
  }

  // tl: the render timeline; fromMs/untilMs: the queried range; bands:
  // [{from, until, cls, label}]
  render(tl, unit, fromMs, untilMs, bands = []) {
    this.last = { tl, unit, fromMs, untilMs, bands };
    this.el.textContent = '';
    const width = Math.max(300, this.el.clientWidth);
    const height = 120;
    const m = { top: 8, right: 12, bottom: 22, left: 64 };
    const step = (tl.durationDelta || 15) * 1000;
    const pts = (tl.samples || []).map((v, i) => ({ t: tl.startTime * 1000 + i * step, v }));
    const svg = d3.select(this.el).append('svg').attr('width', width).attr('height', height)
      .attr('class', 'timeline-svg');
    const x = d3.scaleTime().domain([fromMs, untilMs]).range([m.left, width - m.right]);
    const maxV = d3.max(pts, (p) => p.v) || 1;
    const y = d3.scaleLinear().domain([0, maxV]).nice(3).range([height - m.bottom, m.top]);

    for (const b of bands) {
      const x0 = Math.max(m.left, x(b.from));
      const x1 = Math.min(width - m.right, x(b.until));
      if (x1 <= x0) continue;
      svg.append('rect').attr('class', 'band ' + (b.cls || '')).attr('x', x0).attr('y', m.top)
        .attr('width', x1 - x0).attr('height', height - m.bottom - m.top);
      if (b.label) svg.append('text').attr('class', 'band-label ' + (b.cls || '')).attr('x', x0 + 4)
        .attr('y', m.top + 12 + 14 * bands.indexOf(b)).text(b.label);
    }

    // a step per bucket: the value holds from t to t + step
    const steps = [];
    for (const p of pts) {
      if (p.t + step < fromMs || p.t > untilMs) continue;
      steps.push({ t: Math.max(p.t, fromMs), v: p.v });
      steps.push({ t: Math.min(p.t + step, untilMs), v: p.v });
    }
    const area = d3.area().x((p) => x(p.t)).y0(y(0)).y1((p) => y(p.v));
    const line = d3.line().x((p) => x(p.t)).y((p) => y(p.v));
    svg.append('path').datum(steps).attr('class', 'area').attr('d', area);
    svg.append('path').datum(steps).attr('class', 'line').attr('d', line);

    svg.append('g').attr('class', 'axis').attr('transform', `translate(0,${height - m.bottom})`)
      .call(d3.axisBottom(x).ticks(Math.max(2, Math.floor(width / 120))).tickSizeOuter(0));
    svg.append('g').attr('class', 'axis').attr('transform', `translate(${m.left},0)`)
      .call(d3.axisLeft(y).ticks(3).tickFormat((v) => fmtValue(v, unit)).tickSizeOuter(0));

    const brush = d3.brushX().extent([[m.left, m.top], [width - m.right, height - m.bottom]])
      .on('end', (ev) => {
        if (!ev.sourceEvent || !ev.selection) return;
        const [a, b] = ev.selection.map((px) => x.invert(px).getTime());
        svg.select('.brush').call(brush.move, null);
        if (b - a >= 1000) this.onSelect(Math.round(a), Math.round(b));
      });
    svg.append('g').attr('class', 'brush').call(brush);

    // hover: the bucket under the pointer
    const hover = svg.append('text').attr('class', 'hover').attr('x', width - m.right).attr('y', m.top + 10)
      .attr('text-anchor', 'end');
    svg.on('mousemove', (ev) => {
      const t = x.invert(d3.pointer(ev)[0]).getTime();
      const i = Math.floor((t - tl.startTime * 1000) / step);
      if (i >= 0 && i < pts.length) hover.text(`${fmtDate(pts[i].t)}: ${fmtValue(pts[i].v, unit)}`);
    }).on('mouseleave', () => hover.text(''));
  }

  resize() {
    const l = this.last;
    if (l) this.render(l.tl, l.unit, l.fromMs, l.untilMs, l.bands);
  }
}
