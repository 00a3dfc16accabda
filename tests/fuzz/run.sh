#!/usr/bin/env bash
# tests/fuzz/run.sh — builds every tests/fuzz/fuzz_*.c with clang and libFuzzer
# (-fsanitize=fuzzer,address,undefined) and runs each for a bounded time.
#
# Each target is linked with libkiln's sources (pipeline/*.c except main.c and
# cli_*.c, config/*.c, the protobuf-c code generated from proto/*.proto) and
# with the files named on a "// fuzz-sources: a.c b.c" line of the target
# (paths relative to the repository root); pkg-config modules named on a
# "// fuzz-pkgs: m1 m2" line, and the KILN_PLUGIN_PKGS of the plugin.cmake in
# the folder of a fuzz-sources file, are linked too. Seeds: tests/fuzz/seeds_<name>/
# for fuzz_<name>.c, when present; they are read, never written (new inputs
# go to $KILN_BUILD/fuzz/corpus/<name>/).
#
# Environment: KILN_SRC (repository, default: two levels up from here),
# KILN_BUILD (build directory, default $KILN_SRC/build; ctest sets both),
# FUZZ_SECONDS (per target; default 20, lowered so that all runs fit in
# FUZZ_BUDGET seconds, default 90, with at least 5 s each), FUZZ_JOBS (parallel compiles and
# runs, default 2), FUZZ_TARGETS (space-separated names to run a subset),
# FUZZ_PKGS (extra pkg-config modules to link).
# Exit status 1 if any target fails to build or finds a crash, leak, timeout
# or out-of-memory; the reproducer's path is printed. Ends with
# "N passed, N failed" (one count per target).
set -u -o pipefail

SRC=${KILN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${KILN_BUILD:-$SRC/build}
SECS=${FUZZ_SECONDS:-}
JOBS=${FUZZ_JOBS:-2}
OUT=$BUILD/fuzz
CC=${FUZZ_CC:-clang}

mkdir -p "$OUT/obj" "$OUT/gen/kiln/proto" "$OUT/logs" "$OUT/artifacts" "$OUT/corpus" || exit 1

if ! command -v "$CC" >/dev/null 2>&1; then
  echo "fuzz: $CC not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

# protobuf-c code: the build directory's when up to date, else generated here
# (a clean build directory, or a .proto newer than the build); either way
# copied into one folder, $OUT/pb, so that each .c is compiled with its .h
shopt -s nullglob
mkdir -p "$OUT/pb/kiln/proto"
pb_srcs=()
for p in "$SRC"/proto/*.proto; do
  n=$(basename "$p" .proto)
  from=$BUILD/gen/kiln/proto
  if [ ! -f "$from/$n.pb-c.c" ] || [ "$p" -nt "$from/$n.pb-c.c" ]; then
    from=$OUT/gen/kiln/proto
    if [ ! -f "$from/$n.pb-c.c" ] || [ "$p" -nt "$from/$n.pb-c.c" ]; then
      protoc-c --c_out="$from" -I"$SRC/proto" "$p" ||
        { echo "fuzz: protoc-c failed on $p" >&2; echo "0 passed, 1 failed"; exit 1; }
    fi
  fi
  for ext in c h; do
    cmp -s "$from/$n.pb-c.$ext" "$OUT/pb/kiln/proto/$n.pb-c.$ext" || cp "$from/$n.pb-c.$ext" "$OUT/pb/kiln/proto/"
  done
  pb_srcs+=("$OUT/pb/kiln/proto/$n.pb-c.c")
done
GEN=$OUT/pb

# libkiln's pkg-config modules: the base list, plus whatever the top-level
# CMakeLists.txt requires for libkiln (pkg_check_modules(X REQUIRED IMPORTED_TARGET ..)),
# so that a new dependency of a pipeline/ file does not break this script
PKGS="libevent libevent_pthreads libprotobuf-c yaml-0.1 libdeflate libzstd zlib libcurl libcrypto"
for m in $(sed -n 's/^pkg_check_modules([A-Za-z_0-9]* REQUIRED IMPORTED_TARGET \([^$)]*\)).*/\1/p' "$SRC/CMakeLists.txt"); do
  case " $PKGS " in *" $m "*) ;; *) PKGS="$PKGS $m" ;; esac
done
PKGS="$PKGS ${FUZZ_PKGS:-}"
PKG_CFLAGS=$(pkg-config --cflags $PKGS) || { echo "fuzz: pkg-config failed for: $PKGS" >&2; exit 1; }
PKG_LIBS=$(pkg-config --libs $PKGS)
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS="-std=gnu11 -O1 -gline-tables-only -w $SAN -I$SRC/include -I$GEN -I$SRC/pipeline -I$SRC/config $PKG_CFLAGS"

# ---- library objects (rebuilt when their source or a header is newer) ----------
lib_srcs=()
for f in "$SRC"/pipeline/*.c "$SRC"/config/*.c "${pb_srcs[@]}"; do
  b=$(basename "$f")
  case "$b" in main.c|cli_*.c) continue ;; esac
  lib_srcs+=("$f")
done
newest_header=$(ls -t "$SRC"/include/kiln/*.h "$SRC"/pipeline/*.h "$SRC"/config/*.h "$GEN"/kiln/proto/*.h \
  2>/dev/null | head -1)

obj_of() { # source path -> object path (unique per directory)
  local rel=${1#"$SRC"/}
  rel=${rel#"$OUT"/}
  echo "$OUT/obj/$(echo "$rel" | tr '/' '_').o"
}
export -f obj_of
export SRC OUT CC CFLAGS

need=()
for f in "${lib_srcs[@]}"; do
  o=$(obj_of "$f")
  if [ ! -f "$o" ] || [ "$f" -nt "$o" ] || { [ -n "$newest_header" ] && [ "$newest_header" -nt "$o" ]; }; then
    need+=("$f")
  fi
done
t0=$(date +%s)
if [ ${#need[@]} -gt 0 ]; then
  printf '%s\n' "${need[@]}" | xargs -P "$JOBS" -I{} bash -c \
    'o=$(obj_of "{}"); $CC $CFLAGS -fsanitize=fuzzer-no-link -c "{}" -o "$o" 2>"$o.log" || { echo "fuzz: cannot compile {}:"; cat "$o.log"; exit 255; }' \
    || { echo "fuzz: library build failed" >&2; echo "0 passed, 1 failed"; exit 1; }
fi
lib_objs=()
for f in "${lib_srcs[@]}"; do lib_objs+=("$(obj_of "$f")"); done

# ---- targets ------------------------------------------------------------------------
targets=()
for t in "$SRC"/tests/fuzz/fuzz_*.c; do
  name=$(basename "$t" .c)
  name=${name#fuzz_}
  if [ -n "${FUZZ_TARGETS:-}" ] && ! [[ " $FUZZ_TARGETS " == *" $name "* ]]; then continue; fi
  targets+=("$name")
done
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no targets"
  echo "0 passed, 0 failed"
  exit 0
fi
# default time per target: 20 s, less when many targets would make the runs
# take more than FUZZ_BUDGET seconds in all (default 90; at least 5 s each)
if [ -z "$SECS" ]; then
  BUDGET=${FUZZ_BUDGET:-90}
  SECS=$((BUDGET * JOBS / ${#targets[@]}))
  [ "$SECS" -gt 20 ] && SECS=20
  [ "$SECS" -lt 5 ] && SECS=5
fi

build_target() { # name -> 0 if built
  local name=$1 t="$SRC/tests/fuzz/fuzz_$1.c" extra=() s pkgs="" d
  local line
  line=$(grep -m1 '^// fuzz-sources:' "$t" | sed 's|^// fuzz-sources:||')
  for s in $line; do
    extra+=("$SRC/$s")
    # a plugin's own pkg-config modules (set(KILN_PLUGIN_PKGS ..) in its plugin.cmake)
    d=$(dirname "$SRC/$s")
    if [ -f "$d/plugin.cmake" ]; then
      pkgs="$pkgs $(sed -n 's/^ *set(KILN_PLUGIN_PKGS \([^)]*\)).*/\1/p' "$d/plugin.cmake")"
    fi
  done
  pkgs="$pkgs $(grep -m1 '^// fuzz-pkgs:' "$t" | sed 's|^// fuzz-pkgs:||')"
  local pc="" pl=""
  if [ -n "${pkgs// /}" ]; then
    pc=$(pkg-config --cflags $pkgs) && pl=$(pkg-config --libs $pkgs) ||
      { echo "pkg-config failed for: $pkgs" >"$OUT/logs/build_$name.log"; return 1; }
  fi
  $CC $CFLAGS $pc -fsanitize=fuzzer "$t" "${extra[@]}" "${lib_objs[@]}" $pl $PKG_LIBS -ldl -lpthread -lm \
    -o "$OUT/fuzz_$name" >"$OUT/logs/build_$name.log" 2>&1
}

run_target() { # name -> 0 if no finding
  local name=$1 seeds="$SRC/tests/fuzz/seeds_$1" work="$OUT/corpus/$1" log="$OUT/logs/run_$1.log"
  local dirs=("$work")
  mkdir -p "$work"
  [ -d "$seeds" ] && dirs+=("$seeds")
  touch "$OUT/logs/start_$name" # reproducers of this run are newer than this
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$OUT/fuzz_$name" -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$OUT/artifacts/$name-" "${dirs[@]}" >"$log" 2>&1
}

export -f build_target run_target
export PKG_LIBS SECS
# bash cannot export arrays: pass the object list through a variable
export LIB_OBJS="${lib_objs[*]}"
build_one() {
  local lib_objs
  read -r -a lib_objs <<<"$LIB_OBJS"
  build_target "$1" && echo "$1 ok" || echo "$1 fail"
}
export -f build_one
build_results=$(printf '%s\n' "${targets[@]}" | xargs -P "$JOBS" -I{} bash -c 'build_one {}')
t1=$(date +%s)
echo "fuzz: built ${#targets[@]} target(s) in $((t1 - t0))s; running each for ${SECS}s ($JOBS at a time)"

run_one() {
  local name=$1
  if run_target "$name"; then
    echo "$name ok"
  else
    echo "$name fail"
  fi
}
export -f run_one
to_run=()
passed=0
failed=0
for name in "${targets[@]}"; do
  if grep -qx "$name ok" <<<"$build_results"; then
    to_run+=("$name")
  else
    echo "FAIL fuzz_$name: does not build (log: $OUT/logs/build_$name.log)"
    sed -n '1,30p' "$OUT/logs/build_$name.log"
    failed=$((failed + 1))
  fi
done
run_results=""
if [ ${#to_run[@]} -gt 0 ]; then
  run_results=$(printf '%s\n' "${to_run[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_one {}')
fi
for name in "${to_run[@]}"; do
  log="$OUT/logs/run_$name.log"
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  if grep -qx "$name ok" <<<"$run_results"; then
    echo "PASS fuzz_$name: ${runs:-?} runs in ${SECS}s"
    passed=$((passed + 1))
  else
    echo "FAIL fuzz_$name (log: $log)"
    for a in "$OUT/artifacts/$name"-*; do
      [ "$a" -nt "$OUT/logs/start_$name" ] && echo "  reproducer: $a  (rerun: $OUT/fuzz_$name $a)"
    done
    grep -E 'ERROR|SUMMARY|fuzz_[a-z_]+:|runtime error|Assertion|abort' "$log" | head -20 | sed 's/^/  /'
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
