#!/usr/bin/env bash
# bench/blocks/run.sh — the blocks exporter's benchmarks (issue 3, "Benchmark"). Not a test:
# never registered with ctest.
#
# 1. Storage efficiency (bench_storage.c): one hour of 15 s CPU and heap profiles from 50
#    series made from corpus files with varied labels and values, through heads, level-1
#    blocks and compaction; bytes stored vs gzip'ed pprof bytes received.
# 2. Ingest throughput on one core, for the workloads of bench/run_ingest.sh (large:
#    pprof__large.cpu.pb.gz; mix: the ten parca__many_* heaps + pprof__sample.cpu.pb.gz):
#      limit   bench/limit_decode: gunzip + full decode in a loop (the core issue's limit)
#      debug   kiln, pprof receiver -> debug exporter (verbosity basic): the core's figure
#      blocks  kiln, pprof receiver -> blocks exporter on the filesystem backend
#              (wal_fsync batch: an fdatasync before every 200; block_duration 1m so that
#              heads are cut and uploaded during longer runs), sending_queue.num_consumers 1
#      blocks2    the same with 2 consumers (the default): fdatasyncs overlap with decoding
#      blocksint  1 consumer, wal_fsync interval (no fdatasync before the 200)
#    kiln runs with service.workers 1 and sending_queue.num_consumers 1, pinned to core
#    $KILN_BENCH_CORE (0); the load generator (bench/ingest_load.c) to $KILN_BENCH_LOAD_CORE (1).
#    Reported: profiles/s, MB/s gzip and raw, kiln CPU seconds per profile, peak RSS (VmHWM).
#
# Environment: KILN_CORPUS, KILN_BENCH_BUILD (build dir with kiln built; default <repo>/build),
# KILN_BENCH_SECS (20), KILN_BENCH_N_LARGE (400), KILN_BENCH_N_MIX (20000), KILN_BENCH_CONNS (4),
# KILN_BENCH_DIR (scratch, default a mktemp dir; the WAL and blocks go there: use a real disk).
# Output: tables on stdout; raw outputs in $KILN_BENCH_BUILD/bench-out/blocks/.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CORPUS=${KILN_CORPUS:-$ROOT/../shared/corpus}
BUILD=${KILN_BENCH_BUILD:-$ROOT/build}
SECS=${KILN_BENCH_SECS:-20}
N_LARGE=${KILN_BENCH_N_LARGE:-400}
N_MIX=${KILN_BENCH_N_MIX:-20000}
CONNS=${KILN_BENCH_CONNS:-4}
CORE=${KILN_BENCH_CORE:-0}
LOAD_CORE=${KILN_BENCH_LOAD_CORE:-1}
PORT=${KILN_BENCH_PORT:-24140}
MPORT=${KILN_BENCH_METRICS_PORT:-28988}
SCRATCH=${KILN_BENCH_DIR:-$(mktemp -d /tmp/kiln-bench-blocks.XXXXXX)}
OUT=$BUILD/bench-out/blocks
mkdir -p "$OUT" "$BUILD/bench"
die() { echo "bench/blocks: $*" >&2; exit 1; }
log() { echo "bench/blocks: $*" >&2; }
[ -x "$BUILD/bin/kiln" ] || die "no $BUILD/bin/kiln: build kiln first (cmake --build $BUILD)"
CORPUS=$(cd "$CORPUS" && pwd)
KILN=$BUILD/bin/kiln
PLUGINS=$BUILD/lib/kiln/plugins
PKG=$(pkg-config --cflags --libs libprotobuf-c)

log "building the bench programs"
cc -O2 -g -std=gnu11 -Wall -Wextra -I"$ROOT/include" -I"$BUILD/gen" "$HERE/bench_storage.c" \
  -o "$BUILD/bench/bench_storage" -L"$BUILD/lib" -Wl,-rpath,"$BUILD/lib" -lkiln $PKG
cc -O2 -g -std=gnu11 -Wall -Wextra -pthread -o "$BUILD/bench/ingest_load" "$ROOT/bench/ingest_load.c"
LIMIT=$(bash "$ROOT/bench/build.sh" "$BUILD" | tail -1)
LOAD=$BUILD/bench/ingest_load

# ---- 1. storage efficiency --------------------------------------------------------------
log "storage efficiency (one hour, 50 series)"
rm -rf "$SCRATCH/storage" && mkdir -p "$SCRATCH/storage"
"$BUILD/bench/bench_storage" -d "$SCRATCH/storage" "$CORPUS" | tee "$OUT/storage.txt"

# ---- 2. ingest -----------------------------------------------------------------------------
kv() { tr ' ' '\n' | sed -n "s/^$1=//p" | head -1; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
metric() { awk -v n="$2" '$1 == n || index($1, n "{") == 1 { print $2; f = 1; exit } END { if (!f) print 0 }' "$1"; }

KPID=
stop_kiln() {
  if [ -n "$KPID" ] && kill -0 "$KPID" 2>/dev/null; then kill -TERM "$KPID"; wait "$KPID" || true; fi
  KPID=
}
trap stop_kiln EXIT

start_kiln() { # start_kiln debug|blocks|blocks2|blocksint NAME
  local exp consumers=1 fsync=batch
  rm -rf "$SCRATCH/kiln" && mkdir -p "$SCRATCH/kiln"
  case $1 in blocks2) consumers=2 ;; blocksint) fsync=interval ;; esac
  if [ "$1" != debug ]; then
    exp="blocks:
    storage: {backend: filesystem, filesystem: {directory: $SCRATCH/kiln/blocks}}
    wal_dir: $SCRATCH/kiln/wal
    wal_fsync: $fsync
    block_duration: 1m
    retention: 0s
    sending_queue: {num_consumers: $consumers}"
  else
    exp="debug:
    verbosity: basic
    sampling_initial: 1
    sampling_thereafter: 1000000
    sending_queue: {num_consumers: 1}"
  fi
  cat >"$OUT/kiln-$2.yaml" <<EOF
receivers:
  pprof:
    endpoint: 127.0.0.1:$PORT
exporters:
  $exp
service:
  workers: 1
  memory_limit: 8GiB
  telemetry:
    metrics: {address: 127.0.0.1:$MPORT}
  pipelines:
    profiles:
      receivers: [pprof]
      exporters: [$( [ "$1" = debug ] && echo debug || echo blocks )]
EOF
  taskset -c "$CORE" "$KILN" --config "$OUT/kiln-$2.yaml" --plugin-dir "$PLUGINS" >"$OUT/kiln-$2.log" 2>&1 &
  KPID=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$MPORT/ready" >/dev/null 2>&1 && return 0
    kill -0 "$KPID" 2>/dev/null || { cat "$OUT/kiln-$2.log" >&2; die "kiln exited at start"; }
    sleep 0.1
  done
  die "kiln not ready"
}

declare -A R
run_kiln() { # run_kiln debug|blocks WL N FILE...
  local what=$1 wl=$2 n=$3 line b a
  shift 3
  start_kiln "$what" "$wl-$what"
  taskset -c "$LOAD_CORE" "$LOAD" -p "$PORT" -c "$CONNS" -n $((n / 20 + 20)) -t 5 "$@" >/dev/null || true
  b=$OUT/m-$wl-$what-before.txt; a=$OUT/m-$wl-$what-after.txt
  curl -fs "http://127.0.0.1:$MPORT/metrics" >"$b"
  taskset -c "$LOAD_CORE" "$LOAD" -p "$PORT" -c "$CONNS" -n "$n" -t "$SECS" "$@" >"$OUT/load-$wl-$what.txt" ||
    log "[$wl/$what] non-200 answers: $(grep RESULT "$OUT/load-$wl-$what.txt")"
  curl -fs "http://127.0.0.1:$MPORT/metrics" >"$a"
  line=$(grep '^RESULT' "$OUT/load-$wl-$what.txt")
  local ok cpu
  ok=$(kv ok <<<"$line")
  cpu=$(calc "$(metric "$a" kiln_process_cpu_seconds_total) - $(metric "$b" kiln_process_cpu_seconds_total)" 3)
  R[$wl.$what.pps]=$(kv ok_rps <<<"$line")
  R[$wl.$what.mbs]=$(kv mb_s <<<"$line")
  R[$wl.$what.raw]=$(kv raw_mb_s <<<"$line")
  R[$wl.$what.cpps]=$(calc "$ok / $cpu" 1)
  R[$wl.$what.bad]=$(($(kv non200 <<<"$line") + $(kv errors <<<"$line")))
  R[$wl.$what.hwm]=$(calc "$(awk '/^VmHWM:/ { print $2 }' "/proc/$KPID/status") / 1024" 1)
  if [ "$what" != debug ]; then
    R[$wl.$what.fsyncs]=$(calc "$(metric "$a" kiln_blocks_wal_fsyncs_total) - $(metric "$b" kiln_blocks_wal_fsyncs_total)" 0)
    R[$wl.$what.uploaded]=$(metric "$a" kiln_blocks_uploaded_total)
  fi
  stop_kiln
}

run_limit() { # run_limit WL N FILE...
  local wl=$1 n=$2 line
  shift 2
  taskset -c "$CORE" "$LIMIT" -q -n "$n" "$@" >"$OUT/limit-$wl.txt"
  line=$(grep '^RESULT' "$OUT/limit-$wl.txt")
  R[$wl.limit.pps]=$(kv profiles_s <<<"$line")
  R[$wl.limit.mbs]=$(kv mb_s <<<"$line")
  R[$wl.limit.raw]=$(kv raw_mb_s <<<"$line")
  R[$wl.limit.cpps]=${R[$wl.limit.pps]}
  R[$wl.limit.hwm]=$(kv max_rss_mib <<<"$line")
}

LARGE=("$CORPUS/pprof__large.cpu.pb.gz")
MIX=("$CORPUS"/parca__many_*.pb.gz "$CORPUS/pprof__sample.cpu.pb.gz")
for wl in large mix; do
  if [ $wl = large ]; then n=$N_LARGE; files=("${LARGE[@]}"); else n=$N_MIX; files=("${MIX[@]}"); fi
  log "[$wl] limit"
  run_limit $wl "$n" "${files[@]}"
  log "[$wl] kiln + debug exporter"
  run_kiln debug $wl "$n" "${files[@]}"
  log "[$wl] kiln + blocks exporter"
  run_kiln blocks $wl "$n" "${files[@]}"
  log "[$wl] kiln + blocks exporter, 2 consumers"
  run_kiln blocks2 $wl "$n" "${files[@]}"
  log "[$wl] kiln + blocks exporter, wal_fsync interval"
  run_kiln blocksint $wl "$n" "${files[@]}"
done

{
  echo
  echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), kernel $(uname -r)," \
    "$(date -u +%Y-%m-%dT%H:%MZ); scratch on $(df -P "$SCRATCH" | awk 'NR==2 {print $1}')"
  echo
  echo "| work  | what      | profiles/s | MB/s gz | MB/s raw | profiles/CPU-s | peak RSS  | / limit | CPU / limit CPU | non-200 |"
  echo "|-------|-----------|-----------:|--------:|---------:|---------------:|----------:|--------:|----------------:|--------:|"
  for wl in large mix; do
    for what in limit debug blocks blocks2 blocksint; do
      printf '| %-5s | %-9s | %10.1f | %7.2f | %8.2f | %14.1f | %5.1f MiB | %7.3f | %15.3f | %7s |\n' "$wl" "$what" \
        "${R[$wl.$what.pps]}" "${R[$wl.$what.mbs]}" "${R[$wl.$what.raw]}" "${R[$wl.$what.cpps]}" \
        "${R[$wl.$what.hwm]}" "$(calc "${R[$wl.$what.pps]} / ${R[$wl.limit.pps]}" 3)" \
        "$(calc "${R[$wl.$what.cpps]} / ${R[$wl.limit.cpps]}" 3)" "${R[$wl.$what.bad]:-}"
    done
  done
  for wl in large mix; do
    for what in blocks blocks2 blocksint; do
      echo "$wl/$what: ${R[$wl.$what.fsyncs]} WAL fdatasyncs, ${R[$wl.$what.uploaded]} blocks uploaded during the run"
    done
  done
} | tee "$OUT/ingest.txt"
[ -z "${KILN_BENCH_DIR:-}" ] && rm -rf "$SCRATCH"
exit 0
