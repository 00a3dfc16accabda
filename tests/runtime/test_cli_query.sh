#!/usr/bin/env bash
# `kiln query` against a real kiln (pprof receiver + blocks + query exporter
# on one loopback listener, corpus files posted to /ingest), checked with
# independent references:
#
#   - `top --raw --nodecount 0 --nodefraction 0`: every row (name with its
#     inline mark, flat, cum) and the total equal `go tool pprof -top
#     -nodefraction=0 -nodecount=0` on the posted files (one file, two copies
#     merged, ten heap profiles merged, unsymbolized, 20430-sample CPU);
#   - `top` in its default layout is the text go tool pprof -top
#     -nodecount=20 prints (values in pprof's units, percentages, header),
#     and `--cum` that of -cum;
#   - `pprof -o f.pb.gz` is gzip and go tool pprof reads it with the inputs'
#     rows and total; `-o -` writes the same bytes to stdout;
#   - `folded`: the lines are those of corpus/expected/...cpu_ns.folded with
#     every value doubled (two copies posted), they add up to the total, and
#     they equal the server's /pyroscope/render?format=folded;
#   - `tree`: the hottest path (names, raw cum) equals /kiln/v1/findings'
#     hottestPath;
#   - tenants (--tenant, a|b), --type discovery, time forms, and the errors:
#     no data (exit 3), unreachable URL, a server that never answers
#     (--timeout), a bad selector (the server's invalid_argument), usage
#     errors (exit 2).
#
# Needs go (golang-go) and python3.
source "$(dirname "$0")/lib.sh"
CORPUS=${KILN_CORPUS:-$(dirname "$0")/../../../shared/corpus}
PORT=$(free_port); MPORT=$(free_port)
export GOCACHE=$WORK/gocache GOFLAGS= GOTOOLCHAIN=local GOTELEMETRY=off TZ=UTC
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
  query:
    endpoint: 127.0.0.1:$PORT
    storage: {backend: filesystem, filesystem: {directory: $WORK/data}}
    wal_dir: $WORK/wal
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

posted_ok=1
post() { # post FILE NAME [TENANT]
  local h=() c
  [ -n "${3:-}" ] && h=(-H "X-Scope-OrgID: $3")
  c=$(curl -g -s -o /dev/null -w '%{http_code}' --max-time 30 "${h[@]}" --data-binary @"$CORPUS/$1" \
    "http://127.0.0.1:$PORT/ingest?name=$2&format=pprof")
  [ "$c" = 200 ] || { posted_ok=0; echo "post $* -> $c"; }
}
post pprof__sample.cpu.pb.gz 'cpu1{env=prod}'
post pprof__sample.cpu.pb.gz 'cpu1{env=prod}'
post pprof__sample.cpu.pb.gz 'cpu1{env=prod}' team-b
post pprof__large.cpu.pb.gz 'large{env=staging}'
post parca__normal-cpu.stripped.pprof.gz 'stripped{env=prod}'
post pprof__cppbench.cpu_no_samples_type.pb.gz 'cpp{env=lab}'
MANY=()
for f in "$CORPUS"/parca__many_*.pb.gz; do MANY+=("$CORPUS/$(basename "$f")"); post "$(basename "$f")" 'heap{env=prod}'; done
check "every profile was accepted (200)" [ "$posted_ok" = 1 ]

URL=http://127.0.0.1:$PORT
CPU=process_cpu:cpu:nanoseconds:cpu:nanoseconds
ALLOC=memory:alloc_space:bytes:space:bytes
C1=$CORPUS/pprof__sample.cpu.pb.gz
kq() { "$KILN" query "$@"; }
gotop() { go tool pprof -top -symbolize=none "$@" 2>/dev/null | grep -v '^File: \|^Build ID: '; }

cat >"$WORK/rows.py" <<'PY'
# rows.py A B: compares two `-top` texts row by row (name with its inline
# mark, flat, cum as integers; units stripped) and their totals.
import re, sys
def rows(path):
    rows, total, on = {}, None, False
    for line in open(path):
        m = re.search(r"of (-?\d+)\S* total", line)
        if m: total = int(m.group(1))
        if re.match(r"\s+flat\s+flat%", line): on = True; continue
        if not on: continue
        m = re.match(r"\s*(-?\d+)\S*\s+\S+%\s+\S+%\s+(-?\d+)\S*\s+\S+%\s+(.*)$", line.rstrip("\n"))
        if m: rows[m.group(3)] = (int(m.group(1)), int(m.group(2)))
    return total, rows
ta, a = rows(sys.argv[1]); tb, b = rows(sys.argv[2])
diff = [n for n in set(a) | set(b) if a.get(n) != b.get(n)]
for n in sorted(diff)[:5]: print("  %s: kiln %s, go tool pprof %s" % (n, a.get(n), b.get(n)))
print("  %d rows, total %s (go tool pprof: %d rows, total %s), %d differ" % (len(a), ta, len(b), tb, len(diff)))
sys.exit(0 if ta == tb and ta and not diff and len(a) > 0 else 1)
PY
same_rows() { python3 "$WORK/rows.py" "$1" "$2"; }
same_file() { [ -s "$1" ] && cmp -s "$1" "$2"; } # and not empty
same_text() { [ -s "$1" ] && diff "$1" "$2"; }

# --- top: raw values against go tool pprof ----------------------------------------------
raw_vs_go() { # NAME QUERY UNIT SAMPLE_TYPE FILES...  ($KQX: more kiln query flags)
  local n=$1 q=$2 u=$3 st=$4; shift 4
  # shellcheck disable=SC2086
  kq top --url "$URL" -q "$q" --from 0 --raw --nodecount 0 --nodefraction 0 ${KQX:-} >"$WORK/$n.kiln" &&
    gotop -nodefraction=0 -nodecount=0 -unit="$u" -sample_index="$st" "$@" >"$WORK/$n.go" &&
    same_rows "$WORK/$n.kiln" "$WORK/$n.go"
}
one_raw() { KQX="--tenant team-b" raw_vs_go one "$CPU{service_name=\"cpu1\"}" ns cpu "$C1"; }
check "top --raw of one profile (tenant team-b) = go tool pprof -top (flat, cum, inline marks, total)" one_raw
check "top --raw of two copies merged = go tool pprof -top of both files" \
  raw_vs_go cpu1 "$CPU{service_name=\"cpu1\"}" ns cpu "$C1" "$C1"
check "top --raw of ten heap profiles merged (alloc_space) = go tool pprof -top of the ten files" \
  raw_vs_go heap "$ALLOC{service_name=\"heap\"}" B alloc_space "${MANY[@]}"
check "top --raw of an unsymbolized profile ([binary] rows) = go tool pprof -top" \
  raw_vs_go stripped "$CPU{service_name=\"stripped\"}" ns cpu "$CORPUS/parca__normal-cpu.stripped.pprof.gz"
check "top --raw of 20430 samples (23038 functions) = go tool pprof -top" \
  raw_vs_go large "$CPU{service_name=\"large\"}" ns cpu "$CORPUS/pprof__large.cpu.pb.gz"

# --- top: the text go tool pprof prints ----------------------------------------------------
# (the Duration line is left out: the server's merged profile does not sum
# the durations of the profiles it merges as pprof's merge does)
kq top --url "$URL" -q "$CPU{service_name=\"cpu1\"}" --from 0 | grep -v '^Duration: ' >"$WORK/t1.kiln"
gotop -nodecount=20 "$C1" "$C1" | grep -v '^Duration: ' >"$WORK/t1.go"
check "top prints what go tool pprof -top prints (Type, Time, totals, rows with units, inline marks)" \
  same_text "$WORK/t1.kiln" "$WORK/t1.go"
kq top --url "$URL" -q "$CPU{service_name=\"large\"}" --from 0 --cum --nodecount 12 >"$WORK/t2.kiln"
gotop -cum -nodecount=12 "$CORPUS/pprof__large.cpu.pb.gz" >"$WORK/t2.go"
check "top --cum --nodecount 12 prints what go tool pprof -top -cum -nodecount=12 prints (Dropped, Showing top)" \
  same_text "$WORK/t2.kiln" "$WORK/t2.go"
# the heap merge: the server's merged profile carries a duration (from the
# ingest) that the files lack, so compare from the "Showing nodes" line on
kq top --url "$URL" -q "$ALLOC{service_name=\"heap\"}" --from 0 | sed -n '/^Showing nodes/,$p' >"$WORK/t3.kiln"
gotop -nodecount=20 -sample_index=alloc_space "${MANY[@]}" | sed -n '/^Showing nodes/,$p' >"$WORK/t3.go"
check "top of the heap merge: the same text as go tool pprof (MB, kB) from 'Showing nodes' on" \
  same_text "$WORK/t3.kiln" "$WORK/t3.go"

# --- pprof -----------------------------------------------------------------------------------
kq pprof --url "$URL" -q "$ALLOC{service_name=\"heap\"}" --from 0 -o "$WORK/heap.pb.gz"
check "pprof -o writes gzip" [ "$(head -c 2 "$WORK/heap.pb.gz" | od -An -tx1 | tr -d ' ')" = 1f8b ]
gotop -nodefraction=0 -nodecount=0 -unit=B -sample_index=alloc_space "$WORK/heap.pb.gz" >"$WORK/p1.got"
gotop -nodefraction=0 -nodecount=0 -unit=B -sample_index=alloc_space "${MANY[@]}" >"$WORK/p1.go"
check "go tool pprof reads the written profile: same rows and total as the ten input files" \
  same_rows "$WORK/p1.got" "$WORK/p1.go"
kq pprof --url "$URL" -q "$CPU{service_name=\"cpu1\"}" --from 0 -o "$WORK/cpu1.pb.gz"
gotop -nodefraction=0 -nodecount=0 -unit=ns "$WORK/cpu1.pb.gz" >"$WORK/p2.got"
check "the cpu1 pprof: same rows and total as go tool pprof on the two posted files" \
  same_rows "$WORK/p2.got" "$WORK/cpu1.go"
kq pprof --url "$URL" -q "$CPU{service_name=\"cpu1\"}" --from 0 -o - >"$WORK/cpu1.stdout.pb.gz"
check "pprof -o - writes the same bytes to stdout" same_file "$WORK/cpu1.pb.gz" "$WORK/cpu1.stdout.pb.gz"

# --- folded -----------------------------------------------------------------------------------
kq folded --url "$URL" -q "$CPU{service_name=\"cpu1\"}" --from 0 >"$WORK/f1.kiln"
sort "$WORK/f1.kiln" >"$WORK/f1.sorted"
awk '{v=$NF; $NF=""; sub(/ $/, ""); printf "%s %.0f\n", $0, 2*v}' "$CORPUS/expected/pprof__sample.cpu.pb.gz.cpu_ns.folded" |
  sort >"$WORK/f1.want"
check "folded: the expected folded stacks of sample.cpu, every value doubled ($(wc -l <"$WORK/f1.want") lines)" \
  same_text "$WORK/f1.sorted" "$WORK/f1.want"
check "folded: a known stack with its value" \
  grep -qx 'runtime.main;main.main;main.busyLoop;runtime.mapiternext 2560000000' "$WORK/f1.kiln"
fsum=$(awk '{s += $NF} END {printf "%.0f", s}' "$WORK/f1.kiln")
gtotal=$(python3 -c 'import re,sys; print(re.search(r"of (\d+)\S* total", open(sys.argv[1]).read()).group(1))' "$WORK/cpu1.go")
check "folded: the lines add up to go tool pprof's total ($fsum = $gtotal)" [ "$fsum" = "$gtotal" ]
kq folded --url "$URL" -q "$ALLOC{service_name=\"heap\"}" --from 0 -o "$WORK/f2.kiln"
curl -sg --max-time 30 "$URL/pyroscope/render?format=folded&query=$ALLOC{service_name=\"heap\"}&from=0&until=now" \
  >"$WORK/f2.server"
check "folded -o FILE of the heap merge = the server's render?format=folded ($(wc -l <"$WORK/f2.kiln") lines)" \
  same_file "$WORK/f2.kiln" "$WORK/f2.server"

# --- tree: the hottest path ------------------------------------------------------------------------
hot_vs_findings() { # QUERY
  kq tree --url "$URL" -q "$1" --from 0 --raw >"$WORK/tree.out" || return 1
  curl -sg --max-time 30 "$URL/kiln/v1/findings?query=$1&from=0&until=now&top=1" >"$WORK/findings.json"
  python3 - "$WORK/tree.out" "$WORK/findings.json" <<'PY'
import json, re, sys
lines = open(sys.argv[1]).read().split("\n\n")[1].splitlines()[2:]  # the hottest path section
got = [(m.group(3), int(m.group(1)), int(m.group(2))) for m in
       (re.match(r"\s*(-?\d+)\s+\S+%\s+(-?\d+)\s+\S+%\s\s(.*)$", l) for l in lines) if m]
want = [(r["name"], r["self"], r["total"]) for r in json.load(open(sys.argv[2]))["hottestPath"]]
print("  hottest path: %d frames (findings: %d), leaf %s" % (len(got), len(want), got[-1] if got else None))
sys.exit(0 if got == want and got else 1)
PY
}
check "tree: the hottest path of cpu1 = /kiln/v1/findings' hottestPath (names, flat, cum)" \
  hot_vs_findings "$CPU{service_name=\"cpu1\"}"
check "tree: the hottest path of large.cpu = /kiln/v1/findings' hottestPath" \
  hot_vs_findings "$CPU{service_name=\"large\"}"
check "tree: the hottest path of the unsymbolized profile (0x frames) = findings" \
  hot_vs_findings "$CPU{service_name=\"stripped\"}"

# --- tenants, types, times ---------------------------------------------------------------------------
one=$(python3 -c 'import re,sys; print(re.search(r"of (\d+)\S* total", open(sys.argv[1]).read()).group(1))' "$WORK/one.go")
total_of() { kq top --url "$URL" --from 0 --raw --nodecount 1 "$@" | sed -n 's/.* of \([0-9]*\) total$/\1/p'; }
check "--tenant team-b sees its own profile only ($(total_of -q "$CPU{service_name=\"cpu1\"}" --tenant team-b) = $one)" \
  [ "$(total_of -q "$CPU{service_name=\"cpu1\"}" --tenant team-b)" = "$one" ]
check "--tenant 'anonymous|team-b' sees both tenants' three profiles" \
  [ "$(total_of -q "$CPU{service_name=\"cpu1\"}" --tenant 'anonymous|team-b')" = $((3 * one)) ]
kq top --url "$URL" -q "$CPU{service_name=\"cpu1\"}" --from 0 --tenant nobody >"$WORK/nd.out" 2>"$WORK/nd.err"
rc=$? r=0
[ $rc = 3 -a ! -s "$WORK/nd.out" ] && grep -q '^kiln query: no data: .*(tenant nobody)$' "$WORK/nd.err" && r=1
check "another tenant sees nothing: exit 3, 'no data' on stderr, nothing on stdout ($(head -c 90 "$WORK/nd.err"))" \
  [ $r = 1 ]
kq top --url "$URL" -q '{service_name=~"cpu1|heap"}' --from 0 >/dev/null 2>"$WORK/types.err"
rc=$? r=0
[ $rc = 2 ] && grep -q "have 6 profile types" "$WORK/types.err" && grep -qx "  $CPU" "$WORK/types.err" &&
  grep -qx "  $ALLOC" "$WORK/types.err" && grep -qx '  process_cpu:samples:count:cpu:nanoseconds' "$WORK/types.err" && r=1
check "--type omitted, CPU and heap types match: exit 2 and all six listed" [ $r = 1 ]
check "--type omitted, the two process_cpu types of a Go CPU profile: the cpu time one ($(total_of -q '{service_name="cpu1"}' 2>&1 | head -c 80))" \
  [ "$(total_of -q '{service_name="cpu1"}' 2>/dev/null)" = "$(total_of -q "$CPU{service_name=\"cpu1\"}")" ]
cpp_go=$(gotop -nodecount=1 -unit=ns "$CORPUS/pprof__cppbench.cpu_no_samples_type.pb.gz" | sed -n 's/.* of \([0-9]*\)ns total$/\1/p')
cpp=$(total_of -q '{service_name="cpp"}')
check "--type omitted, one type matches: it is used ($cpp = go tool pprof $cpp_go)" [ -n "$cpp" -a "$cpp" = "$cpp_go" ]
check "--from/--until RFC 3339 around the profile's time (2017-09-29 20:57 UTC)" \
  [ "$(total_of -q "$CPU{service_name=\"cpu1\"}" --from 2017-09-29T20:00:00Z --until 2017-09-29T22:00:00+00:00)" = $((2 * one)) ]
check "--from as Unix ms and --until as YYYYMMDD" \
  [ "$(total_of -q "$CPU{service_name=\"cpu1\"}" --from 1506643200000 --until 20170930)" = $((2 * one)) ]
kq top --url "$URL" -q "$CPU{service_name=\"cpu1\"}" --from 20160101 --until 20161231 >/dev/null 2>&1
check "a range without the profile: exit 3" [ $? = 3 ]
kq top --url "$URL" -q "$CPU{service_name=\"cpu1\"}" >/dev/null 2>&1
check "the default range (now-1h .. now) does not reach a 2017 profile: exit 3" [ $? = 3 ]

# --- errors ------------------------------------------------------------------------------------------
DEAD=$(free_port)
kq top --url "http://127.0.0.1:$DEAD" -t "$CPU" >/dev/null 2>"$WORK/dead.err"
rc=$? r=0
[ $rc = 1 ] && grep -q "^kiln query: cannot reach http://127.0.0.1:$DEAD/querier.v1.QuerierService/SelectMergeProfile: .*onnect" \
  "$WORK/dead.err" && r=1
check "unreachable URL: exit 1, the URL and curl's error ($(head -c 150 "$WORK/dead.err"))" [ $r = 1 ]
kq top --url "$URL" -q '{service_name=~"("}' -t "$CPU" --from 0 >/dev/null 2>"$WORK/sel.err"
rc=$? r=0
[ $rc = 1 ] && grep -q "^kiln query: invalid_argument: label selector: .*(HTTP 400 from $URL/querier.v1.QuerierService/SelectMergeProfile)\$" \
  "$WORK/sel.err" && r=1
check "bad selector: exit 1 with the server's invalid_argument message ($(head -c 100 "$WORK/sel.err"))" [ $r = 1 ]
SILENT=$(free_port)
python3 -c 'import socket,sys,time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); open(sys.argv[2], "w").close()
c = s.accept(); time.sleep(30)' "$SILENT" "$WORK/silent.ready" &
SPID=$!
for _ in $(seq 1 100); do [ -e "$WORK/silent.ready" ] && break; sleep 0.05; done
t0=$(date +%s%N)
kq top --url "http://127.0.0.1:$SILENT" -t "$CPU" --timeout 1s >/dev/null 2>"$WORK/slow.err"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null
r=0
[ $rc = 1 -a "$ms" -lt 5000 -a "$ms" -ge 900 ] && grep -q "no answer from .* within 1000 ms" "$WORK/slow.err" && r=1
check "a server that never answers: exit 1 after --timeout 1s (${ms} ms)" [ $r = 1 ]
kq top --bogus >/dev/null 2>&1
check "unknown flag: exit 2" [ $? = 2 ]
kq top --url "$URL" -t "$CPU" --from yesterday >/dev/null 2>"$WORK/time.err"
rc=$? r=0
[ $rc = 2 ] && grep -q "now-1h" "$WORK/time.err" && r=1
check "bad --from: exit 2, the accepted forms named" [ $r = 1 ]
kq pprof --url "$URL" -t "$CPU" >/dev/null 2>&1
check "pprof without -o: exit 2" [ $? = 2 ]
kq top -v --url "$URL" -q "$CPU{service_name=\"cpu1\"}" --from 0 >/dev/null 2>"$WORK/v.err"
check "answers come gzip'ed and are inflated (-v: $(grep -o 'content-encoding: [a-z]*' "$WORK/v.err"))" \
  grep -q "SelectMergeProfile -> 200 application/proto, .*content-encoding: gzip" "$WORK/v.err"
finish
