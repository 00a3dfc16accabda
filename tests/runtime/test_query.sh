#!/usr/bin/env bash
# The query exporter through a real kiln: pprof receiver + blocks exporter +
# query exporter sharing one listener on 127.0.0.1, corpus files posted to
# /ingest, then queried over HTTP and compared with `go tool pprof` (Debian's
# golang-go) run on the same input files:
#
#   - per function, self and total of /kiln/v1/findings?top=0 equal flat and
#     cum of `go tool pprof -top -nodefraction=0 -nodecount=0 -symbolize=none
#     -unit=<base unit> -sample_index=<type>` on the posted files (several
#     files per service: pprof merges them as kiln does), for symbolized,
#     unsymbolized, CPU and heap profiles;
#   - the pprof answered by SelectMergeProfile (Connect, application/proto)
#     and by /pyroscope/render?format=pprof is readable by go tool pprof and
#     gives the same rows;
#   - the same totals while the data is only in the WAL (heads) and after the
#     heads were cut into blocks (nothing lost, nothing counted twice);
#   - tenant isolation (X-Scope-OrgID), `a|b` federation, selector semantics
#     (=, !=, =~, !~), the render JSON shape, SelectSeries points;
#   - latency of a flame graph over the ingested data (printed as a note).
#
# Needs python3 (JSON and protobuf handling in the checks) and go.
source "$(dirname "$0")/lib.sh"
CORPUS=${KILN_CORPUS:-$(dirname "$0")/../../../shared/corpus}
PORT=$(free_port); MPORT=$(free_port)
export GOCACHE=$WORK/gocache GOFLAGS= GOTOOLCHAIN=local GOTELEMETRY=off
if ! command -v go >/dev/null || ! command -v python3 >/dev/null; then
  bad "go and python3 are needed (golang-go, python3)"
  finish
  exit 1
fi

cat >"$WORK/k.yaml" <<YAML
receivers:
  pprof:
    endpoint: 127.0.0.1:$PORT
exporters:
  blocks:
    storage: {backend: filesystem, filesystem: {directory: $WORK/data}}
    wal_dir: $WORK/wal
    block_duration: 3s
    retention: 0s
    compaction: {enabled: false}
  query:
    endpoint: 127.0.0.1:$PORT
    storage: {backend: filesystem, filesystem: {directory: $WORK/data}}
    wal_dir: $WORK/wal
    sync_interval: 1h   # re-listing only when a WAL segment vanished: exercises that path
    max_query_length: 0s
service:
  shutdown_timeout: 5s
  telemetry:
    metrics: {address: 127.0.0.1:$MPORT}
  pipelines:
    profiles:
      receivers: [pprof]
      exporters: [blocks, query]
YAML
start_kiln "$WORK/k.yaml" || { finish; exit 1; }

# post FILE NAME [TENANT]
post() {
  local h=()
  [ -n "${3:-}" ] && h=(-H "X-Scope-OrgID: $3")
  curl -g -s -o /dev/null -w '%{http_code}' --max-time 30 "${h[@]}" --data-binary @"$CORPUS/$1" \
    "http://127.0.0.1:$PORT/ingest?name=$2&format=pprof"
}
posted_ok=1
p() { local c; c=$(post "$@"); [ "$c" = 200 ] || { posted_ok=0; echo "post $* -> $c"; }; }
p pprof__sample.cpu.pb.gz 'cpu1{env=prod}'
p pprof__sample.cpu.pb.gz 'cpu1{env=prod}'
p pprof__sample.cpu.pb.gz 'cpu1{env=prod}' team-b
p pprof__large.cpu.pb.gz 'large{env=staging}'
p parca__fib.pb.gz 'fib{env=prod-eu}'
p parca__normal-cpu.stripped.pprof.gz 'stripped{env=prod}'
p parca__profile-with-labels.pb.gz 'native{env=lab}'
MANY=()
for f in "$CORPUS"/parca__many_*.pb.gz; do MANY+=("$(basename "$f")"); p "$(basename "$f")" 'heap{env=prod}'; done
check "every profile was accepted (200)" [ "$posted_ok" = 1 ]

cat >"$WORK/check.py" <<'PY'
# check.py — helpers of test_query.sh: compares kiln's answers with go tool pprof.
import json, os, re, struct, subprocess, sys, urllib.request, gzip, time

PORT = os.environ["PORT"]; CORPUS = os.environ["CORPUS"]; WORK = os.environ["WORK"]
BASE = "http://127.0.0.1:%s" % PORT
UNITS = {"nanoseconds": "ns", "bytes": "B", "count": "count"}

def http(path, body=None, headers=None, method=None):
    req = urllib.request.Request(BASE + path, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)

def pprof_top(files, sample_type, unit):
    cmd = ["go", "tool", "pprof", "-top", "-nodefraction=0", "-nodecount=0", "-symbolize=none",
           "-unit=" + UNITS.get(unit, "count"), "-sample_index=" + sample_type] + files
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows, total, on = {}, None, False
    for line in out.splitlines():
        m = re.search(r"of (-?\d+)\S* total", line)
        if m: total = int(m.group(1))
        if re.match(r"\s+flat\s+flat%", line): on = True; continue
        if not on: continue
        m = re.match(r"\s*(-?\d+)\S*\s+\S+%\s+\S+%\s+(-?\d+)\S*\s+\S+%\s+(.*)$", line)
        if not m: continue
        name = re.sub(r" \((partial-)?inline\)$", "", m.group(3))
        rows[name] = (int(m.group(1)), int(m.group(2)))
    if total is None:  # "Showing nodes accounting for X, 100% of X total" absent when empty
        total = 0
    return total, rows

def findings(query, tenant=None):
    h = {"X-Scope-OrgID": tenant} if tenant else {}
    st, body, _ = http("/kiln/v1/findings?" + urllib.parse.urlencode(
        {"query": query, "from": "0", "until": "now", "top": "0"}), headers=h)
    if st != 200: raise SystemExit("findings %s: %d %s" % (query, st, body[:300]))
    return json.loads(body)

def compare(what, query, files, sample_type, unit, tenant=None):
    total, ref = pprof_top([os.path.join(CORPUS, f) for f in files], sample_type, unit)
    f = findings(query, tenant)
    got = {r["name"]: (r["self"], r["total"]) for r in f["topSelf"]}
    bad = [n for n in set(ref) | set(got) if ref.get(n, (0, 0)) != got.get(n, (0, 0))]
    for n in sorted(bad)[:5]:
        print("  %s: %s kiln %s, go tool pprof %s" % (what, n, got.get(n), ref.get(n)))
    ok = f["total"] == total and not bad and len(ref) > 0
    print("%s: %d functions, total %d (go %d), %d differ" % (what, len(got), f["total"], total, len(bad)))
    return ok

def varint(n):
    out = b""
    while True:
        b = n & 0x7F; n >>= 7
        if n: out += bytes([b | 0x80])
        else: return out + bytes([b])

def pb_str(num, s):
    s = s.encode(); return varint(num << 3 | 2) + varint(len(s)) + s

def pb_int(num, v):
    return varint(num << 3) + varint(v & 0xFFFFFFFFFFFFFFFF)

def merge_profile(ptype, selector, out):
    body = pb_str(1, ptype) + pb_str(2, selector) + pb_int(3, 0) + pb_int(4, int(time.time() * 1000))
    st, resp, hdr = http("/querier.v1.QuerierService/SelectMergeProfile", body,
                         {"Content-Type": "application/proto", "Connect-Protocol-Version": "1"})
    if st != 200 or hdr.get("Content-Type") != "application/proto":
        raise SystemExit("SelectMergeProfile: %d %s" % (st, resp[:200]))
    open(out, "wb").write(resp)

def compare_files(what, mine, files, sample_type, unit):
    t1, r1 = pprof_top([mine], sample_type, unit)
    t2, r2 = pprof_top([os.path.join(CORPUS, f) for f in files], sample_type, unit)
    ok = t1 == t2 and r1 == r2 and len(r1) > 0
    print("%s: go tool pprof reads it: total %d (inputs %d), %d rows (inputs %d), %s" %
          (what, t1, t2, len(r1), len(r2), "same rows" if r1 == r2 else "ROWS DIFFER"))
    return ok

cmd = sys.argv[1]
if cmd == "compare":
    ok = compare(sys.argv[2], sys.argv[3], sys.argv[6:], sys.argv[4], sys.argv[5])
    sys.exit(0 if ok else 1)
if cmd == "merge":  # merge NAME PTYPE SELECTOR SAMPLE_TYPE UNIT FILES...
    out = os.path.join(WORK, sys.argv[2] + ".pb")
    merge_profile(sys.argv[3], sys.argv[4], out)
    sys.exit(0 if compare_files("SelectMergeProfile " + sys.argv[2], out, sys.argv[7:], sys.argv[5], sys.argv[6]) else 1)
if cmd == "total":  # total QUERY [TENANT]: SelectMergeStacktraces total (JSON Connect)
    q = sys.argv[2]; tenant = sys.argv[3] if len(sys.argv) > 3 else None
    i = q.index("{")
    body = json.dumps({"profileTypeID": q[:i], "labelSelector": q[i:], "start": "0",
                       "end": str(int(time.time() * 1000))}).encode()
    h = {"Content-Type": "application/json"}
    if tenant: h["X-Scope-OrgID"] = tenant
    st, resp, _ = http("/querier.v1.QuerierService/SelectMergeStacktraces", body, h)
    if st != 200: print("status", st, resp[:300]); sys.exit(1)
    fg = json.loads(resp)["flamegraph"]
    print(int(fg.get("total", "0")))
    sys.exit(0)
if cmd == "gototal":  # gototal SAMPLE_TYPE UNIT FILES...
    print(pprof_top([os.path.join(CORPUS, f) for f in sys.argv[4:]], sys.argv[2], sys.argv[3])[0])
    sys.exit(0)
if cmd == "render":  # render QUERY WANT_TOTAL: the flamebearer JSON shape
    st, resp, _ = http("/pyroscope/render?" + urllib.parse.urlencode(
        {"query": sys.argv[2], "from": "0", "until": "now", "format": "json", "maxNodes": "64"}))
    j = json.loads(resp)
    fb, md, tl = j["flamebearer"], j["metadata"], j["timeline"]
    want = int(sys.argv[3])
    nodes = sum(len(l) // 4 for l in fb["levels"])
    # max_nodes: only nodes at the threshold (the 64th largest total) or
    # above are kept, so fewer than 64 real nodes are strictly above the
    # smallest kept one
    real = [l[k + 1] for l in fb["levels"][1:] for k in range(0, len(l), 4)
            if fb["names"][l[k + 3]] != "other"]
    above = sum(1 for v in real if v > min(real)) if real else 0
    selfs = sum(l[k + 2] for l in fb["levels"] for k in range(0, len(l), 4))
    checks = [st == 200, set(fb) == {"names", "levels", "numTicks", "maxSelf"},
              fb["names"][0] == "total", fb["numTicks"] == want, selfs == want,
              md["format"] == "single" and md["units"] == "samples" and md["name"] == "cpu",
              md["sampleRate"] == 1000000000, sum(tl["samples"]) == want,
              isinstance(tl["startTime"], int) and tl["durationDelta"] >= 15, 0 < above < 64,
              "other" in fb["names"],
              j["version"] == 1]
    print("render: numTicks %d, %d nodes (%d above the cut), %d levels, timeline %d samples of %ds: %s" %
          (fb["numTicks"], nodes, above, len(fb["levels"]), len(tl["samples"]), tl["durationDelta"], checks))
    sys.exit(0 if all(checks) else 1)
if cmd == "renderpprof":  # renderpprof QUERY FILES...: the gzip pprof export
    st, resp, hdr = http("/pyroscope/render?" + urllib.parse.urlencode(
        {"query": sys.argv[2], "from": "0", "until": "now", "format": "pprof"}))
    out = os.path.join(WORK, "render.pb.gz")
    open(out, "wb").write(resp)
    ok = st == 200 and resp[:2] == b"\x1f\x8b"
    sys.exit(0 if ok and compare_files("render?format=pprof", out, sys.argv[3:], "cpu", "nanoseconds") else 1)
if cmd == "truncated":  # truncated PTYPE SELECTOR MAX_NODES SAMPLE_TYPE UNIT FILES...: SelectMergeProfile max_nodes
    body = pb_str(1, sys.argv[2]) + pb_str(2, sys.argv[3]) + pb_int(3, 0) + \
        pb_int(4, int(time.time() * 1000)) + pb_int(5, int(sys.argv[4]))
    st, resp, _ = http("/querier.v1.QuerierService/SelectMergeProfile", body,
                       {"Content-Type": "application/proto", "Connect-Protocol-Version": "1"})
    out = os.path.join(WORK, "truncated.pb")
    open(out, "wb").write(resp)
    t1, r1 = pprof_top([out], sys.argv[5], sys.argv[6])
    t2, r2 = pprof_top([os.path.join(CORPUS, f) for f in sys.argv[7:]], sys.argv[5], sys.argv[6])
    over = [n for n in r1 if n != "other" and r1[n][1] > r2.get(n, (0, 0))[1]]
    ok = st == 200 and t1 == t2 and "other" in r1 and len(r1) < len(r2) and not over
    print("max_nodes %s: total %d (inputs %d), %d functions (inputs %d), other %s, %d cum above the input's" %
          (sys.argv[4], t1, t2, len(r1), len(r2), r1.get("other"), len(over)))
    sys.exit(0 if ok else 1)
if cmd == "tree":  # tree PTYPE SELECTOR MAX_NODES SAMPLE_TYPE UNIT FILES...: format TREE
    import base64
    def get_tree(max_nodes):
        body = json.dumps({"profileTypeID": sys.argv[2], "labelSelector": sys.argv[3], "start": "0",
                           "end": str(int(time.time() * 1000)), "maxNodes": str(max_nodes),
                           "format": "PROFILE_FORMAT_TREE"}).encode()
        st, resp, _ = http("/querier.v1.QuerierService/SelectMergeStacktraces", body,
                           {"Content-Type": "application/json"})
        if st != 200: raise SystemExit("TREE: %d %s" % (st, resp[:300]))
        return base64.b64decode(json.loads(resp)["tree"])
    # depth first: per node name, self, child count -> [(name, self, total)], bytes read
    def parse_tree(b):
        def uv(o):
            v = sh = 0
            while True:
                c = b[o]; o += 1; v |= (c & 0x7F) << sh; sh += 7
                if c < 0x80: return v, o
        nodes, o, open_ = [], 0, []
        while True:
            l, o = uv(o); name = b[o:o + l].decode(); o += l
            v, o = uv(o); k, o = uv(o)
            nodes.append([name, v, v])
            for e in open_: nodes[e[0]][2] += v
            if open_: open_[-1][1] -= 1
            if k: open_.append([len(nodes) - 1, k])
            while open_ and open_[-1][1] == 0: open_.pop()
            if not open_: return nodes[1:], o
    mx = int(sys.argv[4])
    b = get_tree(mx)
    nodes, used = parse_tree(b)
    selfs = {}
    for name, v, _ in nodes: selfs[name] = selfs.get(name, 0) + v
    real = sum(1 for n in nodes if n[0] != "other")
    t2, r2 = pprof_top([os.path.join(CORPUS, f) for f in sys.argv[7:]], sys.argv[5], sys.argv[6])
    flat = {n: f for n, (f, c) in r2.items() if f}
    total = sum(selfs.values())
    if mx >= 1000000:  # untruncated: self per function = go tool pprof's flat
        ok = {n: v for n, v in selfs.items() if v} == flat
        want = real
    else:  # the nodes at or above the mx-th largest total of the whole tree stay (ties too)
        full, _ = parse_tree(get_tree(1048576))
        tot = sorted((n[2] for n in full), reverse=True)
        want = sum(1 for t in tot if t >= tot[mx - 1]) if len(tot) > mx else len(tot)
        ok = "other" in selfs and real == want
    ok = ok and used == len(b) and total == t2
    print("TREE max_nodes %s: %d nodes (%d not \"other\", %d expected), %d bytes, self total %d (go %d)" %
          (sys.argv[4], len(nodes), real, want, len(b), total, t2))
    sys.exit(0 if ok else 1)
if cmd == "dot":  # dot QUERY MAXNODES SAMPLE_TYPE UNIT FILES...: render?format=dot vs go tool pprof
    st, resp, hdr = http("/pyroscope/render?" + urllib.parse.urlencode(
        {"query": sys.argv[2], "from": "0", "until": "now", "format": "dot", "maxNodes": sys.argv[3]}))
    d = resp.decode()
    nodes = {}
    for m in re.finditer(r'^N(\d+) \[label="((?:[^"\\]|\\.)*)\\n(-?\d+) \([\d.]+%\)\\nof (-?\d+) ', d, re.M):
        name = m.group(2).replace('\\"', '"').replace("\\\\", "\\")
        nodes[name] = (int(m.group(3)), int(m.group(4)))
    edges = re.findall(r"^N(\d+) -> N(\d+) \[label=\" (\d+)\"", d, re.M)
    t2, r2 = pprof_top([os.path.join(CORPUS, f) for f in sys.argv[6:]], sys.argv[4], sys.argv[5])
    bad = [n for n in nodes if r2.get(n) != nodes[n]]
    low = min(c for f, c in nodes.values()) if nodes else 0
    missed = [n for n, (f, c) in r2.items() if c > low and n not in nodes]
    # Graphviz reads it (scripts/install-deps.sh --test installs graphviz)
    dot = subprocess.run(["dot", "-Tsvg"], input=resp, capture_output=True)
    ok = st == 200 and len(nodes) == int(sys.argv[3]) and not bad and not missed and len(edges) > 0 \
        and dot.returncode == 0 and b"<svg" in dot.stdout
    if dot.returncode: print("  dot -Tsvg: %s" % dot.stderr[:300])
    for n in bad[:3]: print("  %s: kiln %s, go tool pprof %s" % (n, nodes[n], r2.get(n)))
    print("DOT: %d nodes (flat/cum = go tool pprof's for %d), %d edges, %d heavier functions left out" %
          (len(nodes), len(nodes) - len(bad), len(edges), len(missed)))
    sys.exit(0 if ok else 1)
if cmd == "series":  # SelectSeries over the ten heap profiles: ten points, step 1 s
    body = json.dumps({"profileTypeID": "memory:alloc_space:bytes:space:bytes",
                       "labelSelector": '{service_name="heap"}', "start": "1644509270000",
                       "end": "1644509300000", "step": 1}).encode()
    st, resp, _ = http("/querier.v1.QuerierService/SelectSeries", body, {"Content-Type": "application/json"})
    s = json.loads(resp)["series"]
    pts = s[0]["points"]
    print("SelectSeries: %d series, %d points, sum %d" % (len(s), len(pts), sum(p["value"] for p in pts)))
    print(int(sum(p["value"] for p in pts)) if len(s) == 1 and len(pts) == 10 else -1)
    sys.exit(0)
if cmd == "latency":  # latency QUERY N: SelectMergeStacktraces timings
    q = sys.argv[2]; i = q.index("{"); n = int(sys.argv[3])
    body = json.dumps({"profileTypeID": q[:i], "labelSelector": q[i:], "start": "0",
                       "end": str(int(time.time() * 1000))}).encode()
    ts = []
    for _ in range(n):
        t = time.monotonic()
        st, resp, _ = http("/querier.v1.QuerierService/SelectMergeStacktraces", body,
                           {"Content-Type": "application/json"})
        ts.append(time.monotonic() - t)
        if st != 200: sys.exit(1)
    ts.sort()
    print("p50 %.1f ms, max %.1f ms over %d queries (%d bytes)" % (ts[n // 2] * 1e3, ts[-1] * 1e3, n, len(resp)))
    sys.exit(0)
PY
export PORT CORPUS WORK
py() { python3 "$WORK/check.py" "$@"; }
CPU=process_cpu:cpu:nanoseconds:cpu:nanoseconds
ALLOC=memory:alloc_space:bytes:space:bytes

# --- while the data is only in the WAL (heads) -------------------------------
cpu1_wal=$(py total "$CPU{service_name=\"cpu1\"}")
all_wal=$(py total "$CPU{}")
check "heads: findings of cpu1 = go tool pprof -top of the 2 posted files" \
  py compare cpu1-wal "$CPU{service_name=\"cpu1\"}" cpu nanoseconds pprof__sample.cpu.pb.gz pprof__sample.cpu.pb.gz

# --- after the heads were cut and uploaded as blocks ---------------------------
# (block_duration 3s: the blocks exporter cuts the heads, uploads them and
# deletes their WAL segments)
wal_left() { find "$WORK/wal" -name '*.wal' -size +0 2>/dev/null | grep -v team-b; }
for _ in $(seq 1 150); do
  [ -z "$(wal_left)" ] && [ "$(find "$WORK/data" -name meta.json | wc -l)" -ge 2 ] && break
  sleep 0.1
done
nblocks=$(find "$WORK/data" -name meta.json | wc -l)
check "heads were cut into blocks ($nblocks blocks, no WAL segment of anonymous left)" \
  [ "$nblocks" -ge 2 -a -z "$(wal_left)" ]
cpu1_blk=$(py total "$CPU{service_name=\"cpu1\"}")
all_blk=$(py total "$CPU{}")
check "the same totals from the heads and from the blocks (cpu1 $cpu1_wal/$cpu1_blk, all $all_wal/$all_blk)" \
  [ "$cpu1_wal" = "$cpu1_blk" -a "$all_wal" = "$all_blk" -a "$cpu1_blk" -gt 0 ]

check "findings of cpu1 = go tool pprof -top (2 files merged)" \
  py compare cpu1 "$CPU{service_name=\"cpu1\"}" cpu nanoseconds pprof__sample.cpu.pb.gz pprof__sample.cpu.pb.gz
check "findings of large.cpu (20430 samples) = go tool pprof -top" \
  py compare large "$CPU{service_name=\"large\"}" cpu nanoseconds pprof__large.cpu.pb.gz
check "findings of an unsymbolized profile = go tool pprof -top" \
  py compare stripped "$CPU{service_name=\"stripped\"}" cpu nanoseconds parca__normal-cpu.stripped.pprof.gz
check "findings of a native profile split by sample labels = go tool pprof -top" \
  py compare native "process_cpu:samples:count:cpu:nanoseconds{service_name=\"native\"}" samples count \
  parca__profile-with-labels.pb.gz
check "findings of ten heap profiles (alloc_space) = go tool pprof -top of the ten files" \
  py compare heap "$ALLOC{service_name=\"heap\"}" alloc_space bytes "${MANY[@]}"
check "findings with a regex selector = go tool pprof -top of the files it selects" \
  py compare regex "$CPU{env=~\"prod-.*|staging\"}" cpu nanoseconds pprof__large.cpu.pb.gz parca__fib.pb.gz

# --- pprof out ------------------------------------------------------------------------
check "SelectMergeProfile (proto) is read by go tool pprof with the inputs' rows" \
  py merge cpu1 "$CPU" '{service_name="cpu1"}' cpu nanoseconds pprof__sample.cpu.pb.gz pprof__sample.cpu.pb.gz
check "SelectMergeProfile of the ten heap profiles, as go tool pprof merges them" \
  py merge heap "$ALLOC" '{service_name="heap"}' alloc_space bytes "${MANY[@]}"
check "render?format=pprof (gzip) is read by go tool pprof with the inputs' rows" \
  py renderpprof "$CPU{service_name=\"large\"}" pprof__large.cpu.pb.gz
check "SelectMergeProfile max_nodes=500: go tool pprof reads it, same total, the rest in \"other\"" \
  py truncated "$CPU" '{service_name="large"}' 500 cpu nanoseconds pprof__large.cpu.pb.gz
check "format TREE (untruncated): self per function = go tool pprof's flat" \
  py tree "$CPU" '{service_name="large"}' 1048576 cpu nanoseconds pprof__large.cpu.pb.gz
check "format TREE max_nodes=300: same total, the rest in \"other\"" \
  py tree "$CPU" '{service_name="large"}' 300 cpu nanoseconds pprof__large.cpu.pb.gz
check "render?format=dot: the 40 heaviest functions with go tool pprof's flat and cum; dot -Tsvg draws it" \
  py dot "$CPU{service_name=\"large\"}" 40 cpu nanoseconds pprof__large.cpu.pb.gz

# --- tenants and selectors ---------------------------------------------------------------
one=$(py gototal cpu nanoseconds pprof__sample.cpu.pb.gz)
large=$(py gototal cpu nanoseconds pprof__large.cpu.pb.gz)
fib=$(py gototal cpu nanoseconds parca__fib.pb.gz)
stripped=$(py gototal cpu nanoseconds parca__normal-cpu.stripped.pprof.gz)
t() { py total "$@"; }
check "team-b sees only its own cpu1 profile ($(t "$CPU{service_name=\"cpu1\"}" team-b) = $one)" \
  [ "$(t "$CPU{service_name=\"cpu1\"}" team-b)" = "$one" ]
check "team-b sees nothing of anonymous's services" [ "$(t "$CPU{service_name=\"large\"}" team-b)" = 0 ]
check "anonymous|team-b sees both tenants' cpu1" [ "$(t "$CPU{service_name=\"cpu1\"}" 'anonymous|team-b')" = $((3 * one)) ]
check "an unknown tenant sees nothing" [ "$(t "$CPU{}" team-zzz)" = 0 ]
check "env=\"prod\" selects cpu1 and stripped" [ "$(t "$CPU{env=\"prod\"}")" = $((2 * one + stripped)) ]
check "env!=\"prod\" selects the others" [ "$(t "$CPU{env!=\"prod\",service_name!=\"native\"}")" = $((large + fib)) ]
check "env=~\"prod\" is anchored (not prod-eu)" [ "$(t "$CPU{env=~\"prod\"}")" = $((2 * one + stripped)) ]
check "env!~\"prod.*\" excludes prod and prod-eu" [ "$(t "$CPU{env!~\"prod.*\",service_name!=\"native\"}")" = "$large" ]
check "a regex alternation" [ "$(t "$CPU{service_name=~\"cpu1|fib\"}")" = $((2 * one + fib)) ]

code=$(curl -s -o "$WORK/err.json" -w '%{http_code}' --max-time 10 -H 'Content-Type: application/json' \
  --data '{"profileTypeID":"'$CPU'","labelSelector":"{a=~\"(\"}","start":"0","end":"1"}' \
  "http://127.0.0.1:$PORT/querier.v1.QuerierService/SelectMergeStacktraces")
check "a bad regex is a Connect invalid_argument (400)" \
  [ "$code" = 400 -a "$(head -c 28 "$WORK/err.json")" = '{"code":"invalid_argument","' ]

# --- shapes ----------------------------------------------------------------------------------
check "render JSON: flamebearer, metadata, timeline as Pyroscope answers" py render "$CPU{service_name=\"large\"}" "$large"
heap_total=$(py gototal alloc_space bytes "${MANY[@]}")
series=$(py series | tail -1)
check "SelectSeries: ten points (step 1 s) adding up to the heap total ($series = $heap_total)" [ "$series" = "$heap_total" ]
lv=$(curl -s --max-time 10 "http://127.0.0.1:$PORT/pyroscope/label-values?label=service_name")
check "label-values lists the services ($lv)" [ "$lv" = '["cpu1","fib","heap","large","native","stripped"]' ]
check "kiln still serves ingest on the shared listener" [ "$(post pprof__sample.cpu.pb.gz 'late{env=x}')" = 200 ]

# --- latency -------------------------------------------------------------------------------------
for _ in $(seq 1 9); do p pprof__large.cpu.pb.gz 'large{env=staging}'; done
note=$(py latency "$CPU{service_name=\"large\"}" 21)
echo "note - flame graph of 10 x large.cpu (204300 samples, 23038 functions), 8192 nodes, 9 of them in a WAL head: $note"
for _ in $(seq 1 150); do [ -z "$(wal_left)" ] && break; sleep 0.1; done
note=$(py latency "$CPU{service_name=\"large\"}" 21)
echo "note - the same from blocks only: $note"
note2=$(py latency "$CPU{}" 11)
echo "note - flame graph over everything ingested: $note2"
check "latency measured" [ -n "$note" -a -n "$note2" ]
finish
