// push.js — runs the real @pyroscope/nodejs client (pinned in package-lock.json)
// against kiln, for tests/integration/test_node_client.sh.
//
// Environment:
//   KILN_URL   kiln's base URL, e.g. http://127.0.0.1:4040 (required)
//   OUT_DIR    where to write a copy of every uploaded profile (required)
//   BUSY_MS    how long to keep the CPU busy with the profilers on (default 3000)
//   TENANT     the client's tenantID (sent as X-Scope-OrgID); none when unset
//
// The client's own code builds the request (URL, multipart body, pprof encoding);
// this script only wraps the global fetch it calls, to save the bytes of each
// `profile` part as OUT_DIR/upload-<n>.pb.gz and to print one line per upload:
//   upload n=1 status=200 bytes=1234 url=http://...
// so that the test can compute reference totals on exactly what was sent.
// Exits 1 when nothing was uploaded or an upload was not answered 200.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const Pyroscope = require('@pyroscope/nodejs');

const kilnUrl = process.env.KILN_URL;
const outDir = process.env.OUT_DIR;
const busyMs = Number(process.env.BUSY_MS || 3000);
if (!kilnUrl || !outDir) {
  console.error('push.js: KILN_URL and OUT_DIR are required');
  process.exit(2);
}

const realFetch = globalThis.fetch;
const uploads = [];
const inflight = new Set();
let seq = 0;

globalThis.fetch = function wrappedFetch(url, opts) {
  const n = ++seq;
  const p = (async () => {
    const part = opts && opts.body && typeof opts.body.get === 'function' ? opts.body.get('profile') : null;
    let bytes = -1;
    if (part) {
      const buf = Buffer.from(await part.arrayBuffer());
      bytes = buf.length;
      fs.writeFileSync(path.join(outDir, `upload-${n}.pb.gz`), buf);
    }
    try {
      const resp = await realFetch(url, opts);
      uploads.push({ n, status: resp.status, bytes });
      console.log(`upload n=${n} status=${resp.status} bytes=${bytes} url=${url}`);
      return resp;
    } catch (e) {
      uploads.push({ n, status: 0, bytes });
      console.log(`upload n=${n} status=0 bytes=${bytes} error=${JSON.stringify(String(e))} url=${url}`);
      throw e;
    }
  })();
  inflight.add(p);
  p.then(() => inflight.delete(p), () => inflight.delete(p));
  return p;
};

// CPU work in short slices that yield to the event loop, so the client's flush
// timers can fire while we are busy; keeps some allocations alive for the heap
// profile.
function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
const kept = [];
function slice() {
  const end = Date.now() + 20;
  let acc = 0;
  while (Date.now() < end) {
    acc += fib(18);
    const obj = { s: 'x'.repeat(256) + acc, a: new Array(64).fill(acc) };
    if (kept.length < 4000) kept.push(obj);
    else kept[acc % kept.length] = obj;
  }
  return acc;
}

async function main() {
  Pyroscope.init({
    serverAddress: kilnUrl,
    appName: 'nodeapp',
    tags: { region: 'test' },
    flushIntervalMs: 1000,
    wall: { samplingDurationMs: 1000, samplingIntervalMicros: 10000 },
    heap: { samplingIntervalBytes: 32 * 1024, stackDepth: 64 },
    tenantID: process.env.TENANT || undefined,
  });
  Pyroscope.start();
  const end = Date.now() + busyMs;
  let acc = 0;
  while (Date.now() < end) {
    acc += slice();
    await new Promise((resolve) => setImmediate(resolve));
  }
  await Pyroscope.stop();
  // The client does not await uploads started by its timer; wait for them.
  const deadline = Date.now() + 10000;
  while (inflight.size > 0 && Date.now() < deadline) {
    await Promise.race([...inflight, new Promise((r) => setTimeout(r, 100))]).catch(() => {});
  }
  console.error(`push.js: done (acc=${acc % 997}, kept=${kept.length}, uploads=${uploads.length})`);
  const bad = uploads.filter((u) => u.status !== 200);
  if (uploads.length === 0 || bad.length > 0 || inflight.size > 0) process.exit(1);
}

main().catch((e) => {
  console.error('push.js:', e);
  process.exit(1);
});
