#!/usr/bin/env bash
# Installs the Debian packages kiln needs to build, run and test, idempotently.
# Usage: scripts/install-deps.sh [--test]   (--test adds what the test suite needs)
set -euo pipefail
run_pkgs=(build-essential cmake pkg-config ca-certificates
  libevent-dev libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler
  librdkafka-dev libyaml-dev zlib1g-dev libzstd-dev libdeflate-dev libpcre2-dev
  libcurl4-openssl-dev libssl-dev)
# chromium (+ chromium-driver): the web UI's browser test (tests/runtime/test_ui.sh);
# graphviz: `dot` reads the query API's DOT graphs in tests/runtime/test_query.sh
test_pkgs=(clang libclang-rt-14-dev golang-go golang-github-google-pprof-dev
  curl procps python3 chromium chromium-driver graphviz)
want=("${run_pkgs[@]}")
[ "${1:-}" = "--test" ] && want+=("${test_pkgs[@]}")
# node and npm: scripts/build.sh runs `npm ci` in web/ for the web UI's libraries
# (d3, d3-flame-graph), and the tests use npm clients; only installed when no npm
# is on the PATH (a machine may have a newer one)
if ! command -v npm >/dev/null 2>&1; then want+=(nodejs npm); fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
