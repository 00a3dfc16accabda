#!/usr/bin/env bash
# Configures and builds kiln into build/ (or $KILN_BUILD_DIR). Extra
# arguments go to cmake's configure step (e.g. -DKILN_SANITIZE=ON).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${KILN_BUILD_DIR:-build}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
