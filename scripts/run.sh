#!/usr/bin/env bash
# Installs what is missing, builds, and starts kiln on the default config
# (examples/kiln.yaml: ingest on :4040, metrics on :8888).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/bin/kiln --config "${KILN_CONFIG:-examples/kiln.yaml}"
