# tests/runtime/lib.sh — helpers for the runtime tests: start kiln on free
# loopback ports with a config, wait for it, count results. Sourced.
set -u
KILN_BUILD=${KILN_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
KILN=$KILN_BUILD/bin/kiln
PLUGINS=$KILN_BUILD/test-plugins
WORK=$(mktemp -d /tmp/kiln-rt.XXXXXX)
PASS=0
FAIL=0
KILN_PID=

ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
has() { printf '%s\n' "$1" | grep -q -- "$2"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_kiln CONFIG_FILE: starts kiln in the background, logs to $WORK/kiln.log
start_kiln() {
  "$KILN" --config "$1" --plugin-dir "$PLUGINS" >"$WORK/kiln.out" 2>"$WORK/kiln.log" &
  KILN_PID=$!
  local i
  for i in $(seq 1 100); do
    if curl -fs "http://127.0.0.1:$MPORT/ready" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$KILN_PID" 2>/dev/null; then echo "kiln exited early:"; cat "$WORK/kiln.log"; return 1; fi
    sleep 0.05
  done
  echo "kiln did not become ready"; cat "$WORK/kiln.log"; return 1
}

stop_kiln() {
  [ -n "$KILN_PID" ] || return 0
  kill -TERM "$KILN_PID" 2>/dev/null
  local i
  for i in $(seq 1 200); do kill -0 "$KILN_PID" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$KILN_PID" 2>/dev/null
  wait "$KILN_PID" 2>/dev/null
  KILN_PID=
}

metric() { # metric NAME_WITH_LABELS -> value (0 if absent)
  curl -fs "http://127.0.0.1:$MPORT/metrics" | awk -v k="$1" '$1==k {print $2; f=1} END {if(!f) print 0}'
}

finish() {
  stop_kiln
  echo "$PASS passed, $FAIL failed"
  if [ "$FAIL" -ne 0 ]; then echo "--- kiln log"; tail -50 "$WORK/kiln.log"; fi
  rm -rf "$WORK"
  [ "$FAIL" -eq 0 ]
}
trap 'stop_kiln' EXIT
