// tests/ui/unit_test.mjs — the web UI's pure helpers under node, no browser:
// time parsing as kiln reads times, selectors, value formats, and the
// flamebearer -> tree conversion (single and diff) on answers kiln gives for
// known folded input (the expected trees are that input). Run by
// tests/runtime/test_ui.sh before the browser part; prints ok / not ok lines.

import { fmtShare, fmtValue, parseTime, selector, selectorInner, typeLabel } from '../../web/api.js';
import { treeFromDiff, treeFromFlamebearer } from '../../web/flame.js';

let fail = 0;
function check(what, cond, detail) {
  console.log(`${cond ? 'ok' : 'not ok'} - js: ${what}${cond || !detail ? '' : ': ' + detail}`);
  if (!cond) fail++;
}
function throws(f) {
  try {
    f();
    return false;
  } catch (_) {
    return true;
  }
}

const now = 1795331192435;
check('parseTime now, now-1h, now-7d, now+30s', parseTime('now', now) === now && parseTime('now-1h', now) === now - 3600e3 &&
  parseTime('now-7d', now) === now - 7 * 86400e3 && parseTime('now+30s', now) === now + 30e3 && parseTime('', now) === now);
check('parseTime Unix s, ms, µs, ns', parseTime('1700000000', now) === 1700000000000 &&
  parseTime('1700000000123', now) === 1700000000123 && parseTime('1700000000123456', now) === 1700000000123 &&
  parseTime('1700000000123456789', now) === 1700000000123);
check('parseTime a local date', parseTime('2026-01-31T12:00', now) === new Date(2026, 0, 31, 12, 0).getTime());
check('parseTime refuses garbage', throws(() => parseTime('yesterday-ish', now)));

check('selector with a service and a filter', selector('svc', '{env="prod"}') === '{service_name="svc", env="prod"}');
check('selector without braces and a trailing comma', selector('svc', ' env=~"a.*", ') === '{service_name="svc", env=~"a.*"}');
check('selector escapes the service name', selector('a"b\\c', '') === '{service_name="a\\"b\\\\c"}');
check('selector of every service', selector('', '') === '{}' && selectorInner('{ }') === '');
check('typeLabel', typeLabel('memory:alloc_space:bytes:space:bytes') === 'memory · alloc_space');

check('fmtValue nanoseconds', fmtValue(1.5e9, 'nanoseconds') === '1.50 s' && fmtValue(12.3e6, 'nanoseconds') === '12.3 ms' &&
  fmtValue(90e9, 'nanoseconds') === '1.50 min' && fmtValue(999, 'nanoseconds') === '999 ns', fmtValue(1.5e9, 'nanoseconds'));
check('fmtValue bytes', fmtValue(1536, 'bytes') === '1.50 KiB' && fmtValue(512, 'bytes') === '512 B' &&
  fmtValue(5 * 1024 ** 3, 'bytes') === '5.00 GiB');
check('fmtValue counts', fmtValue(4200, 'count') === '4.20k' && fmtValue(42, 'count') === '42' && fmtValue(-4200, 'count') === '-4.20k');
check('fmtShare rounds float noise', fmtShare(0.2 - 0.3) === '-10.0%' && fmtShare(0.25) === '25.0%' &&
  fmtShare(0.0123) === '1.23%' && fmtShare(0.00001) === '<0.01%' && fmtShare(0) === '0%', fmtShare(0.2 - 0.3));

// /pyroscope/render of the folded input
//   main;work;a 30 / main;work;b 10 / main;idle 40 / main 20   (x 1e7 ns)
const fb = {
  names: ['total', 'main', 'work', 'b', 'a', 'idle'],
  levels: [[0, 1000000000, 0, 0], [0, 1000000000, 200000000, 1],
    [200000000, 400000000, 400000000, 5, 0, 400000000, 0, 2],
    [600000000, 300000000, 300000000, 4, 0, 100000000, 100000000, 3]],
  numTicks: 1000000000, maxSelf: 400000000,
};
const flat = (n, d = 0, out = []) => {
  out.push(`${'  '.repeat(d)}${n.name} ${n.value / 1e7}/${n.self / 1e7}`);
  n.children.forEach((c) => flat(c, d + 1, out));
  return out;
};
const t = treeFromFlamebearer(fb);
const want = ['total 100/0', '  main 100/20', '    idle 40/40', '    work 40/0', '      a 30/30', '      b 10/10'];
check('treeFromFlamebearer rebuilds the folded input', JSON.stringify(flat(t)) === JSON.stringify(want), flat(t).join(' | '));

// /pyroscope/render-diff: left the input above, right
//   main;work;a 10 / main;work;c 50 / main;idle 40
const diff = {
  names: ['total', 'main', 'work', 'c', 'b', 'a', 'idle'],
  levels: [[0, 1000000000, 0, 0, 1000000000, 0, 0], [0, 1000000000, 200000000, 0, 1000000000, 0, 1],
    [200000000, 400000000, 400000000, 0, 400000000, 400000000, 6, 0, 400000000, 0, 0, 600000000, 0, 2],
    [600000000, 300000000, 300000000, 400000000, 100000000, 100000000, 5, 0, 100000000, 100000000, 0, 0, 0, 4,
      0, 0, 0, 0, 500000000, 500000000, 3]],
};
const dflat = (n, d = 0, out = []) => {
  out.push(`${'  '.repeat(d)}${n.name} ${n.left / 1e7}|${n.right / 1e7}`);
  n.children.forEach((c) => dflat(c, d + 1, out));
  return out;
};
const dt = treeFromDiff(diff);
const dwant = ['total 100|100', '  main 100|100', '    idle 40|40', '    work 40|60', '      a 30|10', '      b 10|0', '      c 0|50'];
check('treeFromDiff aligns both sides (value = left + right)', JSON.stringify(dflat(dt)) === JSON.stringify(dwant) &&
  dt.value === 2e9 && dt.children[0].children[1].value === 1e9, dflat(dt).join(' | '));

process.exit(fail ? 1 : 0);
