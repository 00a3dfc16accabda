#!/usr/bin/env bash
# The blocks exporter on S3: a real kiln (pprof receiver + blocks exporter,
# storage.backend s3, credentials from the standard AWS_* variables) writes
# through tests/integration/s3/sigv4_proxy.py (which checks every SigV4
# signature) into s3rver (npm, pinned, installed like tests/runtime/test_s3.sh
# does into $KILN_BUILD/s3rver). Checks: every block's objects are in
# s3rver's files under the prefix, meta.json last-written and complete;
# `kiln blocks inspect --totals` reads them back through the block reader
# (range GETs) with every profile once and the per-function totals of one
# profile times the number posted; compaction ran on S3 (a level-2 block,
# inputs deleted); `kiln blocks verify` passes, and finds a bit flip in
# s3rver's copy of a samples object.
#
# Skips (exit 0, "skipped: ...") only when npm cannot reach its registry to
# install s3rver. KILN_BLOCKS_CLI overrides the `kiln blocks` command.
source "$(dirname "$0")/lib.sh"
SRC=${KILN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
CORPUS=${KILN_CORPUS:-$SRC/../shared/corpus}
PROF=$CORPUS/pprof__sample.cpu.pb.gz
S3SRC=$SRC/tests/integration/s3
S3DIR=$KILN_BUILD/s3rver
BUCKET=kiln-blocks
read -r -a BLOCKS <<<"${KILN_BLOCKS_CLI:-$KILN blocks}"
S3_PID=
PROXY_PID=
cleanup_s3() {
  local p
  for p in $PROXY_PID $S3_PID; do kill "$p" 2>/dev/null; done
  for p in $PROXY_PID $S3_PID; do wait "$p" 2>/dev/null; done
}
trap 'stop_kiln; cleanup_s3' EXIT
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

if ! "${BLOCKS[@]}" list 2>&1 | grep -q -- '--config FILE is required'; then
  bad "'${BLOCKS[*]}' is not available: kiln_cli_blocks (pipeline/cli_blocks.c) must be wired into pipeline/main.c"
  finish
  exit 1
fi
for tool in node npm python3 curl; do
  command -v "$tool" >/dev/null 2>&1 || { bad "$tool is not installed"; finish; exit 1; }
done

# ---- s3rver from npm (shared with test_s3.sh) ------------------------------------------
if ! { [ -x "$S3DIR/node_modules/.bin/s3rver" ] && cmp -s "$S3SRC/package-lock.json" "$S3DIR/package-lock.json"; }; then
  rm -rf "$S3DIR"
  mkdir -p "$S3DIR"
  cp "$S3SRC/package.json" "$S3SRC/package-lock.json" "$S3DIR/"
  if ! (cd "$S3DIR" && timeout 300 npm ci --no-audit --no-fund --ignore-scripts >"$WORK/npm.log" 2>&1); then
    if ! timeout 60 npm ping >/dev/null 2>&1; then
      echo "skipped: npm cannot reach its registry, so s3rver cannot be installed"
      rm -rf "$S3DIR"
      exit 0
    fi
    tail -20 "$WORK/npm.log"
    bad "npm ci failed although the registry answers"
    finish
    exit 1
  fi
fi
wait_http() { # URL PID
  local i
  for i in $(seq 1 150); do
    curl -s -o /dev/null --max-time 1 "$1" && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
S3PORT=$(free_port); PPORT=$(free_port); PORT=$(free_port); MPORT=$(free_port)
mkdir -p "$WORK/s3data"
NODE_OPTIONS=--openssl-legacy-provider "$S3DIR/node_modules/.bin/s3rver" -d "$WORK/s3data" -a 127.0.0.1 \
  -p "$S3PORT" --service-endpoint localhost --configure-bucket "$BUCKET" >"$WORK/s3rver.log" 2>&1 &
S3_PID=$!
wait_http "http://127.0.0.1:$S3PORT/" "$S3_PID" || { tail "$WORK/s3rver.log"; bad "s3rver did not start"; finish; exit 1; }
python3 "$S3SRC/sigv4_proxy.py" "$PPORT" "$S3PORT" S3RVER us-east-1 >"$WORK/proxy.log" 2>&1 &
PROXY_PID=$!
wait_http "http://127.0.0.1:$PPORT/__stats" "$PROXY_PID" || { cat "$WORK/proxy.log"; bad "proxy did not start"; finish; exit 1; }

# credentials only from the environment, as AWS tools read them
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
cat >"$WORK/k.yaml" <<YAML
receivers:
  pprof:
    endpoint: 127.0.0.1:$PORT
exporters:
  blocks:
    storage:
      backend: s3
      s3:
        endpoint: \${env:S3_ENDPOINT}
        bucket: $BUCKET
        force_path_style: true
        prefix: blk
    wal_dir: $WORK/wal
    block_duration: 1s
    retention: 0s
    compaction: {ranges: [3s], interval: 1s, delay: 0s}
service:
  telemetry:
    metrics: {address: 127.0.0.1:$MPORT}
  pipelines:
    profiles:
      receivers: [pprof]
      exporters: [blocks]
YAML
export S3_ENDPOINT=http://127.0.0.1:$PPORT
start_kiln "$WORK/k.yaml" || { finish; exit 1; }
N=12
okc=0
for i in $(seq 1 $N); do
  code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$PROF" "http://127.0.0.1:$PORT/ingest?name=s3app$i&format=pprof")
  [ "$code" = 200 ] && okc=$((okc + 1))
  sleep 0.3
done
check "all $N profiles acknowledged ($okc)" [ "$okc" -eq "$N" ]
# wait until everything is uploaded (no WAL segment left) and compacted
for i in $(seq 1 100); do
  [ -z "$(find "$WORK/wal" -name '*.wal' 2>/dev/null)" ] && [ "$(metric 'kiln_blocks_compactions_total{exporter="blocks"}')" -ge 1 ] && break
  sleep 0.2
done
check "blocks uploaded ($(metric 'kiln_blocks_uploaded_total{exporter="blocks"}'))" [ "$(metric 'kiln_blocks_uploaded_total{exporter="blocks"}')" -ge 2 ]
check "no upload failed" [ "$(metric 'kiln_blocks_upload_failures_total{exporter="blocks"}')" -eq 0 ]
check "a compaction ran on S3" [ "$(metric 'kiln_blocks_compactions_total{exporter="blocks"}')" -ge 1 ]
stop_kiln

B=$WORK/s3data/$BUCKET/blk/anonymous
metas=$(find "$B" -name 'meta.json._S3rver_object' | wc -l)
check "s3rver holds block metas under the prefix ($metas)" [ "$metas" -ge 1 ]
complete=1
for m in $(find "$B" -name 'meta.json._S3rver_object'); do
  d=$(dirname "$m")
  for f in index.bin symbols.bin samples.bin; do [ -f "$d/$f._S3rver_object" ] || complete=0; done
  grep -q '"format": "kiln-block"' "$m" || complete=0
done
check "every meta's block has its three data objects" [ "$complete" = 1 ]

"${BLOCKS[@]}" inspect --config "$WORK/k.yaml" --tenant anonymous --totals >"$WORK/inspect.txt" 2>"$WORK/inspect.err"
check "inspect reads the bucket ($(head -c 200 "$WORK/inspect.err"))" grep -q '^block tenant=anonymous' "$WORK/inspect.txt"
check "a compacted (level 2) block" grep -q '^block .* level=2 ' "$WORK/inspect.txt"
n=$(grep -E '^    series ' "$WORK/inspect.txt" | grep '__type__="cpu"' | sed -E 's/.* profiles=([0-9]+) .*/\1/' | awk '{s+=$1} END {print s+0}')
check "every profile once: $n cpu profiles = $N" [ "$n" -eq "$N" ]
svcs=$(grep -E '^    series ' "$WORK/inspect.txt" | grep '__type__="cpu"' | sed -E 's/.*service_name="([^"]*)".*/\1/' | sort -u | wc -l)
check "$N distinct services" [ "$svcs" -eq "$N" ]
tot=$(grep '^totals tenant=anonymous profile_type=process_cpu:cpu:nanoseconds:cpu:nanoseconds ' "$WORK/inspect.txt" | sed -E 's/.* total=([0-9]+).*/\1/')
check "cpu total $tot = $N x 1760000000 (go tool pprof -raw of the file)" [ "${tot:-0}" -eq $((N * 1760000000)) ]
busy=$(grep '^fn profile_type=process_cpu:cpu:nanoseconds:cpu:nanoseconds .*name=main.busyLoop$' "$WORK/inspect.txt" | sed -E 's/.* cum=([0-9]+).*/\1/')
check "main.busyLoop cum = $N x 1.76s ($busy)" [ "${busy:-0}" -eq $((N * 1760000000)) ]
out=$("${BLOCKS[@]}" verify --config "$WORK/k.yaml" 2>&1)
check "verify passes on S3" has "$out" 'verify: all blocks ok'

# damage s3rver's copy of one samples object: verify finds it
obj=$(find "$B" -name 'samples.bin._S3rver_object' | head -1)
python3 - "$obj" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[len(b) // 2] ^= 0x55
open(p, 'wb').write(bytes(b))
PY
out=$("${BLOCKS[@]}" verify --config "$WORK/k.yaml" 2>&1); rc=$?
check "verify finds the flipped byte (exit $rc)" [ "$rc" -ne 0 ]
check "verify names the damage" has "$out" 'CORRUPT'
STATS=$(curl -s --max-time 5 "http://127.0.0.1:$PPORT/__stats")
bad_sig=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["bad_sig"])' "$STATS" 2>/dev/null || echo -1)
check "every request was correctly signed (bad_sig=$bad_sig)" [ "$bad_sig" = 0 ]
finish
