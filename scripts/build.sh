#!/usr/bin/env bash
# Configures and builds kiln into build/ (or $KILN_BUILD_DIR). Extra
# arguments go to cmake's configure step (e.g. -DKILN_SANITIZE=ON).
#
# First, the web UI's npm packages (d3, d3-flame-graph, pinned in
# web/package-lock.json): `npm ci` in web/ when web/node_modules is missing or
# older than the lock file. The build embeds them into the query plugin; when
# npm is missing or its registry cannot be reached the build goes on without
# them, and kiln answers / with a page saying how to install them (the query
# API works either way).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${KILN_BUILD_DIR:-build}

web_deps() {
  local lock=web/package-lock.json stamp=web/node_modules/.package-lock.json
  [ -f "$lock" ] || return 0
  if [ -f "$stamp" ] && [ ! "$lock" -nt "$stamp" ]; then return 0; fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "build: npm is not installed: building without the web UI's libraries" \
         "(scripts/install-deps.sh installs nodejs and npm; then run this again)" >&2
    return 0
  fi
  echo "build: installing the web UI's npm packages (npm ci in web/)"
  local log
  log=$(mktemp)
  if (cd web && timeout 300 npm ci --no-audit --no-fund --ignore-scripts \
        --fetch-retries=1 --fetch-timeout=30000 >"$log" 2>&1); then
    rm -f "$log"
    return 0
  fi
  tail -5 "$log" | sed 's/^/  npm: /' >&2
  rm -f "$log"
  echo "build: npm ci in web/ failed (is the npm registry reachable? \`npm ping\`): building" \
       "without the web UI's libraries; kiln's / page says how to install them, the API works." \
       "Run scripts/build.sh again once npm can reach its registry." >&2
}
web_deps

cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
