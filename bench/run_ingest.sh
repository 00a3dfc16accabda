#!/usr/bin/env bash
# bench/run_ingest.sh — the ingest benchmark (issue 2, "Benchmark"). Not a test: never
# registered with ctest, never run by CI.
#
# In one run, on the same bytes, for two workloads
#   large: pprof__large.cpu.pb.gz only (1.2 MB gzip, 2.45 MB raw, 20,430 samples)
#   mix:   the ten parca__many_*.pb.gz heaps + pprof__sample.cpu.pb.gz (2-22 KB gzip each)
# it measures
#   limit  bench/limit_decode (bench/build.sh builds it): gunzip (libdeflate) + full decode
#          with kiln's decoder + free, in a tight loop — the ceiling on one core;
#   go     bench/go_peer: profile.ParseData + profile.Merge per sample-type set (GOMAXPROCS=1);
#   kiln   build/bin/kiln with the pprof receiver and the debug exporter at verbosity basic
#          (logs one line, still decodes every profile), service.workers 1,
#          sending_queue.num_consumers 1, fed over HTTP/1.1 by bench/ingest_load.
# limit, go and kiln are pinned to core $KILN_BENCH_CORE (0); the load generator to core
# $KILN_BENCH_LOAD_CORE (1).
#
# Environment (all optional):
#   KILN_CORPUS           the corpus (default: ../shared/corpus from the repo root)
#   KILN_BENCH_BUILD      build dir (default: <repo>/build-bench); kiln is built there with
#                         CMAKE_BUILD_TYPE=RelWithDebInfo (-O2 -g) and the tests off
#   KILN_BENCH_SECS       time cap of each measured kiln run and of the Go peer (20)
#   KILN_BENCH_N_LARGE    profiles per measured run, large workload (600)
#   KILN_BENCH_N_MIX      profiles per measured run, mix workload (40000)
#   KILN_BENCH_CONNS      load-generator connections (4)
#   KILN_BENCH_REPS       interleaved runs of limit, Go peer and kiln per workload; the table
#                         keeps the best of each (3)
#   KILN_BENCH_SKIP_BUILD 1: do not rebuild kiln and limit_decode if they are already built
#   KILN_BENCH_PERF       1: after the measured runs, profile kiln with perf (cpu-clock,
#                         DWARF call graphs) under the same load and write the top costs to
#                         $OUT/perf-<workload>.txt
#   KILN_BENCH_PORT, KILN_BENCH_METRICS_PORT   ports on 127.0.0.1 (24040, 28888)
# Output: the table on stdout, raw outputs in $KILN_BENCH_BUILD/bench-out/.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
CORPUS=${KILN_CORPUS:-$ROOT/../shared/corpus}
BUILD=${KILN_BENCH_BUILD:-$ROOT/build-bench}
OUT=$BUILD/bench-out
SECS=${KILN_BENCH_SECS:-20}
N_LARGE=${KILN_BENCH_N_LARGE:-600}
N_MIX=${KILN_BENCH_N_MIX:-40000}
CONNS=${KILN_BENCH_CONNS:-4}
CORE=${KILN_BENCH_CORE:-0}
LOAD_CORE=${KILN_BENCH_LOAD_CORE:-1}
PORT=${KILN_BENCH_PORT:-24040}
MPORT=${KILN_BENCH_METRICS_PORT:-28888}
PERF=${KILN_BENCH_PERF:-0}
REPS=${KILN_BENCH_REPS:-3}
SKIP_BUILD=${KILN_BENCH_SKIP_BUILD:-0}
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)

die() { echo "run_ingest: $*" >&2; exit 1; }
log() { echo "run_ingest: $*" >&2; }

[ -d "$CORPUS" ] || die "no corpus at $CORPUS (set KILN_CORPUS)"
CORPUS=$(cd "$CORPUS" && pwd)
mkdir -p "$BUILD" "$OUT"

# ---- build ------------------------------------------------------------------------------
if [ "$SKIP_BUILD" = 1 ]; then
    log "KILN_BENCH_SKIP_BUILD=1: using the kiln already built in $BUILD"
else
    log "building kiln in $BUILD"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_TESTS=OFF >"$OUT/cmake.log" 2>&1 ||
        { cat "$OUT/cmake.log" >&2; die "cmake configure failed"; }
    cmake --build "$BUILD" -j2 --target kiln-bin >>"$OUT/cmake.log" 2>&1 ||
        { tail -30 "$OUT/cmake.log" >&2; die "kiln build failed"; }
fi
KILN=$BUILD/bin/kiln
PLUGINS=$BUILD/lib/kiln/plugins
[ -x "$KILN" ] || die "no $KILN after the build"

log "building the load generator"
LOAD=$BUILD/bench/ingest_load
mkdir -p "$BUILD/bench"
cc -O2 -g -std=gnu11 -Wall -Wextra -pthread -o "$LOAD" "$HERE/ingest_load.c"

log "building the limit program (bench/build.sh)"
[ -f "$HERE/build.sh" ] || die "bench/build.sh is missing"
[ -f "$HERE/limit_decode.c" ] || die "bench/limit_decode.c is missing"
if [ "$SKIP_BUILD" = 1 ] && [ -x "$BUILD/bench/limit_decode" ]; then
    LIMIT=$BUILD/bench/limit_decode
else
    LIMIT=$(bash "$HERE/build.sh" "$BUILD" | tail -1)
fi
[ -x "$LIMIT" ] || die "bench/build.sh did not print the path of limit_decode (got '$LIMIT')"

log "building the Go peer (Debian golang-go + golang-github-google-pprof-dev, offline)"
GOTMP=$BUILD/bench/gopath
mkdir -p "$GOTMP"
export GO111MODULE=off GOPATH=/usr/share/gocode:$GOTMP GOCACHE=$GOTMP/cache GOFLAGS= GOPROXY=off
dir=$(cd "$HERE/go_peer" && go list -f '{{.Dir}}' github.com/google/pprof/profile) ||
    die "github.com/google/pprof/profile does not resolve (apt-get install golang-github-google-pprof-dev)"
case $dir in /usr/share/gocode/src/*) ;; *) die "pprof resolved to $dir, not Debian's package";; esac
GOPEER=$BUILD/bench/go_peer
(cd "$HERE/go_peer" && go build -o "$GOPEER" .)

# ---- helpers ----------------------------------------------------------------------------
kv() { # kv KEY < "RESULT k=v ..." : prints v
    tr ' ' '\n' | sed -n "s/^$1=//p" | head -1
}

http_get() { # http_get PORT PATH
    if command -v curl >/dev/null; then
        curl -fsS "http://127.0.0.1:$1$2"
    else
        exec 3<>"/dev/tcp/127.0.0.1/$1"
        printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
        sed '1,/^\r$/d' <&3
        exec 3>&-
    fi
}

metric() { # metric FILE NAME : the value of the first series of NAME (0 if absent)
    awk -v n="$2" '$1 == n || index($1, n "{") == 1 { print $2; f = 1; exit } END { if (!f) print 0 }' "$1"
}

calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }

KPID=
stop_kiln() {
    if [ -n "$KPID" ] && kill -0 "$KPID" 2>/dev/null; then
        kill -TERM "$KPID"
        wait "$KPID" || true
    fi
    KPID=
}
trap stop_kiln EXIT

start_kiln() { # start_kiln WORKLOAD
    cat >"$OUT/kiln-bench.yaml" <<EOF
# written by bench/run_ingest.sh
receivers:
  pprof:
    endpoint: 127.0.0.1:$PORT
exporters:
  debug:
    verbosity: basic
    sampling_initial: 1
    sampling_thereafter: 1000000
    sending_queue:
      num_consumers: 1
service:
  workers: 1
  memory_limit: 8GiB
  telemetry:
    logs:
      level: info
    metrics:
      address: 127.0.0.1:$MPORT
  pipelines:
    profiles:
      receivers: [pprof]
      exporters: [debug]
EOF
    taskset -c "$CORE" "$KILN" --config "$OUT/kiln-bench.yaml" --plugin-dir "$PLUGINS" \
        >"$OUT/kiln-$1.log" 2>&1 &
    KPID=$!
    for _ in $(seq 100); do
        http_get "$MPORT" /ready >/dev/null 2>&1 && return 0
        kill -0 "$KPID" 2>/dev/null || { cat "$OUT/kiln-$1.log" >&2; die "kiln exited at start"; }
        sleep 0.1
    done
    die "kiln not ready after 10 s"
}

# ---- one workload -----------------------------------------------------------------------
# R[<wl>.<who>.<rep>.<key>]: who = limit | go | kiln; key = pps (profiles/s, wall clock),
# mbs / raw (MB/s compressed / uncompressed, wall clock), cpu (CPU seconds used), cpps
# (profiles per CPU second), rss (MiB).
declare -A R

limit_once() { # limit_once WL REP FILE...
    local wl=$1 rep=$2 line cpu
    shift 2
    { TIMEFORMAT='%3U %3S'; time taskset -c "$CORE" "$LIMIT" -q -n "$N" "$@" >"$OUT/limit-$wl-$rep.txt"; } \
        2>"$OUT/limit-$wl-$rep.time"
    line=$(grep '^RESULT' "$OUT/limit-$wl-$rep.txt") || die "no RESULT line from limit_decode"
    # CPU of the timed loop if limit_decode reports it, else of the whole process (file reads
    # and one warm-up cycle included: a slight underestimate of profiles per CPU second)
    cpu=$(kv cpu_s <<<"$line")
    [ -n "$cpu" ] || cpu=$(awk '{ print $1 + $2 }' "$OUT/limit-$wl-$rep.time")
    R[$wl.limit.$rep.pps]=$(kv profiles_s <<<"$line")
    R[$wl.limit.$rep.mbs]=$(kv mb_s <<<"$line")
    R[$wl.limit.$rep.raw]=$(kv raw_mb_s <<<"$line")
    R[$wl.limit.$rep.rss]=$(kv max_rss_mib <<<"$line")
    R[$wl.limit.$rep.cpu]=$cpu
    R[$wl.limit.$rep.cpps]=$(calc "$(kv profiles <<<"$line") / $cpu" 3)
}

go_once() { # go_once WL REP FILE...
    local wl=$1 rep=$2 line
    shift 2
    GOMAXPROCS=1 taskset -c "$CORE" "$GOPEER" -n "$N" -t "$SECS" "$@" >"$OUT/go-$wl-$rep.txt"
    line=$(grep '^RESULT' "$OUT/go-$wl-$rep.txt") || die "no RESULT line from go_peer"
    R[$wl.go.$rep.pps]=$(kv profiles_s <<<"$line")
    R[$wl.go.$rep.mbs]=$(kv mb_s <<<"$line")
    R[$wl.go.$rep.raw]=$(kv raw_mb_s <<<"$line")
    R[$wl.go.$rep.rss]=$(kv max_rss_mib <<<"$line")
    R[$wl.go.$rep.cpu]=$(kv cpu_s <<<"$line")
    R[$wl.go.$rep.n]=$(kv profiles <<<"$line")
    R[$wl.go.$rep.cpps]=$(calc "$(kv profiles <<<"$line") / $(kv cpu_s <<<"$line")" 3)
}

kiln_once() { # kiln_once WL REP FILE...  (kiln running)
    local wl=$1 rep=$2 line ok secs b a acc dec cpu
    shift 2
    b=$OUT/metrics-$wl-$rep-before.txt
    a=$OUT/metrics-$wl-$rep-after.txt
    http_get "$MPORT" /metrics >"$b"
    taskset -c "$LOAD_CORE" "$LOAD" -p "$PORT" -c "$CONNS" -n "$N" -t "$SECS" -L "$OUT/lat-$wl-$rep.txt" "$@" \
        >"$OUT/load-$wl-$rep.txt" || log "[$wl] the load generator saw non-200 answers or errors"
    http_get "$MPORT" /metrics >"$a"
    line=$(grep '^RESULT' "$OUT/load-$wl-$rep.txt")
    ok=$(kv ok <<<"$line")
    secs=$(kv secs <<<"$line")
    acc=$(calc "$(metric "$a" kiln_receiver_accepted_profiles_total) - $(metric "$b" kiln_receiver_accepted_profiles_total)" 0)
    dec=$(calc "$(metric "$a" kiln_payload_decodes_total) - $(metric "$b" kiln_payload_decodes_total)" 0)
    cpu=$(calc "$(metric "$a" kiln_process_cpu_seconds_total) - $(metric "$b" kiln_process_cpu_seconds_total)" 3)
    R[$wl.kiln.$rep.pps]=$(kv ok_rps <<<"$line")
    R[$wl.kiln.$rep.mbs]=$(kv mb_s <<<"$line")
    R[$wl.kiln.$rep.raw]=$(kv raw_mb_s <<<"$line")
    R[$wl.kiln.$rep.cpu]=$cpu
    R[$wl.kiln.$rep.cpps]=$(calc "$ok / $cpu" 3)
    R[$wl.kiln.$rep.util]=$(calc "100 * $cpu / $secs" 0)
    R[$wl.kiln.$rep.gen]=$(calc "100 * $(kv gen_cpu_s <<<"$line") / $secs" 0)
    R[$wl.kiln.$rep.p50]=$(kv p50_ms <<<"$line")
    R[$wl.kiln.$rep.p99]=$(kv p99_ms <<<"$line")
    R[$wl.kiln.$rep.bad]=$(($(kv non200 <<<"$line") + $(kv errors <<<"$line")))
    if [ "$acc" != "$ok" ] || [ "$dec" != "$ok" ] || [ "${R[$wl.kiln.$rep.bad]}" != 0 ]; then
        R[$wl.kiln.$rep.check]="MISMATCH: $ok answered 200, ${R[$wl.kiln.$rep.bad]} not, $acc accepted, $dec decoded"
        log "[$wl] ${R[$wl.kiln.$rep.check]}"
    else
        R[$wl.kiln.$rep.check]="$ok answered 200 = $acc accepted = $dec decoded"
    fi
    if awk "BEGIN { exit !(${R[$wl.kiln.$rep.util]} < 90) }"; then
        R[$wl.kiln.$rep.check]+="; kiln used only ${R[$wl.kiln.$rep.util]}% of its core: starved by other load or"
        R[$wl.kiln.$rep.check]+=" stalled (per-request latencies in lat-$wl-$rep.txt)"
        log "[$wl] run $rep: kiln CPU ${R[$wl.kiln.$rep.util]}% of its core"
    fi
}

best() { # best WL WHO KEY : the rep with the largest KEY
    local wl=$1 who=$2 key=$3 rep bestrep=1
    for rep in $(seq "$REPS"); do
        if awk "BEGIN { exit !(${R[$wl.$who.$rep.$key]} > ${R[$wl.$who.$bestrep.$key]}) }"; then
            bestrep=$rep
        fi
    done
    echo "$bestrep"
}

run_workload() { # run_workload NAME N FILE...
    local wl=$1 rep
    N=$2
    shift 2
    local zbytes=0 f
    for f in "$@"; do zbytes=$((zbytes + $(stat -c %s "$f"))); done
    log "[$wl] $# files, $zbytes bytes gzip per cycle, $N profiles per run, $REPS runs each"

    start_kiln "$wl"
    # warm-up: every request shape once, connections and allocator warm
    taskset -c "$LOAD_CORE" "$LOAD" -p "$PORT" -c "$CONNS" -n $((N / 20 + 50)) -t 5 "$@" \
        >"$OUT/load-$wl-warmup.txt" || die "warm-up failed: $(cat "$OUT/load-$wl-warmup.txt")"
    # interleaved, so that whatever else runs on the machine hits all three alike
    for rep in $(seq "$REPS"); do
        log "[$wl] run $rep/$REPS: limit, Go peer, kiln"
        limit_once "$wl" "$rep" "$@"
        go_once "$wl" "$rep" "$@"
        kiln_once "$wl" "$rep" "$@"
    done
    R[$wl.kiln.hwm]=$(calc "$(awk '/^VmHWM:/ { print $2 }' "/proc/$KPID/status") / 1024" 1)
    http_get "$MPORT" /metrics >"$OUT/metrics-$wl-end.txt"
    R[$wl.kiln.maxrss]=$(calc "$(metric "$OUT/metrics-$wl-end.txt" kiln_process_max_resident_memory_bytes) / 1048576" 1)
    if [ "$PERF" = 1 ]; then
        log "[$wl] perf record on kiln (pid $KPID)"
        perf record -e cpu-clock -F 1999 --call-graph dwarf,16384 -p "$KPID" -o "$OUT/perf-$wl.data" \
            -- taskset -c "$LOAD_CORE" "$LOAD" -p "$PORT" -c "$CONNS" -n $((N / 2)) -t "$SECS" "$@" \
            >"$OUT/load-$wl-perf.txt" 2>"$OUT/perf-$wl.log" || true
        {
            echo "## by thread (loop thread = the lowest tid)"
            perf report -i "$OUT/perf-$wl.data" --no-children --stdio --sort pid -g none 2>/dev/null | grep -v '^#'
            echo "## by shared object"
            perf report -i "$OUT/perf-$wl.data" --no-children --stdio --sort dso -g none 2>/dev/null | grep -v '^#'
            echo "## by symbol (self)"
            perf report -i "$OUT/perf-$wl.data" --no-children --percent-limit 0.5 --stdio \
                --sort dso,symbol -g none 2>/dev/null | grep -v '^#'
        } >"$OUT/perf-$wl.txt" || true
        perf report -i "$OUT/perf-$wl.data" --children --percent-limit 2 --stdio \
            --sort symbol -g none >"$OUT/perf-$wl-children.txt" 2>/dev/null || true
    fi
    stop_kiln
    # the limit program's own breakdown (gunzip alone, decode alone, protobuf-c), for the record
    taskset -c "$CORE" "$LIMIT" -n "$N" -T 2 "$@" >"$OUT/limit-$wl-breakdown.txt"
}

# ---- the runs ---------------------------------------------------------------------------
LARGE=("$CORPUS/pprof__large.cpu.pb.gz")
MIX=("$CORPUS"/parca__many_*.pb.gz "$CORPUS/pprof__sample.cpu.pb.gz")
[ -f "${LARGE[0]}" ] || die "missing ${LARGE[0]}"
[ "${#MIX[@]}" -eq 11 ] || die "expected 10 parca__many_* files + sample.cpu in $CORPUS, found ${#MIX[@]}"

run_workload large "$N_LARGE" "${LARGE[@]}"
run_workload mix "$N_MIX" "${MIX[@]}"

# ---- the table --------------------------------------------------------------------------
row() { # row WL WHO LABEL
    local wl=$1 who=$2 r c rss
    r=$(best "$wl" "$who" pps)
    c=$(best "$wl" "$who" cpps)
    case $who in
        kiln) rss=${R[$wl.kiln.hwm]} ;;
        *) rss=${R[$wl.$who.$r.rss]} ;;
    esac
    printf '| %-5s | %-7s | %9.1f | %7.2f | %8.2f | %9.1f | %7.1f MiB | %6.3f | %6.3f | %6.1fx | %6.1fx |\n' \
        "$wl" "$3" "${R[$wl.$who.$r.pps]}" "${R[$wl.$who.$r.mbs]}" "${R[$wl.$who.$r.raw]}" \
        "${R[$wl.$who.$c.cpps]}" "$rss" \
        "$(calc "${R[$wl.$who.$r.pps]} / ${R[$wl.limit.$(best "$wl" limit pps).pps]}" 3)" \
        "$(calc "${R[$wl.$who.$c.cpps]} / ${R[$wl.limit.$(best "$wl" limit cpps).cpps]}" 3)" \
        "$(calc "${R[$wl.$who.$r.pps]} / ${R[$wl.go.$(best "$wl" go pps).pps]}" 1)" \
        "$(calc "${R[$wl.$who.$c.cpps]} / ${R[$wl.go.$(best "$wl" go cpps).cpps]}" 1)"
}
{
    echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
        "kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ), kiln $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')" \
        "(+ working tree); load average before: $LOADAVG"
    echo "limit, Go peer and kiln pinned to core $CORE; load generator on core $LOAD_CORE, $CONNS connections;" \
        "best of $REPS interleaved runs"
    echo
    echo "| work  | what    | profiles/s | MB/s gz | MB/s raw | prof/CPU-s | peak RSS    | /limit | /limit CPU | /Go  | /Go CPU |"
    echo "|-------|---------|-----------:|--------:|---------:|-----------:|------------:|-------:|-------:|-------:|-------:|"
    for wl in large mix; do
        row "$wl" limit limit
        row "$wl" go "Go peer"
        row "$wl" kiln kiln
    done
    echo
    echo "profiles/s, MB/s: wall clock; prof/CPU-s: profiles per CPU second the process used (robust to"
    echo "other load on the machine); /limit and /Go: kiln's figure over the reference's (wall, CPU)."
    echo
    for wl in large mix; do
        for rep in $(seq "$REPS"); do
            echo "$wl run $rep: limit ${R[$wl.limit.$rep.pps]}/s (${R[$wl.limit.$rep.cpps]}/CPU-s)," \
                "Go ${R[$wl.go.$rep.pps]}/s (${R[$wl.go.$rep.cpps]}/CPU-s, ${R[$wl.go.$rep.n]} profiles)," \
                "kiln ${R[$wl.kiln.$rep.pps]}/s (${R[$wl.kiln.$rep.cpps]}/CPU-s, kiln CPU ${R[$wl.kiln.$rep.util]}%," \
                "load generator ${R[$wl.kiln.$rep.gen]}%, p50 ${R[$wl.kiln.$rep.p50]} ms p99 ${R[$wl.kiln.$rep.p99]} ms;" \
                "${R[$wl.kiln.$rep.check]})"
        done
        echo "$wl: kiln peak RSS VmHWM ${R[$wl.kiln.hwm]} MiB (kiln_process_max_resident_memory_bytes ${R[$wl.kiln.maxrss]} MiB)"
    done
    echo
    echo "targets: kiln >= 0.50 of the limit on one core; kiln >= 10x the Go peer"
    for wl in large mix; do
        k=$(best "$wl" kiln pps); kc=$(best "$wl" kiln cpps)
        l=$(calc "${R[$wl.kiln.$k.pps]} / ${R[$wl.limit.$(best "$wl" limit pps).pps]}" 3)
        lc=$(calc "${R[$wl.kiln.$kc.cpps]} / ${R[$wl.limit.$(best "$wl" limit cpps).cpps]}" 3)
        g=$(calc "${R[$wl.kiln.$k.pps]} / ${R[$wl.go.$(best "$wl" go pps).pps]}" 1)
        gc=$(calc "${R[$wl.kiln.$kc.cpps]} / ${R[$wl.go.$(best "$wl" go cpps).cpps]}" 1)
        met() { awk "BEGIN { print ($1 >= $2) ? \"met\" : \"NOT met\" }"; }
        echo "$wl: vs limit $l wall / $lc CPU ($(met "$l" 0.5) / $(met "$lc" 0.5));" \
            "vs Go ${g}x wall / ${gc}x CPU ($(met "$g" 10) / $(met "$gc" 10))"
    done
} | tee "$OUT/table.txt"
[ "$PERF" = 1 ] && log "perf reports: $OUT/perf-large.txt $OUT/perf-mix.txt"
exit 0
