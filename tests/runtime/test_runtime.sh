#!/usr/bin/env bash
# Runtime semantics through a real kiln process: 200 only after the exporter
# took the data, 429 with Retry-After when an exporter queue is full,
# retries, fatal export errors reach the sender, SIGTERM drains in-flight
# profiles, SIGHUP reloads (and refuses a bad config), loader errors.
source "$(dirname "$0")/lib.sh"
CORPUS=${KILN_CORPUS:-$(dirname "$0")/../../../shared/corpus}
PROF=$CORPUS/pprof__sample.cpu.pb.gz
PORT=$(free_port); MPORT=$(free_port)

write_cfg() { # write_cfg FILE SINK_SETTINGS...
  local f=$1; shift
  cat >"$f" <<YAML
receivers:
  pprof:
    endpoint: 127.0.0.1:$PORT
exporters:
  testsink:
    record: $WORK/record.txt
$(for s in "$@"; do echo "    $s"; done)
service:
  shutdown_timeout: 10s
  telemetry:
    metrics: {address: 127.0.0.1:$MPORT}
  pipelines:
    profiles:
      receivers: [pprof]
      exporters: [testsink]
YAML
}

post() { # post TAG -> prints "code seconds" and saves headers in $WORK/h.TAG
  curl -s -o "$WORK/b.$1" -D "$WORK/h.$1" -w '%{http_code} %{time_total}\n' --max-time 20 \
    --data-binary @"$PROF" "http://127.0.0.1:$PORT/ingest?name=rt$1&format=pprof"
}

# 1. delivery waits for the exporter; a full queue answers 429 + Retry-After
write_cfg "$WORK/a.yaml" "delay: 1s" "sending_queue: {queue_size: 1, num_consumers: 1}"
start_kiln "$WORK/a.yaml" || exit 1
pids=
for i in 1 2 3 4; do post $i >"$WORK/r.$i" & pids="$pids $!"; sleep 0.1; done
wait $pids
codes=$(cat "$WORK"/r.* | awk '{print $1}' | sort | tr '\n' ' ')
n200=$(cat "$WORK"/r.* | awk '$1==200' | wc -l)
n429=$(cat "$WORK"/r.* | awk '$1==429' | wc -l)
check "some requests accepted ($codes)" [ "$n200" -ge 1 ]
check "a full exporter queue answers 429 ($codes)" [ "$n429" -ge 1 ]
slow=$(cat "$WORK"/r.* | awk '$1==200 && $2 >= 0.9' | wc -l)
check "every 200 came after the 1s exporter delay" [ "$slow" -eq "$n200" ]
r429=$(grep -l '^HTTP/1.1 429' "$WORK"/h.* | head -1)
check "429 carries Retry-After" grep -qi '^Retry-After: [0-9]' "${r429:-/dev/null}"
check "the sink recorded exactly the accepted profiles" [ "$(wc -l <"$WORK/record.txt")" -eq "$n200" ]
check "accepted counter = 200s" [ "$(metric 'kiln_receiver_accepted_profiles_total{receiver="pprof"}')" -eq "$n200" ]
check "refused counter = 429s" [ "$(metric 'kiln_receiver_refused_profiles_total{receiver="pprof"}')" -eq "$n429" ]
check "exporter sent counter = 200s" [ "$(metric 'kiln_exporter_sent_profiles_total{exporter="testsink"}')" -eq "$n200" ]
check "queue capacity exposed" [ "$(metric 'kiln_exporter_queue_capacity{exporter="testsink"}')" -eq 1 ]

# 2. SIGTERM drains: a request in flight still gets its 200, exit code 0
post drain >"$WORK/r.drain" &
cpid=$!
sleep 0.3
kill -TERM "$KILN_PID"
wait "$cpid"
wait "$KILN_PID"; rc=$?
KILN_PID=
check "in-flight request answered 200 during shutdown ($(cat "$WORK/r.drain"))" [ "$(awk '{print $1}' "$WORK/r.drain")" = 200 ]
check "exit code 0 after SIGTERM (got $rc)" [ "$rc" -eq 0 ]
check "drained profile recorded" grep -q 'service_name="rtdrain"' "$WORK/record.txt"

# 3. retriable failures are retried; fatal ones reach the sender
rm -f "$WORK/record.txt"
write_cfg "$WORK/b.yaml" "fail: retriable" "fail_count: 2" "retry_on_failure: {initial_interval: 50ms}"
start_kiln "$WORK/b.yaml" || exit 1
check "retried export succeeds" [ "$(post retry | awk '{print $1}')" = 200 ]
check "two retries counted" [ "$(metric 'kiln_exporter_retries_total{exporter="testsink"}')" -eq 2 ]
stop_kiln
write_cfg "$WORK/c.yaml" "fail: fatal" "fail_count: 1"
start_kiln "$WORK/c.yaml" || exit 1
code=$(post fatal | awk '{print $1}')
check "fatal export error answered as an error, not 200 (got $code)" [ "$code" -ge 400 ]
check "the error names the exporter" grep -q 'testsink' "$WORK/b.fatal"
check "failed counter" [ "$(metric 'kiln_exporter_failed_profiles_total{exporter="testsink"}')" -eq 1 ]
check "next request succeeds" [ "$(post after | awk '{print $1}')" = 200 ]

# 4. SIGHUP: a bad config is refused and the old one keeps serving; a good one is applied
cp "$WORK/c.yaml" "$WORK/c.good"
echo "bogus_top_level: 1" >>"$WORK/c.yaml"
kill -HUP "$KILN_PID"; sleep 0.5
check "bad reload refused and logged" grep -q 'reload refused' "$WORK/kiln.log"
check "bad reload names file:line" grep -q "c.yaml:[0-9]*:[0-9]*" "$WORK/kiln.log"
check "still serving after a bad reload" [ "$(post hup1 | awk '{print $1}')" = 200 ]
write_cfg "$WORK/c.yaml" "delay: 0s"
kill -HUP "$KILN_PID"
for i in $(seq 1 60); do grep -q 'reloaded config' "$WORK/kiln.log" && break; sleep 0.05; done
check "good reload applied" grep -q 'reloaded config' "$WORK/kiln.log"
for i in $(seq 1 60); do curl -fs "http://127.0.0.1:$MPORT/ready" >/dev/null && break; sleep 0.05; done
check "serving after reload" [ "$(post hup2 | awk '{print $1}')" = 200 ]
stop_kiln

# 5. validate and loader errors
check "validate accepts a good config" "$KILN" validate --config "$WORK/c.good" --plugin-dir "$PLUGINS"
printf 'receivers:\n  pprof: {}\nexporters:\n  badabi: {}\nservice:\n  pipelines:\n    profiles: {receivers: [pprof], exporters: [badabi]}\n' >"$WORK/d.yaml"
out=$("$KILN" validate --config "$WORK/d.yaml" --plugin-dir "$PLUGINS" 2>&1); rc=$?
check "ABI mismatch refused, naming the file ($out)" [ $rc -ne 0 ]
check "ABI mismatch refused, naming the file: message" has "$out" 'exporter_badabi.so: ABI'
sed -i 's/badabi/nosym/g' "$WORK/d.yaml"
out=$("$KILN" validate --config "$WORK/d.yaml" --plugin-dir "$PLUGINS" 2>&1); rc=$?
check "missing symbol refused ($out)" [ $rc -ne 0 ]
check "missing symbol refused: message" has "$out" "exporter_nosym.so: no symbol 'kiln_plugin_descriptor'"
sed -i 's/nosym/nope/g' "$WORK/d.yaml"
out=$("$KILN" validate --config "$WORK/d.yaml" --plugin-dir "$PLUGINS" 2>&1); rc=$?
check "unknown type refused with position ($out)" [ $rc -ne 0 ]
check "unknown type refused with position: message" has "$out" 'd.yaml:4:[0-9]*.*unknown exporter type "nope"'
printf 'receivers:\n  pprof: {endpoint: 1}\nexporters:\n  debug: {verbosity: loud}\nservice:\n  pipelines:\n    profiles: {receivers: [pprof], exporters: [debug]}\n' >"$WORK/e.yaml"
out=$("$KILN" validate --config "$WORK/e.yaml" 2>&1); rc=$?
check "bad enum refused with file:line:col and path ($out)" [ $rc -ne 0 ]
check "bad enum refused with file:line:col and path: message" has "$out" 'e.yaml:4:.*exporters.debug.verbosity'
out=$("$KILN" components 2>&1)
check "components lists pprof with its fields" has "$out" 'receiver pprof'
check "components lists debug's verbosity" has "$out" 'verbosity'
check "components lists the core exporter settings" has "$out" 'sending_queue.queue_size'
check "--version" "$KILN" --version
finish
