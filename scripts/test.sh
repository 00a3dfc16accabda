#!/usr/bin/env bash
# Installs what is missing, builds kiln with warnings as errors, runs the
# whole test suite (unit, plugin, integration, fuzz) with ctest, then the
# unit and plugin tests again under AddressSanitizer + UBSan.
# Ends with ctest's summary line. FUZZ_SECONDS (default 20) bounds each fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
jobs=$(nproc)
KILN_BUILD_DIR=build-asan scripts/build.sh -DKILN_WERROR=ON -DKILN_SANITIZE=ON
echo "== unit and plugin tests under ASan/UBSan"
ASAN_OPTIONS=detect_leaks=1 KILN_NO_DLCLOSE=1 \
  ctest --test-dir build-asan -L unit -j"$jobs" --output-on-failure
KILN_BUILD_DIR=build scripts/build.sh -DKILN_WERROR=ON
echo "== the whole suite"
ctest --test-dir build -j"$jobs" --output-on-failure
