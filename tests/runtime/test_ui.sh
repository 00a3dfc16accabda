#!/usr/bin/env bash
# The web UI in a real browser: a real kiln (pprof receiver + blocks + query on
# one loopback listener, temp dirs) serving its embedded UI, known profiles
# ingested through /ingest, and Debian's /usr/bin/chromium (headless) driven by
# playwright-core (tests/ui/, pinned in its package-lock) through
# tests/ui/ui_test.js: service and type chosen in the page, flame graph frame
# names and widths, search highlighting, zoom and reset, the top table and the
# hottest path against /kiln/v1/findings and `go tool pprof -top`, the diff
# view against /pyroscope/render-diff, the timeline (drawn, and selecting a
# range), the folded export, the label filter and the tenant field.
# Screenshots: $KILN_BUILD/artifacts/ui-*.png (paths printed).
#
# Without a browser: the page's helpers under node (tests/ui/unit_test.mjs:
# times, selectors, formats, flamebearer -> tree), and static file serving
# through the real HTTP server (gzip,
# ETag/304, 404, the ui_dir mode refusing path traversal, `ui: false`).
#
# Skips (exit 0, "skipped: ...") only when npm cannot reach its registry and
# the node_modules it needs are absent, or when /usr/bin/chromium is missing
# and cannot be installed (scripts/install-deps.sh --test installs it).
source "$(dirname "$0")/lib.sh"
SRC=${KILN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
CORPUS=${KILN_CORPUS:-$SRC/../shared/corpus}
UI_DIR=$SRC/tests/ui
ART=$KILN_BUILD/artifacts
mkdir -p "$ART"

# The browser part is skipped (the rest still runs; "skipped: ..." at the end,
# exit 0 when nothing failed) only for the reasons the header names.
SKIP=
skip() { [ -n "$SKIP" ] || SKIP=$*; }
# expect WHAT 'shell condition' (a compound condition, evaluated once)
expect() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

# --- what the browser part needs ---------------------------------------------------------
command -v node >/dev/null && command -v npm >/dev/null || {
  bad "node and npm are needed (scripts/install-deps.sh --test installs nodejs and npm)"; finish; exit 1; }
# the page's pure helpers under node (no browser, no npm packages)
jsout=$(cd "$UI_DIR" && timeout 30 node unit_test.mjs 2>&1)
while IFS= read -r line; do
  case "$line" in
    "ok - "*) ok "${line#ok - }" ;;
    "not ok - "*) bad "${line#not ok - }" ;;
    *) echo "  $line" ;;
  esac
done <<<"$jsout"
registry_ok() { timeout 20 npm ping >/dev/null 2>&1; }
# npm ci in $1 when its node_modules is missing or older than its package-lock
npm_ready() {
  local d=$1
  local stamp=$d/node_modules/.package-lock.json # written by npm ci
  if [ -f "$stamp" ] && [ ! "$d/package-lock.json" -nt "$stamp" ]; then return 0; fi
  if ! registry_ok; then
    [ -d "$d/node_modules" ] && return 0 # stale but usable
    return 1
  fi
  (cd "$d" && timeout 180 npm ci --no-audit --no-fund --ignore-scripts >/dev/null 2>&1) || return 2
}
npm_ready "$UI_DIR"; rc=$?
[ $rc = 1 ] && skip "npm cannot reach its registry and tests/ui/node_modules (playwright-core) is absent"
[ $rc = 2 ] && bad "npm ci in tests/ui failed" && skip "tests/ui/node_modules could not be installed"
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 || true
  fi
  [ -x /usr/bin/chromium ] || skip "/usr/bin/chromium is not installed and cannot be installed (apt-get install chromium)"
fi

PORT=$(free_port); MPORT=$(free_port)
config() { # config EXTRA_QUERY_YAML
  cat >"$WORK/k.yaml" <<YAML
receivers:
  pprof:
    endpoint: 127.0.0.1:$PORT
exporters:
  blocks:
    storage: {backend: filesystem, filesystem: {directory: $WORK/data}}
    wal_dir: $WORK/wal
  query:
    endpoint: 127.0.0.1:$PORT
    storage: {backend: filesystem, filesystem: {directory: $WORK/data}}
    wal_dir: $WORK/wal
    max_query_length: 0s
$1
service:
  shutdown_timeout: 5s
  telemetry:
    metrics: {address: 127.0.0.1:$MPORT}
  pipelines:
    profiles:
      receivers: [pprof]
      exporters: [blocks, query]
YAML
}
config ""
start_kiln "$WORK/k.yaml" || { finish; exit 1; }
BASE=http://127.0.0.1:$PORT

# --- the embedded UI is there (else: node_modules were missing at build time) --------------------
ASSETS=1
if curl -fs --max-time 10 "$BASE/" | grep -q "assets are missing"; then
  npm_ready "$SRC/web"; rc=$?
  if [ $rc = 0 ]; then
    stop_kiln
    echo "note - rebuilding the query plugin with the UI assets (web/node_modules was installed)"
    cmake --build "$KILN_BUILD" --target exporter_query >/dev/null || bad "rebuild of exporter_query failed"
    start_kiln "$WORK/k.yaml" || { finish; exit 1; }
  fi
  if curl -fs --max-time 10 "$BASE/" | grep -q "assets are missing"; then
    ASSETS=0
    [ $rc = 1 ] && skip "this kiln was built without web/node_modules and npm cannot reach its registry"
    [ $rc = 1 ] || bad "the embedded UI still lacks its libraries after npm ci in web/ and a rebuild"
  fi
fi

hdr() { curl -s --max-time 10 -D - -o "$WORK/body" "$@" | tr -d '\r'; }
if [ $ASSETS = 1 ]; then
# --- static files through the real server ----------------------------------------------------------
h=$(hdr "$BASE/")
expect "GET / is the page (200 text/html, ETag, nosniff)" \
  'has "$h" "HTTP/1.1 200" && has "$h" "Content-Type: text/html; charset=utf-8" && has "$h" "ETag: \"" &&
   has "$h" "X-Content-Type-Options: nosniff" && grep -q "ui/app.js" "$WORK/body"'

h=$(hdr -H 'Accept-Encoding: gzip' "$BASE/ui/lib/d3.min.js")
size_gz=$(stat -c %s "$WORK/body")
gunzip -c "$WORK/body" >"$WORK/d3.js" 2>/dev/null
expect "d3.min.js gzip'ed on request ($size_gz bytes), unpacks to the npm file" \
  'has "$h" "Content-Encoding: gzip" && has "$h" "Content-Type: text/javascript" &&
   cmp -s "$WORK/d3.js" "$SRC/web/node_modules/d3/dist/d3.min.js"'

etag=$(printf '%s\n' "$h" | sed -n 's/^ETag: //p')
code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -H 'Accept-Encoding: gzip' -H "If-None-Match: $etag" "$BASE/ui/lib/d3.min.js")
check "If-None-Match with the ETag answers 304 ($etag)" [ "$code" = 304 ]
h=$(hdr "$BASE/ui/lib/d3-flame-graph.LICENSE.txt")
expect "the library licences are served beside them" 'has "$h" "HTTP/1.1 200" && grep -q "Apache License" "$WORK/body"'
code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$BASE/ui/nope.js")
check "an unknown file is 404" [ "$code" = 404 ]
fi

# --- known profiles -------------------------------------------------------------------------------------
FOLDED_DEV='main;shop.handle;db.query 30
main;shop.handle;shop.render 10
main;runtime.gcBgMarkWorker 40
main 20'
FOLDED_PROD='main;shop.handle;db.query 20
main;shop.handle;shop.render 40
main;runtime.gcBgMarkWorker 40'
now=$(date +%s)
post_text() { # TEXT NAME FROM
  printf '%s\n' "$1" | curl -g -s -o /dev/null -w '%{http_code}' --max-time 10 --data-binary @- \
    "$BASE/ingest?name=$2&from=$3&until=$(($3 + 10))&sampleRate=100"
}
c1=$(post_text "$FOLDED_DEV" 'shop{env=dev}' $((now - 300)))
c2=$(post_text "$FOLDED_PROD" 'shop{env=prod}' $((now - 120)))
c3=$(curl -g -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'X-Scope-OrgID: team-a' \
  --data-binary @"$CORPUS/pprof__sample.cpu.pb.gz" "$BASE/ingest?name=corpus-cpu&format=pprof")
check "the profiles were accepted ($c1 $c2 $c3)" [ "$c1$c2$c3" = 200200200 ]

GO_TOP=
if command -v go >/dev/null; then
  export GOCACHE=$WORK/gocache GOFLAGS= GOTOOLCHAIN=local GOTELEMETRY=off
  GO_TOP=$(go tool pprof -top -nodefraction=0 -nodecount=0 -symbolize=none -unit=ns -sample_index=cpu \
    "$CORPUS/pprof__sample.cpu.pb.gz" 2>/dev/null)
fi

# --- the browser ------------------------------------------------------------------------------------------
if [ -z "$SKIP" ]; then
out=$(cd "$UI_DIR" && KILN_URL=$BASE ARTIFACTS=$ART FOLDED_DEV=$FOLDED_DEV FOLDED_PROD=$FOLDED_PROD \
  SAMPLE_RATE=100 GO_TOP=$GO_TOP timeout 120 node ui_test.js 2>&1)
brc=$?
printf '%s\n' "$out" | grep -v '^ok - \|^not ok - ' | sed 's/^/  /'
while IFS= read -r line; do
  case "$line" in
    "ok - "*) ok "${line#ok - }" ;;
    "not ok - "*) bad "${line#not ok - }" ;;
  esac
done <<<"$out"
[ $brc = 0 ] || printf '%s\n' "$out" | grep -q '^not ok' || bad "the browser test exited with $brc"
fi

# --- ui_dir mode: files from a directory, confined to it ---------------------------------------------------
stop_kiln
mkdir -p "$WORK/site/sub" "$WORK/outside"
printf '<!doctype html><title>dev</title><script src="ui/app.js"></script>' >"$WORK/site/index.html"
printf 'console.log(1)\n' >"$WORK/site/app.js"
printf 'secret\n' >"$WORK/outside/secret.txt"
printf 'hidden\n' >"$WORK/site/.hidden.txt"
ln -s "$WORK/outside/secret.txt" "$WORK/site/link.txt"
config "    ui_dir: $WORK/site"
start_kiln "$WORK/k.yaml" || { finish; exit 1; }
get() { curl -s --max-time 10 -o "$WORK/body" -w '%{http_code}' "$@"; }
expect "ui_dir: /ui/app.js is the directory's file" '[ "$(get "$BASE/ui/app.js")" = 200 ] && [ "$(cat "$WORK/body")" = "console.log(1)" ]'
expect "ui_dir: / without the libraries answers the 'assets are missing' page" \
  '[ "$(get "$BASE/")" = 200 ] && grep -q "assets are missing" "$WORK/body" && grep -q "npm ci" "$WORK/body"'

for p in "/ui/../outside/secret.txt" "/ui/%2e%2e/outside/secret.txt" "/ui/sub/../../outside/secret.txt" \
  "/ui/%2E%2E%2Foutside%2Fsecret.txt" "/ui/link.txt" "/ui/.hidden.txt" "/ui//etc/passwd" "/ui/..%5coutside%5csecret.txt"; do
  c=$(get --path-as-is "$BASE$p")
  expect "ui_dir: $p is refused ($c)" '[ "$c" = 404 ] && ! grep -q -e secret -e hidden "$WORK/body"'
done
stop_kiln
config "    ui: false"
start_kiln "$WORK/k.yaml" || { finish; exit 1; }
check "ui: false serves no page at /" [ "$(get "$BASE/")" = 404 ]
check "ui: false keeps the API" [ "$(get "$BASE/pyroscope/label-values?label=service_name")" = 200 ]
finish; rc=$?
[ -z "$SKIP" ] || echo "skipped: $SKIP (the browser part; the checks above ran)"
exit $rc
