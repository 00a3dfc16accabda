#!/usr/bin/env bash
# Installs what is missing (nodejs + npm included, for the web UI's libraries),
# builds (scripts/build.sh runs `npm ci` in web/ when needed), and starts kiln on
# the default config (examples/kiln.yaml: ingest, query API and the web UI on
# :4040, metrics on :8888).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
endpoint=${KILN_ENDPOINT:-:4040}
echo "run: kiln's web UI: http://localhost:${endpoint##*:}/"
exec build/bin/kiln --config "${KILN_CONFIG:-examples/kiln.yaml}"
