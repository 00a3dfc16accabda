# tests/integration/lib.sh — shared helpers for the integration tests
# (tests/integration/test_*.sh). Source it; it owns nothing outside $WORK
# ($KILN_BUILD/integration/<test name>/, emptied at start) and the kiln process
# it starts (killed on exit by the EXIT trap it installs).
#
# Environment (ctest sets all three; when a test is run by hand they default to
# the source tree the script is in, <src>/build, and <src>/../shared/corpus):
#   KILN_SRC     source tree        KILN_BUILD   build tree (bin/kiln)
#   KILN_CORPUS  the shared corpus of real profiles
#
# Results: check_eq / check_true / ok / fail count; summary prints
# "N passed, N failed" and is the script's last command (exit 1 on failure).
# Every wait is bounded; every curl has --max-time.

# shellcheck disable=SC2034  # variables set here are read by the test scripts
set -u
set -o pipefail

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${KILN_SRC:=$(cd "$LIB_DIR/../.." && pwd)}"
: "${KILN_BUILD:=$KILN_SRC/build}"
: "${KILN_CORPUS:=$KILN_SRC/../shared/corpus}"
export KILN_SRC KILN_BUILD KILN_CORPUS
KILN_BIN=$KILN_BUILD/bin/kiln

T_PASS=0
T_FAIL=0
KILN_PID=""
EXTRA_PIDS=()

ok()   { T_PASS=$((T_PASS + 1)); echo "ok   - $*"; }
fail() { T_FAIL=$((T_FAIL + 1)); echo "FAIL - $*"; }
note() { echo "note - $*"; }

# check_eq DESC GOT WANT
check_eq() {
    if [ "$2" == "$3" ]; then ok "$1"; else fail "$1: got '$2', want '$3'"; fi
}
# check_true DESC COMMAND...   (passes when the command succeeds)
check_true() {
    local d=$1; shift
    if "$@"; then ok "$d"; else fail "$d"; fi
}
# check_match DESC STRING ERE
check_match() {
    if [[ $2 =~ $3 ]]; then ok "$1"; else fail "$1: '$2' does not match /$3/"; fi
}

summary() {
    echo "$T_PASS passed, $T_FAIL failed"
    if [ "$T_FAIL" -ne 0 ] || [ "$T_PASS" -eq 0 ]; then exit 1; fi
    exit 0
}

# die MSG: a failure that makes the rest of the test meaningless.
die() {
    fail "$*"
    summary
}

lib_cleanup() {
    local p
    for p in "${EXTRA_PIDS[@]}"; do
        kill -KILL "$p" 2>/dev/null
    done
    if [ -n "$KILN_PID" ] && kill -0 "$KILN_PID" 2>/dev/null; then
        kill -KILL "$KILN_PID" 2>/dev/null
        wait "$KILN_PID" 2>/dev/null
    fi
}

# lib_init NAME: creates $WORK and installs the cleanup trap.
lib_init() {
    WORK=$KILN_BUILD/integration/$1
    rm -rf "$WORK"
    mkdir -p "$WORK"
    trap lib_cleanup EXIT
    trap 'exit 130' INT TERM
    [ -x "$KILN_BIN" ] || die "no kiln binary at $KILN_BIN (build first)"
    [ -d "$KILN_CORPUS" ] || die "no corpus at $KILN_CORPUS"
    command -v curl >/dev/null || die "curl is not installed"
}

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
        return
    fi
    local p i
    for i in $(seq 1 100); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
    done
    return 1
}

# pick_ports VAR...: exports each VAR as a distinct free port.
pick_ports() {
    local used=" " v p
    for v in "$@"; do
        p=$(free_port)
        while [[ $used == *" $p "* ]]; do p=$(free_port); done
        used="$used$p "
        export "$v=$p"
    done
}

# kiln_start CONFIG: starts kiln in the background (stderr -> $WORK/kiln.log),
# waits (10 s at most) until /ready on $KILN_METRICS_PORT answers 200 and the
# ingest port $KILN_PORT accepts connections.
kiln_start() {
    KILN_LOG=$WORK/kiln.log
    "$KILN_BIN" --config "$1" 2>"$KILN_LOG" &
    KILN_PID=$!
    local i code
    for i in $(seq 1 100); do
        if ! kill -0 "$KILN_PID" 2>/dev/null; then
            echo "--- kiln exited early; its log:"; cat "$KILN_LOG"
            KILN_PID=""
            return 1
        fi
        code=$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://127.0.0.1:$KILN_METRICS_PORT/ready")
        if [ "$code" = 200 ] && (exec 3<>"/dev/tcp/127.0.0.1/$KILN_PORT") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "--- kiln not ready after 10 s; its log:"; cat "$KILN_LOG"
    return 1
}

# kiln_start_debug: picks KILN_PORT and KILN_METRICS_PORT, writes
# $WORK/kiln.yaml (pprof receiver -> debug exporter, verbosity normal: one
# line with the exact totals per profile) and starts kiln on it.
kiln_start_debug() {
    pick_ports KILN_PORT KILN_METRICS_PORT
    cat >"$WORK/kiln.yaml" <<'EOF'
receivers:
  pprof:
    endpoint: 127.0.0.1:${env:KILN_PORT}
exporters:
  debug:
    verbosity: normal
service:
  telemetry:
    logs:
      level: info
    metrics:
      address: 127.0.0.1:${env:KILN_METRICS_PORT}
  pipelines:
    profiles:
      receivers: [pprof]
      exporters: [debug]
EOF
    kiln_start "$WORK/kiln.yaml"
}

# kiln_stop: SIGTERM, wait up to 10 s; returns kiln's exit status (124 when it
# had to be killed).
kiln_stop() {
    [ -n "$KILN_PID" ] || return 1
    kill -TERM "$KILN_PID" 2>/dev/null
    local i
    for i in $(seq 1 100); do
        if ! kill -0 "$KILN_PID" 2>/dev/null; then
            wait "$KILN_PID"
            local rc=$?
            KILN_PID=""
            return $rc
        fi
        sleep 0.1
    done
    kill -KILL "$KILN_PID" 2>/dev/null
    wait "$KILN_PID" 2>/dev/null
    KILN_PID=""
    return 124
}

kiln_alive() { [ -n "$KILN_PID" ] && kill -0 "$KILN_PID" 2>/dev/null; }

# http CURL-ARGS...: runs curl (globbing off, 30 s limit); sets HTTP_CODE and
# HTTP_BODY.
http() {
    local out=$WORK/.http_body
    HTTP_CODE=$(curl -sS -g --max-time 30 -o "$out" -w '%{http_code}' "$@" 2>"$WORK/.http_err")
    HTTP_BODY=$(cat "$out" 2>/dev/null; cat "$WORK/.http_err" 2>/dev/null)
}

# ingest_raw FILE QUERY [CURL-ARGS...]: POST FILE as the body to /ingest?QUERY.
ingest_raw() {
    local f=$1 q=$2; shift 2
    http --data-binary "@$f" -H 'Content-Type: application/octet-stream' "$@" \
        "http://127.0.0.1:$KILN_PORT/ingest?$q"
}
# ingest_multipart FILE QUERY [CURL-ARGS...]: POST FILE as the multipart part
# `profile` (filename profile.pprof), as pyroscope-go does.
ingest_multipart() {
    local f=$1 q=$2; shift 2
    http -F "profile=@$f;filename=profile.pprof;type=application/octet-stream" "$@" \
        "http://127.0.0.1:$KILN_PORT/ingest?$q"
}

# is_json_error BODY: a {"code":"...","message":"..."} body with a non-empty message.
is_json_error() {
    [[ $1 =~ ^\{\"code\":\"[a-z_]+\",\"message\":\"[^\"]+ ]]
}

# metrics: prints /metrics. metric KEY: prints the value of the sample whose
# name{labels} is exactly KEY (empty when absent).
metrics() { curl -s --max-time 5 "http://127.0.0.1:$KILN_METRICS_PORT/metrics"; }
metric() { metrics | awk -v k="$1" '$1 == k { print $2; exit }'; }

# wait_metric KEY WANT [SECONDS]: waits until metric KEY equals WANT; returns 1
# on timeout (the caller checks the value again to report).
wait_metric() {
    local k=$1 want=$2 t=${3:-20} _
    for _ in $(seq 1 $((t * 10))); do
        [ "$(metric "$k")" == "$want" ] && return 0
        sleep 0.1
    done
    return 1
}

# debug_lines: the debug exporter's per-profile lines logged so far.
debug_lines() { grep -a ' profile tenant=' "$KILN_LOG"; }

# kv LINE KEY: the value of KEY=... in a logfmt line (quoted values unescaped).
kv() {
    local line=$1 k=$2 re v
    k=${k//./\\.}
    re="(^| )$k=\"(([^\"\\\\]|\\\\.)*)\""
    if [[ $line =~ $re ]]; then
        v=${BASH_REMATCH[2]}
        v=${v//\\\"/\"}
        v=${v//\\\\/\\}
        printf '%s' "$v"
        return 0
    fi
    re="(^| )$k=([^ \"]*)"
    if [[ $line =~ $re ]]; then printf '%s' "${BASH_REMATCH[2]}"; return 0; fi
    return 1
}

# label LABELS NAME: the value of NAME in a {a="x", b="y"} label set.
label() {
    local re="(\\{|, )$2=\"(([^\"\\\\]|\\\\.)*)\""
    if [[ $1 =~ $re ]]; then printf '%s' "${BASH_REMATCH[2]}"; return 0; fi
    return 1
}

# debug_summary LINE: "types=... samples=N total.x/y=V ..." — the part of a
# debug line that pprofcheck prints for a file.
debug_summary() {
    local s=${1#* types=}
    s=${s% bytes=*}
    printf 'types=%s' "$s"
}

# The shape of a debug line (contract): timestamp, level, component, "profile".
DEBUG_LINE_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z info exporter/debug profile tenant=[^ ]+ labels="\{.*\}" types=[^ ]+ samples=[0-9]+( total\.[^ =]*=-?[0-9]+)+ bytes=[0-9]+$'

# kiln_go [VAR=value...] COMMAND...: runs COMMAND (Debian's go) offline, with
# its build cache under $KILN_BUILD.
kiln_go() {
    env GOCACHE="$KILN_BUILD/integration/gocache" GOPROXY=off GOFLAGS= GOTOOLCHAIN=local \
        CGO_ENABLED=0 GOTELEMETRY=off "$@"
}

# build_pprofcheck: builds tests/integration/pprofcheck (GOPATH mode against
# Debian's /usr/share/gocode) into $PPROFCHECK unless it is up to date.
build_pprofcheck() {
    command -v go >/dev/null || { echo "go is not installed (golang-go)"; return 1; }
    [ -d /usr/share/gocode/src/github.com/google/pprof/profile ] ||
        { echo "golang-github-google-pprof-dev is not installed"; return 1; }
    PPROFCHECK=$KILN_BUILD/integration/bin/pprofcheck
    mkdir -p "$KILN_BUILD/integration/bin"
    if [ -x "$PPROFCHECK" ] && [ "$PPROFCHECK" -nt "$LIB_DIR/pprofcheck/main.go" ]; then return 0; fi
    local tmp=$PPROFCHECK.tmp.$$
    (cd "$LIB_DIR/pprofcheck" &&
        kiln_go GO111MODULE=off GOPATH=/usr/share/gocode timeout 300 go build -o "$tmp" .) &&
        mv -f "$tmp" "$PPROFCHECK"
}

# file_size FILE
file_size() { stat -c %s "$1"; }
