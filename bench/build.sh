#!/usr/bin/env bash
# bench/build.sh [BUILD_DIR] — builds bench/limit_decode against BUILD_DIR's
# libkiln (default: $KILN_BUILD, else <repo>/build), configuring and building
# libkiln there first if it is missing. Prints the path of the program as its
# last line (bench/run_ingest.sh relies on that).
#   usage: $(bash bench/build.sh build) -n 1000 ../shared/corpus/pprof__large.cpu.pb.gz
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=${1:-${KILN_BUILD:-$ROOT/build}}
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_TESTS=OFF >&2
fi
if [ ! -e "$BUILD/lib/libkiln.so" ] || [ -n "$(find "$ROOT/pipeline" "$ROOT/include" -newer "$BUILD/lib/libkiln.so" -name '*.[ch]' 2>/dev/null | head -1)" ]; then
  cmake --build "$BUILD" -j2 --target kiln >&2
fi
mkdir -p "$BUILD/bench"
OUT=$BUILD/bench/limit_decode
PKGS="libprotobuf-c libdeflate"
${CC:-cc} -O2 -g -std=gnu11 -Wall -Wextra -I"$ROOT/include" -I"$BUILD/gen" $(pkg-config --cflags $PKGS) \
  "$HERE/limit_decode.c" -o "$OUT" -L"$BUILD/lib" -Wl,-rpath,"$BUILD/lib" -lkiln $(pkg-config --libs $PKGS)
echo "$OUT"
