#!/usr/bin/env bash
# Crash tests of the blocks exporter through a real kiln (pprof receiver +
# blocks exporter on the filesystem backend): kill -9 while ingesting, and at
# each crash point of a block's life (data objects written / meta written /
# a compacted block's data written / its meta written, before the sources
# are deleted), restart, and check with `kiln blocks inspect` that every
# profile that got a 200 is there exactly once: each posted profile has its
# own service_name, every acknowledged one is counted once, none twice, and
# the per-function flat and cum totals equal (number present) x those of one
# profile, whose total is checked against `go tool pprof -raw` in
# corpus/expected. `kiln blocks verify` passes at the end.
#
# KILN_BLOCKS_CLI overrides the command used for `kiln blocks` (until the
# subcommand is wired into the kiln binary).
source "$(dirname "$0")/lib.sh"
CORPUS=${KILN_CORPUS:-$(dirname "$0")/../../../shared/corpus}
PROF=$CORPUS/pprof__sample.cpu.pb.gz
RAW=$CORPUS/expected/pprof__sample.cpu.pb.gz.raw.txt
PORT=$(free_port); MPORT=$(free_port)
read -r -a BLOCKS <<<"${KILN_BLOCKS_CLI:-$KILN blocks}"
ACKS=$WORK/acks
if ! "${BLOCKS[@]}" list 2>&1 | grep -q -- '--config FILE is required'; then
  bad "'${BLOCKS[*]}' is not available: kiln_cli_blocks (pipeline/cli_blocks.c) must be wired into pipeline/main.c"
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
    block_duration: 1s
    retention: 0s
    compaction: {ranges: [2s, 4s], interval: 1s, delay: 0s}
    upload: {initial_backoff: 100ms}
service:
  shutdown_timeout: 5s
  telemetry:
    metrics: {address: 127.0.0.1:$MPORT}
  pipelines:
    profiles:
      receivers: [pprof]
      exporters: [blocks]
YAML

post() { # post NAME -> records "NAME CODE" in $ACKS
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --data-binary @"$PROF" \
    "http://127.0.0.1:$PORT/ingest?name=$1&format=pprof" 2>/dev/null)
  echo "$1 ${code:-000}" >>"$ACKS"
}

kill9() { kill -9 "$KILN_PID" 2>/dev/null; wait "$KILN_PID" 2>/dev/null; KILN_PID=; }

# 1. kill -9 while profiles are being posted, several times
start_kiln "$WORK/k.yaml" || exit 1
(for i in $(seq 1 80); do post "ing$i"; sleep 0.02; done) &
LOOP=$!
for k in 1 2 3; do
  sleep 0.6
  kill9
  sleep 0.2
  start_kiln "$WORK/k.yaml" || exit 1
done
wait "$LOOP"
check "some profiles were acknowledged while kiln was being killed" [ "$(grep -c ' 200$' "$ACKS")" -ge 10 ]

# 2. kill -9 at each crash point of a block's life
for P in block-data-written block-meta-written compact-data-written compact-meta-written; do
  stop_kiln
  export KILN_BLOCKS_CRASH_POINT=$P
  : >"$WORK/kiln.log"
  start_kiln "$WORK/k.yaml" || exit 1
  unset KILN_BLOCKS_CRASH_POINT
  for j in 1 2 3 4 5 6; do post "$P-$j"; sleep 0.3; done
  reached=0
  for i in $(seq 1 150); do
    if grep -q "crash point $P reached" "$WORK/kiln.log"; then reached=1; break; fi
    sleep 0.1
  done
  check "kiln reached crash point $P" [ "$reached" = 1 ]
  kill9
  start_kiln "$WORK/k.yaml" || exit 1
  post "after-$P"
done

# let the last heads be cut, uploaded and compacted; then a last few
# profiles that only reach the WAL before a kill: `kiln blocks` reads them
# from the WAL segments (heads)
sleep 4
for j in 1 2 3; do post "tail-$j"; done
kill9

"${BLOCKS[@]}" inspect --config "$WORK/k.yaml" --tenant anonymous --totals >"$WORK/inspect.txt" 2>"$WORK/inspect.err"
check "kiln blocks inspect runs ($(head -c 300 "$WORK/inspect.err"))" [ -s "$WORK/inspect.txt" ]
check "the last profiles are read from a WAL head" grep -q '^head tenant=anonymous ' "$WORK/inspect.txt"

# profiles per service (cpu series of visible blocks and heads)
grep -E '^    series ' "$WORK/inspect.txt" | grep '__type__="cpu"' |
  sed -E 's/^ *series [0-9]+ profiles=([0-9]+) .*service_name="([^"]*)".*/\2 \1/' |
  awk '{n[$1]+=$2} END {for (s in n) print s, n[s]}' | sort >"$WORK/present.txt"
acked=$(awk '$2==200 {print $1}' "$ACKS" | sort -u)
n_acked=$(echo "$acked" | grep -c .)
missing=0; dup=0
for s in $acked; do
  c=$(awk -v s="$s" '$1==s {print $2}' "$WORK/present.txt")
  [ "${c:-0}" -eq 1 ] || { missing=$((missing + 1)); echo "acknowledged $s counted ${c:-0} times"; }
done
dup=$(awk '$2 > 1' "$WORK/present.txt" | wc -l)
n_present=$(wc -l <"$WORK/present.txt")
check "all $n_acked acknowledged profiles are present exactly once" [ "$missing" -eq 0 ]
check "no profile is counted twice" [ "$dup" -eq 0 ]
check "present ($n_present) >= acknowledged ($n_acked)" [ "$n_present" -ge "$n_acked" ]
hidden=$(grep -c 'hidden (in a compacted block)' "$WORK/inspect.txt")
levels=$(grep -c '^block .* level=[2-9]' "$WORK/inspect.txt")
check "compaction made blocks ($levels compacted, $hidden hidden left)" [ "$levels" -ge 1 ]

# totals: the cpu total is (present) x the total of one profile per go tool pprof -raw
ptype='process_cpu:cpu:nanoseconds:cpu:nanoseconds'
one=$(awk '/^Samples:/ {s=1; next} /^Locations/ {s=0} s && $2 ~ /^[0-9]+:?$/ {sub(":", "", $2); t+=$2} END {print t}' "$RAW")
tot=$(grep "^totals tenant=anonymous profile_type=$ptype " "$WORK/inspect.txt" | sed -E 's/.* total=([0-9]+).*/\1/')
prof=$(grep "^totals tenant=anonymous profile_type=$ptype " "$WORK/inspect.txt" | sed -E 's/.* profiles=([0-9]+).*/\1/')
check "cpu total $tot = $n_present x $one (go tool pprof -raw)" [ "${tot:-0}" -eq $((n_present * one)) ]
check "profiles counted in totals ($prof) = present ($n_present)" [ "${prof:-0}" -eq "$n_present" ]

# per-function totals: n_present x those of a single profile stored alone
cat >"$WORK/ref.yaml" <<YAML
receivers:
  pprof:
    endpoint: 127.0.0.1:$PORT
exporters:
  blocks:
    storage: {backend: filesystem, filesystem: {directory: $WORK/refdata}}
    wal_dir: $WORK/refwal
    retention: 0s
service:
  telemetry:
    metrics: {address: 127.0.0.1:$MPORT}
  pipelines:
    profiles:
      receivers: [pprof]
      exporters: [blocks]
YAML
start_kiln "$WORK/ref.yaml" || exit 1
post ref
stop_kiln
"${BLOCKS[@]}" inspect --config "$WORK/ref.yaml" --tenant anonymous --totals >"$WORK/ref.txt" 2>&1
grep "^fn profile_type=$ptype " "$WORK/ref.txt" |
  sed -E 's/^fn [^ ]+ flat=(-?[0-9]+) cum=(-?[0-9]+) name=(.*)$/\3 \1 \2/' |
  awk -v n="$n_present" '{printf "%s %.0f %.0f\n", $1, $2 * n, $3 * n}' | sort >"$WORK/want.fn"
grep "^fn profile_type=$ptype " "$WORK/inspect.txt" |
  sed -E 's/^fn [^ ]+ flat=(-?[0-9]+) cum=(-?[0-9]+) name=(.*)$/\3 \1 \2/' | sort >"$WORK/got.fn"
check "per-function flat and cum = $n_present x one profile's ($(wc -l <"$WORK/want.fn") functions)" \
  cmp -s "$WORK/want.fn" "$WORK/got.fn"
[ -s "$WORK/want.fn" ] || bad "reference per-function totals are empty"

out=$("${BLOCKS[@]}" verify --config "$WORK/k.yaml" 2>&1)
check "kiln blocks verify passes" has "$out" 'verify: all blocks ok'
finish
