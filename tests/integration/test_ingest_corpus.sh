#!/usr/bin/env bash
# test_ingest_corpus.sh — kiln as a process, fed the real profiles of the shared
# corpus over /ingest; what the debug exporter logs and /metrics count is
# compared with an independent reference (pprofcheck: google/pprof's parser).
#
# Proves: every pprof file of the corpus is accepted raw (format=pprof) and as
# multipart; the debug line of each has exactly the sample count and per-type
# totals pprofcheck computes, the payload size, the labels from name/spyName and
# the tenant from X-Scope-OrgID; /metrics counts exactly what was posted; broken
# and non-pprof bodies get 422, bad parameters 400, oversized bodies 413, each
# counted nowhere as accepted, and kiln keeps serving; SIGTERM exits 0.
#
# Run alone: bash tests/integration/test_ingest_corpus.sh
#   (env KILN_BUILD=<build dir> KILN_CORPUS=<corpus> when not build/ and ../shared/corpus)
source "$(dirname "$0")/lib.sh"
lib_init ingest_corpus

build_pprofcheck || die "cannot build pprofcheck"

# --- the corpus: every file whose manifest check says it decodes as pprof ----
mapfile -t FILES < <(awk -F'\t' 'NR > 1 && $10 ~ /pprof-decode:ok/ { print $1 }' "$KILN_CORPUS/MANIFEST.tsv")
mapfile -t LEGACY < <(awk -F'\t' 'NR > 1 && $1 ~ /^pprof__legacy_/ { print $1 }' "$KILN_CORPUS/MANIFEST.tsv")
[ "${#FILES[@]}" -ge 20 ] || die "expected at least 20 pprof files in the manifest, found ${#FILES[@]}"
echo "corpus: ${#FILES[@]} pprof files, ${#LEGACY[@]} legacy (non-protobuf) files"

# --- the reference --------------------------------------------------------------
declare -A REF
paths=()
for f in "${FILES[@]}"; do paths+=("$KILN_CORPUS/$f"); done
"$PPROFCHECK" "${paths[@]}" >"$WORK/reference.tsv" || die "pprofcheck failed: $(grep error= "$WORK/reference.tsv")"
while IFS=$'\t' read -r path summ; do REF[$(basename "$path")]=$summ; done <"$WORK/reference.tsv"
# The reference itself agrees with the manifest's sample counts (S=...).
ref_bad=0
for f in "${FILES[@]}"; do
    s=$(awk -F'\t' -v f="$f" '$1 == f { if (match($10, /S=[0-9]+/)) print substr($10, RSTART + 2, RLENGTH - 2) }' \
        "$KILN_CORPUS/MANIFEST.tsv")
    [[ ${REF[$f]} == *" samples=$s "* ]] || { ref_bad=1; echo "reference/manifest mismatch: $f S=$s ${REF[$f]}"; }
done
check_eq "pprofcheck's sample counts equal the manifest's for ${#FILES[@]} files" "$ref_bad" 0

# --- kiln -----------------------------------------------------------------------
pick_ports KILN_PORT KILN_SMALL_PORT KILN_METRICS_PORT
QUEUE=64
cat >"$WORK/kiln.yaml" <<EOF
receivers:
  pprof:
    endpoint: 127.0.0.1:\${env:KILN_PORT}
  pprof/small:
    endpoint: 127.0.0.1:\${env:KILN_SMALL_PORT}
    max_request_body_size: 4KiB
exporters:
  debug:
    verbosity: normal
    sending_queue:
      queue_size: $QUEUE
service:
  telemetry:
    logs:
      level: info
    metrics:
      address: 127.0.0.1:\${env:KILN_METRICS_PORT}
  pipelines:
    profiles:
      receivers: [pprof, pprof/small]
      exporters: [debug]
EOF
"$KILN_BIN" validate --config "$WORK/kiln.yaml" >"$WORK/validate.out" 2>&1
check_eq "kiln validate accepts the test config" "$?" 0
comp=$("$KILN_BIN" components 2>&1)
check_match "kiln components lists the pprof receiver" "$comp" 'receiver pprof'
check_match "kiln components lists the debug exporter" "$comp" 'exporter debug'
sed 's/exporters: \[debug\]/exporters: [nosuch]/' "$WORK/kiln.yaml" >"$WORK/bad.yaml"
"$KILN_BIN" validate --config "$WORK/bad.yaml" >"$WORK/validate-bad.out" 2>&1
check_eq "kiln validate rejects a pipeline naming an undefined exporter" "$?" 1
check_true "... and names it" grep -q nosuch "$WORK/validate-bad.out"
kiln_start "$WORK/kiln.yaml" || die "kiln did not start"

http "http://127.0.0.1:$KILN_METRICS_PORT/healthz"
check_eq "/healthz answers 200" "$HTTP_CODE" 200
http "http://127.0.0.1:$KILN_METRICS_PORT/ready"
check_eq "/ready answers 200" "$HTTP_CODE" 200

RX='{receiver="pprof"}'
EX='{exporter="debug"}'

# --- 1. every corpus file, raw body with format=pprof ---------------------------
# A profile whose sample types all have empty names (parca__normalizer_profile)
# decodes, but gives no profile type to name the series by (__name__): kiln
# refuses it with 422 and says why.
is_typeless() { [[ ${REF[$1]} =~ ^types=/(,/)*\  ]]; }
n_raw=0
n_typeless=0
bytes_sent=0
now=$(date +%s)
codes_ok=1
for i in "${!FILES[@]}"; do
    f=${FILES[$i]}
    ingest_raw "$KILN_CORPUS/$f" "name=corpus{seq=$i,src=raw}&format=pprof&spyName=gospy&from=$((now - 10))&until=$now"
    if is_typeless "$f"; then
        n_typeless=$((n_typeless + 1))
        if [ "$HTTP_CODE" = 422 ] && is_json_error "$HTTP_BODY"; then ok "$f (sample types without names) -> 422 {code,message}"
        else fail "$f (sample types without names): HTTP $HTTP_CODE $HTTP_BODY (want 422 with a JSON message)"; fi
        continue
    fi
    if [ "$HTTP_CODE" != 200 ]; then codes_ok=0; fail "raw $f: HTTP $HTTP_CODE $HTTP_BODY"; fi
    n_raw=$((n_raw + 1))
    bytes_sent=$((bytes_sent + $(file_size "$KILN_CORPUS/$f")))
done
check_eq "all $n_raw typed corpus files posted raw got 200 ($n_typeless without sample type names refused)" "$codes_ok" 1

# --- 2. some as multipart (pyroscope-go's shape: no format), with a tenant -----
MULTI=(pprof__sample.cpu.pb.gz parca__alloc_objects.pb.gz parca__fgprof.pb.gz parca__profile-with-labels.pb.gz
       pprof__cppbench.cpu_no_samples_type.pb.gz)
n_multi=0
codes_ok=1
for i in "${!MULTI[@]}"; do
    f=${MULTI[$i]}
    ingest_multipart "$KILN_CORPUS/$f" "name=corpus{seq=$i,src=multipart}&spyName=gospy&from=$((now * 1000000000))&until=$((now * 1000000000))" \
        -H 'X-Scope-OrgID: team-a'
    if [ "$HTTP_CODE" != 200 ]; then codes_ok=0; fail "multipart $f: HTTP $HTTP_CODE $HTTP_BODY"; fi
    n_multi=$((n_multi + 1))
    bytes_sent=$((bytes_sent + $(file_size "$KILN_CORPUS/$f")))
done
check_eq "${#MULTI[@]} corpus files posted as multipart got 200" "$codes_ok" 1

# a raw post with another tenant
ingest_raw "$KILN_CORPUS/parca__two-stacks.pb.gz" "name=tenanted&format=pprof" -H 'X-Scope-OrgID: tenant-b'
check_eq "raw post with X-Scope-OrgID tenant-b got 200" "$HTTP_CODE" 200
bytes_sent=$((bytes_sent + $(file_size "$KILN_CORPUS/parca__two-stacks.pb.gz")))

N=$((n_raw + n_multi + 1))
wait_metric "kiln_exporter_sent_profiles_total$EX" "$N" 30
check_eq "kiln_exporter_sent_profiles_total = profiles posted" "$(metric "kiln_exporter_sent_profiles_total$EX")" "$N"
check_eq "kiln_receiver_received_profiles_total = profiles posted" "$(metric "kiln_receiver_received_profiles_total$RX")" "$N"
check_eq "kiln_receiver_accepted_profiles_total = profiles posted" "$(metric "kiln_receiver_accepted_profiles_total$RX")" "$N"
check_eq "kiln_receiver_refused_profiles_total = 0" "$(metric "kiln_receiver_refused_profiles_total$RX")" 0
check_eq "kiln_receiver_received_bytes_total = bytes of the profiles posted" \
    "$(metric "kiln_receiver_received_bytes_total$RX")" "$bytes_sent"
check_eq "kiln_receiver_accepted_bytes_total = bytes of the profiles posted" \
    "$(metric "kiln_receiver_accepted_bytes_total$RX")" "$bytes_sent"
check_eq "kiln_exporter_failed_profiles_total = 0" "$(metric "kiln_exporter_failed_profiles_total$EX")" 0
check_eq "kiln_exporter_queue_size = 0 once all were sent" "$(metric "kiln_exporter_queue_size$EX")" 0
check_eq "kiln_exporter_queue_capacity = sending_queue.queue_size" "$(metric "kiln_exporter_queue_capacity$EX")" "$QUEUE"
dec=$(metric kiln_payload_decodes_total)
check_true "kiln_payload_decodes_total ($dec) >= $N (the debug exporter decodes each)" test "${dec:-0}" -ge "$N"
rss=$(metric kiln_process_resident_memory_bytes)
check_true "kiln_process_resident_memory_bytes ($rss) > 1 MiB" test "${rss:-0}" -gt 1048576
cpu=$(metric kiln_process_cpu_seconds_total)
check_match "kiln_process_cpu_seconds_total ($cpu) is a positive number" "$cpu" '^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$'

# --- the debug lines against the reference --------------------------------------
mapfile -t LINES < <(debug_lines)
check_eq "one debug line per profile" "${#LINES[@]}" "$N"
shape_bad=0
declare -A RAW_LINE MULTI_LINE
for line in "${LINES[@]}"; do
    [[ $line =~ $DEBUG_LINE_RE ]] || { shape_bad=$((shape_bad + 1)); echo "bad shape: $line"; }
    labels=$(kv "$line" labels)
    svc=$(label "$labels" service_name)
    seq=$(label "$labels" seq)
    src=$(label "$labels" src)
    if [ "$svc" = corpus ] && [ "$src" = raw ]; then
        [ -z "${RAW_LINE[$seq]:-}" ] || fail "two debug lines for raw seq=$seq"
        RAW_LINE[$seq]=$line
    elif [ "$svc" = corpus ] && [ "$src" = multipart ]; then
        [ -z "${MULTI_LINE[$seq]:-}" ] || fail "two debug lines for multipart seq=$seq"
        MULTI_LINE[$seq]=$line
    elif [ "$svc" = tenanted ]; then
        TENANT_LINE=$line
    fi
done
check_eq "every debug line has the contract's shape" "$shape_bad" 0

declare -A WANT_NAME=([pprof__sample.cpu.pb.gz]=process_cpu [pprof__large.cpu.pb.gz]=process_cpu
    [parca__fib.pb.gz]=process_cpu [parca__alloc_objects.pb.gz]=memory [parca__alloc_space_delta.pb.gz]=memory
    [parca__many_1644509272337470000.pb.gz]=memory)
bad_summary=0 bad_bytes=0 bad_labels=0 missing=0
for i in "${!FILES[@]}"; do
    f=${FILES[$i]}
    line=${RAW_LINE[$i]:-}
    if is_typeless "$f"; then
        [ -z "$line" ] || { missing=$((missing + 1)); echo "a debug line for refused $f: $line"; }
        continue
    fi
    if [ -z "$line" ]; then missing=$((missing + 1)); echo "no debug line for raw $f"; continue; fi
    got=$(debug_summary "$line")
    if [ "$got" != "${REF[$f]}" ]; then
        bad_summary=$((bad_summary + 1))
        printf '%s\n  kiln:      %s\n  reference: %s\n' "$f" "$got" "${REF[$f]}"
    fi
    [ "$(kv "$line" bytes)" = "$(file_size "$KILN_CORPUS/$f")" ] ||
        { bad_bytes=$((bad_bytes + 1)); echo "$f: bytes=$(kv "$line" bytes), file has $(file_size "$KILN_CORPUS/$f")"; }
    labels=$(kv "$line" labels)
    if [ "$(kv "$line" tenant)" != anonymous ] || [ "$(label "$labels" pyroscope_spy)" != gospy ] ||
        { [ -n "${WANT_NAME[$f]:-}" ] && [ "$(label "$labels" __name__)" != "${WANT_NAME[$f]}" ]; }; then
        bad_labels=$((bad_labels + 1)); echo "$f: unexpected tenant/labels: $line"
    fi
done
check_eq "a debug line for every accepted raw post, none for a refused one" "$missing" 0
check_eq "raw posts: samples and every total equal pprofcheck's, exactly ($n_raw files)" "$bad_summary" 0
check_eq "raw posts: bytes= equals the file size" "$bad_bytes" 0
check_eq "raw posts: tenant anonymous, pyroscope_spy=gospy, __name__ as Pyroscope names it" "$bad_labels" 0

bad=0
for i in "${!MULTI[@]}"; do
    f=${MULTI[$i]}
    line=${MULTI_LINE[$i]:-}
    if [ -z "$line" ]; then bad=$((bad + 1)); echo "no debug line for multipart $f"; continue; fi
    got=$(debug_summary "$line")
    [ "$got" = "${REF[$f]}" ] || { bad=$((bad + 1)); printf '%s\n  kiln:      %s\n  reference: %s\n' "$f" "$got" "${REF[$f]}"; }
    [ "$(kv "$line" bytes)" = "$(file_size "$KILN_CORPUS/$f")" ] || { bad=$((bad + 1)); echo "$f: bytes=$(kv "$line" bytes)"; }
    [ "$(kv "$line" tenant)" = team-a ] || { bad=$((bad + 1)); echo "$f: tenant=$(kv "$line" tenant)"; }
done
check_eq "multipart posts: samples, totals, bytes equal the reference; tenant=team-a from X-Scope-OrgID" "$bad" 0

line=${TENANT_LINE:-}
check_eq "X-Scope-OrgID tenant-b shows as tenant=tenant-b" "$(kv "$line" tenant)" tenant-b
check_eq "tenant-b's profile: totals equal the reference" "$(debug_summary "$line")" "${REF[parca__two-stacks.pb.gz]}"
labels=$(kv "$line" labels)
check_eq "name=tenanted -> service_name" "$(label "$labels" service_name)" tenanted
check_eq "no spyName -> pyroscope_spy=unknown (Pyroscope's default)" "$(label "$labels" pyroscope_spy)" unknown
line=${RAW_LINE[0]:-}
labels=$(kv "$line" labels)
check_eq "name=corpus{seq=0,src=raw} -> tags seq and src" "$(label "$labels" seq),$(label "$labels" src)" "0,raw"

# --- 3. broken bodies: 422 with a message; nothing accepted; still serving -----
head -c 900 "$KILN_CORPUS/pprof__sample.cpu.pb.gz" >"$WORK/truncated.gz"
head -c 4096 "$KILN_BIN" >"$WORK/garbage.bin"
gzip -c "$WORK/garbage.bin" >"$WORK/garbage.bin.gz"
BROKEN=("$KILN_CORPUS/pprof__fuzz_heapz_7e3c9248.txt" "$KILN_CORPUS/jfrparser__dump2.jfr.gz" "$KILN_CORPUS/speedscope__heavy.jfr"
        "$KILN_CORPUS/speedscope__stackcollapse_simple.txt" "$WORK/truncated.gz" "$WORK/garbage.bin" "$WORK/garbage.bin.gz")
for l in "${LEGACY[@]}"; do BROKEN+=("$KILN_CORPUS/$l"); done
for f in "${BROKEN[@]}"; do
    ingest_raw "$f" "name=broken&format=pprof"
    if [ "$HTTP_CODE" = 422 ] && is_json_error "$HTTP_BODY"; then
        ok "$(basename "$f") with format=pprof -> 422 {code,message}"
    else
        fail "$(basename "$f") with format=pprof: HTTP $HTTP_CODE $HTTP_BODY (want 422 with a JSON message)"
    fi
done
ingest_multipart "$KILN_CORPUS/pprof__fuzz_heapz_7e3c9248.txt" "name=broken"
check_eq "fuzz file as multipart -> 422" "$HTTP_CODE" 422
check_true "... with a JSON message" is_json_error "$HTTP_BODY"
echo "  e.g. $HTTP_BODY"
check_true "kiln is still running after ${#BROKEN[@]} broken bodies" kiln_alive

# --- 4. bad parameters: 400 with a message ----------------------------------------
bad_params() {  # DESC QUERY [CURL-ARGS...]
    local d=$1 q=$2; shift 2
    ingest_raw "$KILN_CORPUS/parca__two-stacks.pb.gz" "$q" "$@"
    if [ "$HTTP_CODE" = 400 ] && is_json_error "$HTTP_BODY"; then ok "$d -> 400 {code,message}"
    else fail "$d: HTTP $HTTP_CODE $HTTP_BODY (want 400 with a JSON message)"; fi
}
bad_params "empty name" "name=&format=pprof"
bad_params "no name parameter" "format=pprof"
bad_params "space in the app name" "name=my%20app&format=pprof"
bad_params "tenant '..'" "name=app&format=pprof" -H 'X-Scope-OrgID: ..'
bad_params "tenant '.'" "name=app&format=pprof" -H 'X-Scope-OrgID: .'

# --- 5. the size limit: 413 on the small receiver, small bodies still pass -------
SRX='{receiver="pprof/small"}'
KILN_PORT_MAIN=$KILN_PORT
KILN_PORT=$KILN_SMALL_PORT
ingest_raw "$KILN_CORPUS/parca__fib.pb.gz" "name=toolarge&format=pprof"
check_eq "6355-byte body over max_request_body_size 4KiB -> 413" "$HTTP_CODE" 413
is_json_error "$HTTP_BODY" || note "413 body is not {\"code\",\"message\"} JSON: $(echo "$HTTP_BODY" | tr -d '\n' | head -c 120)"
ingest_multipart "$KILN_CORPUS/parca__alloc_objects.pb.gz" "name=toolarge"
check_eq "94 KB multipart body over 4KiB -> 413" "$HTTP_CODE" 413
ingest_raw "$KILN_CORPUS/pprof__sample.cpu.pb.gz" "name=small&format=pprof"
check_eq "1836-byte body under 4KiB on the same receiver -> 200" "$HTTP_CODE" 200
KILN_PORT=$KILN_PORT_MAIN
wait_metric "kiln_receiver_accepted_profiles_total$SRX" 1 10
check_eq "small receiver: accepted 1" "$(metric "kiln_receiver_accepted_profiles_total$SRX")" 1
check_eq "small receiver: received_bytes = the one accepted body" "$(metric "kiln_receiver_received_bytes_total$SRX")" 1836
c413=$(metric 'kiln_receiver_requests_total{receiver="pprof/small",code="413"}')
[ "$c413" = 2 ] || note "kiln_receiver_requests_total{receiver=\"pprof/small\",code=\"413\"} is '$c413' after two 413 answers"

# --- 6. still serving: one more good profile goes through -----------------------
ingest_raw "$KILN_CORPUS/pprof__sample.cpu.pb.gz" "name=after&format=pprof&spyName=gospy"
check_eq "a good profile after all the bad requests -> 200" "$HTTP_CODE" 200
N2=$((N + 2))
wait_metric "kiln_exporter_sent_profiles_total$EX" "$N2" 10
check_eq "sent_profiles_total counts only the good ones ($N + small + after)" \
    "$(metric "kiln_exporter_sent_profiles_total$EX")" "$N2"
check_eq "main receiver accepted_profiles_total = $N + 1 (no broken or bad request counted)" \
    "$(metric "kiln_receiver_accepted_profiles_total$RX")" "$((N + 1))"
line=$(debug_lines | grep -a 'service_name=\\"after\\"' | tail -1)
check_eq "the last profile's debug line equals the reference" "$(debug_summary "$line")" "${REF[pprof__sample.cpu.pb.gz]}"
check_eq "debug lines in all: $N2" "$(debug_lines | wc -l)" "$N2"

# --- 7. SIGTERM ----------------------------------------------------------------------
kiln_stop
check_eq "SIGTERM: kiln exits 0" "$?" 0
if grep -aq -E ' (error|fatal) ' "$KILN_LOG"; then
    note "kiln logged errors:"; grep -a -E ' (error|fatal) ' "$KILN_LOG" | head -5
fi

summary
