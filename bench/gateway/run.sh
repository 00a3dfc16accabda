#!/usr/bin/env bash
# bench/gateway/run.sh — the gateway-overhead benchmark (issue 5, "Benchmark"). Not a test:
# never registered with ctest, never run by CI.
#
# One kiln pipeline, pprof receiver -> ... -> two `testsink` exporters (test-only plugin from
# build/test-plugins: it takes the batch and never decodes, so the decode counter is the
# processors' own), in three configs, measured in one run with interleaved repetitions:
#   baseline  no processors; every profile goes to both exporters (and each of the two
#             exporters is sent every profile: its counters show twice the requests)
#   gateway   relabel (10 rules) + tenant_route (tenant from the header, routes by tenant
#             and label regex, default label limits, a series limit); routes send every
#             profile to both exporters, so exporter work equals the baseline's and the
#             difference is the processors (plus the core's per-exporter batch subset)
#   split     the same processors, but routes send even series to testsink/a and odd ones
#             to testsink/b (each exporter gets half: less fan-out work than the baseline)
#   relabel   the relabel processor alone (10 rules), every profile to both exporters
#   route     tenant_route alone, routes as in `gateway` (every profile to both)
# Load: bench/ingest_load (keep-alive HTTP/1.1, label set {i=k % series}, tenant `bench`)
# posting the "mix" workload: the ten parca__many_*.pb.gz heaps and pprof__sample.cpu.pb.gz
# (2-22 KB gzip each: small profiles, where a per-profile cost weighs most).
# kiln runs with service.workers 1 and one consumer per exporter, pinned to core
# $KILN_BENCH_CORE (0); the load generator to $KILN_BENCH_LOAD_CORE (1).
#
# Reported per config (median of the repetitions, and every value): profiles/s answered 200,
# p50/p99 latency, kiln CPU microseconds per profile, and from /metrics after each run:
# kiln_payload_decodes_total (must stay 0: label-only processors never decode), the inflates
# beyond the receiver's own one per profile (kiln_payload_inflates_total minus
# kiln_receiver_received_profiles_total; must stay 0), profiles the exporters took (both
# counts include the 1 s warm-up), profiles dropped.
#
# Environment (all optional):
#   KILN_CORPUS          the corpus (default ../shared/corpus from the repo root)
#   KILN_BENCH_BUILD     a build dir configured with tests on (for build/test-plugins);
#                        default $KILN_BUILD, else <repo>/build. The needed targets are built.
#   KILN_BENCH_SECS      seconds per measured run (10)
#   KILN_BENCH_REPS      interleaved repetitions of the three configs (3)
#   KILN_BENCH_CONNS     load-generator connections (8)
#   KILN_BENCH_SERIES    distinct label sets (1000)
#   KILN_BENCH_CORE, KILN_BENCH_LOAD_CORE   cores for kiln and the load generator (0, 1)
#   KILN_BENCH_PORT, KILN_BENCH_METRICS_PORT   ports on 127.0.0.1 (24140, 28988)
#   KILN_BENCH_SKIP_BUILD 1: use what is built
#   KILN_BENCH_PERF      1: afterwards, profile kiln under the gateway and split configs with
#                        perf (DWARF call graphs, 6 s each) and print the inclusive CPU share of
#                        each processor's consume and of the core's per-exporter batch copy
#                        (kiln_batch_subset) — a finer measure of the processors' cost than
#                        throughput on a busy machine
# Output: a table on stdout; raw outputs (configs, load-generator lines, metrics) in
# $KILN_BENCH_BUILD/bench-gateway/.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CORPUS=${KILN_CORPUS:-$ROOT/../shared/corpus}
BUILD=${KILN_BENCH_BUILD:-${KILN_BUILD:-$ROOT/build}}
SECS=${KILN_BENCH_SECS:-10}
REPS=${KILN_BENCH_REPS:-3}
CONNS=${KILN_BENCH_CONNS:-8}
SERIES=${KILN_BENCH_SERIES:-1000}
CORE=${KILN_BENCH_CORE:-0}
LOAD_CORE=${KILN_BENCH_LOAD_CORE:-1}
PORT=${KILN_BENCH_PORT:-24140}
MPORT=${KILN_BENCH_METRICS_PORT:-28988}
SKIP_BUILD=${KILN_BENCH_SKIP_BUILD:-0}
PERF=${KILN_BENCH_PERF:-0}

die() { echo "gateway bench: $*" >&2; exit 1; }
log() { echo "gateway bench: $*" >&2; }

[ -d "$CORPUS" ] || die "no corpus at $CORPUS (set KILN_CORPUS)"
CORPUS=$(cd "$CORPUS" && pwd)
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)
OUT=$BUILD/bench-gateway
mkdir -p "$OUT" "$BUILD/bench"

# ---- build ------------------------------------------------------------------------------
if [ "$SKIP_BUILD" != 1 ]; then
    log "building kiln and the plugins in $BUILD"
    if [ ! -f "$BUILD/CMakeCache.txt" ]; then
        cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$OUT/cmake.log" 2>&1 ||
            { cat "$OUT/cmake.log" >&2; die "cmake configure failed"; }
    fi
    grep -q '^KILN_TESTS:BOOL=ON' "$BUILD/CMakeCache.txt" ||
        die "$BUILD is configured with KILN_TESTS=OFF: the testsink exporter needs the tests on"
    cmake --build "$BUILD" -j2 --target kiln-bin exporter_testsink processor_relabel \
        processor_tenant_route receiver_pprof >>"$OUT/cmake.log" 2>&1 ||
        { tail -30 "$OUT/cmake.log" >&2; die "build failed"; }
fi
KILN=$BUILD/bin/kiln
PLUGINS=$BUILD/test-plugins
for f in "$KILN" "$PLUGINS/exporter_testsink.so" "$PLUGINS/processor_relabel.so" \
    "$PLUGINS/processor_tenant_route.so" "$PLUGINS/receiver_pprof.so"; do
    [ -e "$f" ] || die "missing $f"
done
LOAD=$BUILD/bench/ingest_load
cc -O2 -g -std=gnu11 -Wall -Wextra -pthread -o "$LOAD" "$ROOT/bench/ingest_load.c"

FILES=("$CORPUS"/parca__many_*.pb.gz "$CORPUS/pprof__sample.cpu.pb.gz")
[ "${#FILES[@]}" -eq 11 ] || die "expected 11 mix files in $CORPUS, found ${#FILES[@]}"

# ---- configs ----------------------------------------------------------------------------
RELABEL='  relabel:
    relabel_configs:
      - {source_labels: [service_name], target_label: app}
      - {target_label: env, replacement: prod}
      - {source_labels: [i], regex: "([0-9]*)", target_label: shard, replacement: "s-$1"}
      - {source_labels: [i], modulus: 8, target_label: bucket, action: hashmod}
      - {source_labels: [service_name], target_label: service_lc, action: lowercase}
      - {regex: "__(delta)__", replacement: "kiln_$1", action: labelmap}
      - {source_labels: [service_name], regex: ".+", action: keep}
      - {source_labels: [env], regex: "dev|test", action: drop}
      - {regex: "service_lc|kiln_delta", action: labeldrop}
      - {source_labels: [app, env], separator: "/", target_label: team, regex: "(.*)/prod", replacement: "$1-live"}'

write_cfg() { # write_cfg FILE PROCESSORS_YAML PIPELINE_PROCESSORS
    cat >"$1" <<YAML
receivers:
  pprof:
    endpoint: 127.0.0.1:$PORT
$( [ -n "$2" ] && printf 'processors:\n%s\n' "$2" )
exporters:
  testsink/a:
    sending_queue: {num_consumers: 1, queue_size: 10000}
  testsink/b:
    sending_queue: {num_consumers: 1, queue_size: 10000}
service:
  workers: 1
  telemetry:
    logs: {level: warn}
    metrics: {address: 127.0.0.1:$MPORT}
  pipelines:
    profiles:
      receivers: [pprof]
      processors: [$3]
      exporters: [testsink/a, testsink/b]
YAML
}

ROUTE_BOTH='  tenant_route:
    routes:
      - tenants: [bench]
        match: {i: "[0-9]*[02468]", env: prod}
        exporters: [testsink/a, testsink/b]
      - tenants: [other]
        exporters: [testsink/a]
    default_exporters: [testsink/a, testsink/b]
    limits:
      max_series_per_tenant: 100000'
ROUTE_SPLIT='  tenant_route:
    routes:
      - tenants: [bench]
        match: {i: "[0-9]*[02468]", env: prod}
        exporters: [testsink/a]
      - tenants: [other]
        exporters: [testsink/a]
    default_exporters: [testsink/b]
    limits:
      max_series_per_tenant: 100000'

write_cfg "$OUT/baseline.yaml" "" ""
write_cfg "$OUT/gateway.yaml" "$RELABEL
$ROUTE_BOTH" "relabel, tenant_route"
write_cfg "$OUT/split.yaml" "$RELABEL
$ROUTE_SPLIT" "relabel, tenant_route"
write_cfg "$OUT/relabel.yaml" "$RELABEL" "relabel"
write_cfg "$OUT/route.yaml" "$(sed 's/, env: prod//' <<<"$ROUTE_BOTH")" "tenant_route"
CONFIGS=(baseline gateway split relabel route)
for c in "${CONFIGS[@]}"; do
    "$KILN" validate --config "$OUT/$c.yaml" --plugin-dir "$PLUGINS" >/dev/null 2>"$OUT/$c.validate" ||
        { cat "$OUT/$c.validate" >&2; die "config $c does not validate"; }
done

# ---- runs -------------------------------------------------------------------------------
metric() { awk -v k="$1" '$1==k {print $2; f=1} END {if(!f) print 0}' "$2"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK)

KPID=
stop_kiln() {
    [ -n "$KPID" ] || return 0
    kill -TERM "$KPID" 2>/dev/null || true
    wait "$KPID" 2>/dev/null || true
    KPID=
}
trap stop_kiln EXIT

run_one() { # run_one CONFIG REP
    local c=$1 rep=$2 tag="$1.$2"
    taskset -c "$CORE" "$KILN" --config "$OUT/$c.yaml" --plugin-dir "$PLUGINS" \
        >"$OUT/$tag.kiln.out" 2>"$OUT/$tag.kiln.log" &
    KPID=$!
    local i
    for i in $(seq 1 200); do
        curl -fs "http://127.0.0.1:$MPORT/ready" >/dev/null 2>&1 && break
        kill -0 "$KPID" 2>/dev/null || { cat "$OUT/$tag.kiln.log" >&2; die "kiln exited ($c)"; }
        sleep 0.05
    done
    # warm up (connections, allocator, series sets), then measure
    taskset -c "$LOAD_CORE" "$LOAD" -p "$PORT" -c "$CONNS" -n 1000000000 -t 1 -s "$SERIES" -T bench "${FILES[@]}" \
        >/dev/null || true
    local t0
    t0=$(cpu_ticks "$KPID")
    taskset -c "$LOAD_CORE" "$LOAD" -p "$PORT" -c "$CONNS" -n 1000000000 -t "$SECS" -s "$SERIES" -T bench "${FILES[@]}" \
        >"$OUT/$tag.load" || true
    local t1
    t1=$(cpu_ticks "$KPID")
    curl -fs "http://127.0.0.1:$MPORT/metrics" >"$OUT/$tag.metrics"
    stop_kiln
    local res ok rps p50 p99 cpu_us dec inf sa sb dropped
    res=$(grep '^RESULT' "$OUT/$tag.load") || die "no RESULT from the load generator ($tag)"
    ok=$(sed -n 's/.* ok=\([0-9]*\) .*/\1/p' <<<"$res")
    rps=$(sed -n 's/.* ok_rps=\([0-9.]*\) .*/\1/p' <<<"$res")
    p50=$(sed -n 's/.* p50_ms=\([0-9.]*\) .*/\1/p' <<<"$res")
    p99=$(sed -n 's/.* p99_ms=\([0-9.]*\) .*/\1/p' <<<"$res")
    # kiln CPU per profile over the measured run (warm-up excluded)
    cpu_us=$(awk -v a="$t0" -v b="$t1" -v t="$TCK" -v n="$ok" 'BEGIN {printf "%.1f", n ? (b-a)/t*1e6/n : 0}')
    dec=$(metric kiln_payload_decodes_total "$OUT/$tag.metrics")
    # inflates beyond the receiver's own (it inflates every body once to read its sample types)
    inf=$(( $(metric kiln_payload_inflates_total "$OUT/$tag.metrics") -
            $(metric 'kiln_receiver_received_profiles_total{receiver="pprof"}' "$OUT/$tag.metrics") ))
    sa=$(metric 'kiln_exporter_sent_profiles_total{exporter="testsink/a"}' "$OUT/$tag.metrics")
    sb=$(metric 'kiln_exporter_sent_profiles_total{exporter="testsink/b"}' "$OUT/$tag.metrics")
    dropped=$(awk '/^kiln_(processor|pipeline)_dropped_profiles_total/ {s += $2} END {print s+0}' "$OUT/$tag.metrics")
    echo "$c $rep $ok $rps $p50 $p99 $cpu_us $dec $inf $sa $sb $dropped" >>"$OUT/results.txt"
    log "$tag: $(sed 's/^ingest_load: //' "$OUT/$tag.load" | head -1)"
}

: >"$OUT/results.txt"
log "$REPS x (${CONFIGS[*]}), ${SECS}s each, $CONNS connections, $SERIES series"
# the order rotates from one repetition to the next, so no config always runs first or last
for rep in $(seq 1 "$REPS"); do
    for k in $(seq 0 $((${#CONFIGS[@]} - 1))); do
        run_one "${CONFIGS[$(((k + rep - 1) % ${#CONFIGS[@]}))]}" "$rep"
    done
done

# ---- table ------------------------------------------------------------------------------
median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2]+v[NR/2+1])/2}'; }
col() { awk -v c="$1" -v k="$2" '$1==c {print $k}' "$OUT/results.txt"; }
med() { col "$1" "$2" | median; }
all() { col "$1" "$2" | tr '\n' ' ' | sed 's/ $//'; }
sum() { col "$1" "$2" | awk '{s+=$1} END {print s+0}'; }

B_RPS=$(med baseline 4); B_P99=$(med baseline 6); B_CPU=$(med baseline 7)
echo
echo "Gateway overhead — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, loadavg before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "mix workload (11 files, 2-22 KB gzip), $CONNS connections, $SERIES series, ${SECS}s x $REPS runs each;"
echo "kiln pinned to core $CORE (service.workers 1), load generator to core $LOAD_CORE"
echo
printf '| %-8s | %-36s | %-7s | %-6s | %-6s | %-9s | %-8s | %-7s | %-9s | %-15s | %-7s |\n' \
    config "profiles/s (runs)" "vs base" "p50 ms" "p99 ms" "p99 added" "CPU µs/p" decodes "inflates+" "exported a/b" dropped
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' ---------- -------------------------------------- --------- -------- \
    -------- ----------- ---------- --------- ----------- ----------------- ---------
for c in "${CONFIGS[@]}"; do
    rps=$(med "$c" 4)
    ratio=$(awk -v a="$rps" -v b="$B_RPS" 'BEGIN {printf "%.1f%%", b ? (a/b-1)*100 : 0}')
    p99=$(med "$c" 6)
    added=$(awk -v a="$p99" -v b="$B_P99" 'BEGIN {printf "%+.3f", a-b}')
    printf '| %-8s | %-36s | %-7s | %-6s | %-6s | %-9s | %-8s | %-7s | %-9s | %-15s | %-7s |\n' \
        "$c" "$(printf '%.0f' "$rps") ($(all "$c" 4 | awk '{for(i=1;i<=NF;i++) printf "%s%.0f", (i>1?" ":""), $i}'))" \
        "$ratio" "$(med "$c" 5)" "$p99" "$added" "$(med "$c" 7)" "$(sum "$c" 8)" "$(sum "$c" 9)" \
        "$(sum "$c" 10)/$(sum "$c" 11)" "$(sum "$c" 12)"
done
echo
G_RPS=$(med gateway 4)
G_DEC=$(sum gateway 8); S_DEC=$(sum split 8)
G_INF=$(sum gateway 9); S_INF=$(sum split 9)
VERDICT=$(awk -v g="$G_RPS" -v b="$B_RPS" 'BEGIN {print (g >= 0.9*b) ? "met" : "NOT met"}')
echo "target (label-only processors cost < 10% of throughput): $VERDICT (gateway/baseline = $(awk -v g="$G_RPS" -v b="$B_RPS" 'BEGIN {printf "%.3f", g/b}'))"
NODEC=$([ "$G_DEC$S_DEC$G_INF$S_INF" = 0000 ] && echo met || echo "NOT met")
echo "target (never decode): $NODEC (gateway and split: $G_DEC+$S_DEC decodes, $G_INF+$S_INF inflates beyond the receiver's one per profile)"
echo "raw results: $OUT/results.txt (config rep ok ok_rps p50 p99 cpu_us decodes inflates sent_a sent_b dropped)"

# ---- optional: where the CPU goes --------------------------------------------------------
if [ "$PERF" = 1 ]; then
    command -v perf >/dev/null || die "KILN_BENCH_PERF=1 needs perf"
    for c in gateway split; do
        taskset -c "$CORE" "$KILN" --config "$OUT/$c.yaml" --plugin-dir "$PLUGINS" >/dev/null 2>&1 &
        KPID=$!
        for i in $(seq 1 200); do curl -fs "http://127.0.0.1:$MPORT/ready" >/dev/null 2>&1 && break; sleep 0.05; done
        taskset -c "$LOAD_CORE" "$LOAD" -p "$PORT" -c "$CONNS" -n 1000000000 -t 9 -s "$SERIES" -T bench \
            "${FILES[@]}" >/dev/null &
        lpid=$!
        sleep 1.5
        perf record -F 2000 --call-graph dwarf,16384 -p "$KPID" -o "$OUT/perf-$c.data" -- sleep 6 \
            >/dev/null 2>&1 || die "perf record failed"
        wait "$lpid" || true
        stop_kiln
        perf report -i "$OUT/perf-$c.data" --children --sort symbol --stdio -g none 2>/dev/null >"$OUT/perf-$c.txt"
        echo
        echo "perf, $c: inclusive share of kiln's CPU"
        for f in relabel_consume troute_consume kiln_batch_subset kiln_gunzip; do
            pct=$(awk -v f="$f" '$1 ~ /%$/ && $NF == f {print $1; exit} $1 ~ /%$/ && $(NF-2) == f {print $1; exit}' "$OUT/perf-$c.txt")
            printf '  %-20s %s\n' "$f" "${pct:-0%}"
        done
        rm -f "$OUT/perf-$c.data"
    done
fi
