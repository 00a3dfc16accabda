#!/usr/bin/env bash
# test_node_client.sh — the real @pyroscope/nodejs client from npm (version
# pinned by tests/integration/nodeclient/package-lock.json) profiles a busy
# Node process (wall + heap) and pushes to kiln.
#
# Proves: what the Node client sends (its own URL, multipart body and pprof
# encoding, from/until in seconds) is accepted with 200; kiln's debug lines
# carry service_name=nodeapp, region=test, pyroscope_spy=nodespy, the tenant
# from the client's tenantID, and exactly the samples and totals pprofcheck
# computes on the bytes the client uploaded (push.js keeps a copy of each);
# the wall profile has non-zero totals; /metrics counts the same uploads.
#
# Needs node (>= 18) and npm with the npm registry reachable; the install goes
# to $KILN_BUILD/nodeclient and is reused while package-lock.json is unchanged.
# Run alone: bash tests/integration/test_node_client.sh  (env KILN_BUILD=<build dir>)
source "$(dirname "$0")/lib.sh"
lib_init node_client

build_pprofcheck || die "cannot build pprofcheck"
command -v node >/dev/null || die "node is not installed"
command -v npm >/dev/null || die "npm is not installed"
node_major=$(node -p 'process.versions.node.split(".")[0]')
check_true "node $(node --version) is >= 18 (what @pyroscope/nodejs 0.4.7 supports)" test "$node_major" -ge 18

# --- install the pinned client ---------------------------------------------------
NC=$KILN_BUILD/nodeclient
mkdir -p "$NC"
if ! cmp -s "$LIB_DIR/nodeclient/package-lock.json" "$NC/.installed-lock.json" ||
    [ ! -d "$NC/node_modules/@pyroscope/nodejs" ]; then
    cp "$LIB_DIR/nodeclient/package.json" "$LIB_DIR/nodeclient/package-lock.json" "$NC/"
    rm -f "$NC/.installed-lock.json"
    if ! (cd "$NC" && timeout 240 npm ci --no-audit --no-fund --loglevel=error >"$WORK/npm.out" 2>&1); then
        if ! timeout 60 npm ping >"$WORK/ping.out" 2>&1; then
            # the one failure that is the machine's, not kiln's: no npm registry
            echo "skipped: npm cannot reach its registry, so @pyroscope/nodejs cannot be installed:"
            tail -5 "$WORK/ping.out"
            exit 0
        fi
        echo "--- npm ci failed:"; cat "$WORK/npm.out"
        die "npm ci of @pyroscope/nodejs failed (is the npm registry reachable?)"
    fi
    cp "$LIB_DIR/nodeclient/package-lock.json" "$NC/.installed-lock.json"
fi
cp "$LIB_DIR/nodeclient/push.js" "$NC/push.js"
version=$(node -p "require('$NC/node_modules/@pyroscope/nodejs/package.json').version")
check_eq "@pyroscope/nodejs installed at the pinned version" "$version" 0.4.7

# --- kiln ---------------------------------------------------------------------------
kiln_start_debug || die "kiln did not start"

# --- the client -----------------------------------------------------------------------
mkdir -p "$WORK/out"
(cd "$NC" && env -u PYROSCOPE_ADHOC_SERVER_ADDRESS -u PYROSCOPE_SERVER_ADDRESS \
    KILN_URL="http://127.0.0.1:$KILN_PORT" OUT_DIR="$WORK/out" BUSY_MS=3000 TENANT=node-team \
    timeout 60 node push.js) >"$WORK/push.out" 2>"$WORK/push.err"
rc=$?
cat "$WORK/push.out"
check_eq "push.js ran and every upload was answered 200" "$rc" 0
[ "$rc" = 0 ] || cat "$WORK/push.err"
n_up=$(grep -c '^upload .*status=200' "$WORK/push.out")
check_true "the client uploaded at least 2 profiles (got $n_up)" test "$n_up" -ge 2
check_true "uploads carry spyName=nodespy and the name with tags" \
    grep -q 'spyName=nodespy' "$WORK/push.out"

# --- the reference on the bytes the client sent --------------------------------------------
shopt -s nullglob
UP=("$WORK"/out/upload-*.pb.gz)
shopt -u nullglob
check_eq "a saved copy of every upload" "${#UP[@]}" "$n_up"
[ "${#UP[@]}" -gt 0 ] || die "nothing to compare"
"$PPROFCHECK" "${UP[@]}" >"$WORK/reference.tsv"
check_eq "pprofcheck parses every upload" "$?" 0
# one "summary bytes=N" line per upload, sorted: the multiset kiln must log
while IFS=$'\t' read -r path summ; do
    echo "$summ bytes=$(file_size "$path")"
done <"$WORK/reference.tsv" | sort >"$WORK/want.txt"
cat "$WORK/reference.tsv"

wait_metric 'kiln_exporter_sent_profiles_total{exporter="debug"}' "$n_up" 20
mapfile -t LINES < <(debug_lines)
check_eq "one debug line per upload" "${#LINES[@]}" "$n_up"
: >"$WORK/got.txt"
bad_labels=0 wall_nonzero=0 shape_bad=0
for line in "${LINES[@]}"; do
    [[ $line =~ $DEBUG_LINE_RE ]] || { shape_bad=$((shape_bad + 1)); echo "bad shape: $line"; }
    echo "$(debug_summary "$line") bytes=$(kv "$line" bytes)" >>"$WORK/got.txt"
    labels=$(kv "$line" labels)
    name=$(label "$labels" __name__)
    if [ "$(label "$labels" service_name)" != nodeapp ] || [ "$(label "$labels" region)" != test ] ||
        [ "$(label "$labels" pyroscope_spy)" != nodespy ] || [ "$(kv "$line" tenant)" != node-team ] ||
        { [ "$name" != wall ] && [ "$name" != memory ]; }; then
        bad_labels=$((bad_labels + 1)); echo "unexpected labels: $line"
    fi
    if [ "$name" = wall ] && [ "$(kv "$line" samples)" -gt 0 ] &&
        [ "$(kv "$line" total.samples/count)" -gt 0 ] && [ "$(kv "$line" total.wall/nanoseconds)" -gt 0 ]; then
        wall_nonzero=$((wall_nonzero + 1))
    fi
done
sort -o "$WORK/got.txt" "$WORK/got.txt"
check_eq "every debug line has the contract's shape" "$shape_bad" 0
if cmp -s "$WORK/want.txt" "$WORK/got.txt"; then
    ok "samples, every total and bytes of each debug line equal pprofcheck on the uploaded bytes"
else
    fail "debug lines differ from the reference:"; diff "$WORK/want.txt" "$WORK/got.txt"
fi
check_eq "labels: service_name=nodeapp region=test pyroscope_spy=nodespy, __name__ wall|memory, tenant node-team" \
    "$bad_labels" 0
check_true "at least one wall profile with non-zero samples and totals ($wall_nonzero)" test "$wall_nonzero" -ge 1
check_true "at least one memory (heap) profile" grep -q 'inuse_space/bytes' "$WORK/got.txt"

RX='{receiver="pprof"}'
bytes=0
for f in "${UP[@]}"; do bytes=$((bytes + $(file_size "$f"))); done
check_eq "/metrics: received_profiles_total = uploads" "$(metric "kiln_receiver_received_profiles_total$RX")" "$n_up"
check_eq "/metrics: accepted_profiles_total = uploads" "$(metric "kiln_receiver_accepted_profiles_total$RX")" "$n_up"
check_eq "/metrics: received_bytes_total = bytes uploaded" "$(metric "kiln_receiver_received_bytes_total$RX")" "$bytes"
check_eq "/metrics: sent_profiles_total = uploads" "$(metric 'kiln_exporter_sent_profiles_total{exporter="debug"}')" "$n_up"

kiln_stop
check_eq "SIGTERM: kiln exits 0" "$?" 0
summary
