#!/usr/bin/env bash
# test_go_client.sh — a Go program built with Debian's golang-go profiles itself
# with runtime/pprof (CPU and heap) and pushes both profiles to kiln the way
# pyroscope-go does (multipart `profile` part, name=goapp{env=test},
# from/until in Unix ns, spyName=gospy, sample_type_config for heap).
#
# Proves: profiles written by the Go runtime itself are accepted (200); kiln's
# debug lines carry the labels Pyroscope would give them (service_name, env,
# pyroscope_spy, __name__ process_cpu / memory), the tenant from X-Scope-OrgID,
# and exactly the sample counts and per-type totals that google/pprof's parser
# (pprofcheck) computes on the very bytes the program uploaded; /metrics counts
# the two profiles and their bytes.
#
# Run alone: bash tests/integration/test_go_client.sh  (env KILN_BUILD=<build dir>)
source "$(dirname "$0")/lib.sh"
lib_init go_client

build_pprofcheck || die "cannot build pprofcheck"

# Build the client: standard library only, module mode with a go.mod that has
# no requirements, so nothing is fetched (GOPROXY=off).
GOCLIENT=$KILN_BUILD/integration/bin/goclient
mkdir -p "$KILN_BUILD/integration/gopath"
(cd "$LIB_DIR/goclient" &&
    kiln_go GO111MODULE=on GOPATH="$KILN_BUILD/integration/gopath" GOFLAGS=-mod=readonly \
        timeout 300 go build -o "$GOCLIENT.tmp.$$" . && mv -f "$GOCLIENT.tmp.$$" "$GOCLIENT") ||
    die "cannot build tests/integration/goclient"
ok "goclient builds offline with $(go version | awk '{print $3}')"

kiln_start_debug || die "kiln did not start"

mkdir -p "$WORK/out"
timeout 60 "$GOCLIENT" -server "http://127.0.0.1:$KILN_PORT" -out "$WORK/out" -duration 2s \
    -name 'goapp{env=test}' -tenant go-team >"$WORK/goclient.out" 2>"$WORK/goclient.err"
rc=$?
cat "$WORK/goclient.out"
check_eq "goclient ran and every upload was answered 200" "$rc" 0
[ "$rc" = 0 ] || { cat "$WORK/goclient.err"; }
check_eq "two uploads (cpu, heap)" "$(grep -c 'status=200' "$WORK/goclient.out")" 2

CPU=$WORK/out/cpu.pb.gz
HEAP=$WORK/out/heap.pb.gz
if [ ! -s "$CPU" ] || [ ! -s "$HEAP" ]; then die "goclient did not write its profiles"; fi
ref_cpu=$("$PPROFCHECK" "$CPU" | cut -f2)
ref_heap=$("$PPROFCHECK" "$HEAP" | cut -f2)
echo "reference cpu:  $ref_cpu"
echo "reference heap: $ref_heap"
check_match "reference: the CPU profile is samples/count,cpu/nanoseconds with samples" "$ref_cpu" \
    '^types=samples/count,cpu/nanoseconds samples=[1-9][0-9]* total.samples/count=[1-9][0-9]* total.cpu/nanoseconds=[1-9][0-9]*$'
check_match "reference: the heap profile has the 4 Go heap types and in-use bytes" "$ref_heap" \
    '^types=alloc_objects/count,alloc_space/bytes,inuse_objects/count,inuse_space/bytes samples=[1-9][0-9]* .* total.inuse_space/bytes=[1-9][0-9]*$'

wait_metric 'kiln_exporter_sent_profiles_total{exporter="debug"}' 2 20
mapfile -t LINES < <(debug_lines)
check_eq "two debug lines" "${#LINES[@]}" 2
cpu_line="" heap_line=""
for line in "${LINES[@]}"; do
    case "$(label "$(kv "$line" labels)" __name__)" in
        process_cpu) cpu_line=$line ;;
        memory) heap_line=$line ;;
    esac
done
check_true "a debug line with __name__=process_cpu" test -n "$cpu_line"
check_true "a debug line with __name__=memory" test -n "$heap_line"
for kind in cpu heap; do
    if [ $kind = cpu ]; then line=$cpu_line ref=$ref_cpu f=$CPU; else line=$heap_line ref=$ref_heap f=$HEAP; fi
    labels=$(kv "$line" labels)
    check_match "$kind: the debug line has the contract's shape" "$line" "$DEBUG_LINE_RE"
    check_eq "$kind: samples and totals equal pprofcheck's on the uploaded bytes" "$(debug_summary "$line")" "$ref"
    check_eq "$kind: bytes= is the uploaded size" "$(kv "$line" bytes)" "$(file_size "$f")"
    check_eq "$kind: service_name" "$(label "$labels" service_name)" goapp
    check_eq "$kind: tag env from name=goapp{env=test}" "$(label "$labels" env)" test
    check_eq "$kind: pyroscope_spy" "$(label "$labels" pyroscope_spy)" gospy
    check_eq "$kind: tenant from X-Scope-OrgID" "$(kv "$line" tenant)" go-team
done

RX='{receiver="pprof"}'
total_bytes=$(($(file_size "$CPU") + $(file_size "$HEAP")))
check_eq "/metrics: received_profiles_total 2" "$(metric "kiln_receiver_received_profiles_total$RX")" 2
check_eq "/metrics: accepted_profiles_total 2" "$(metric "kiln_receiver_accepted_profiles_total$RX")" 2
check_eq "/metrics: received_bytes_total = both uploads" "$(metric "kiln_receiver_received_bytes_total$RX")" "$total_bytes"
check_eq "/metrics: sent_profiles_total 2" "$(metric 'kiln_exporter_sent_profiles_total{exporter="debug"}')" 2
check_eq "/metrics: failed_profiles_total 0" "$(metric 'kiln_exporter_failed_profiles_total{exporter="debug"}')" 0

kiln_stop
check_eq "SIGTERM: kiln exits 0" "$?" 0
summary
