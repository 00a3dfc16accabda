#!/usr/bin/env bash
# `cmake --install` gives a tree that runs on its own: the binary finds its
# plugins and libkiln relative to itself, and the installed example config
# is valid.
source "$(dirname "$0")/lib.sh"
prefix="$WORK/prefix"
check "cmake --install succeeds" cmake --install "$KILN_BUILD" --prefix "$prefix"
check "binary installed" test -x "$prefix/bin/kiln"
out=$("$prefix/bin/kiln" components 2>&1)
check "installed kiln finds its plugins" has "$out" 'receiver pprof'
check "installed kiln lists the debug exporter" has "$out" 'exporter debug'
check "no test plugin is installed" test ! -e "$prefix/lib/kiln/plugins/exporter_testsink.so"
check "installed example config is valid" "$prefix/bin/kiln" validate --config "$prefix/etc/kiln/kiln.yaml"
check "headers installed" test -f "$prefix/include/kiln/plugin.h"
check "generated pprof header installed" test -f "$prefix/include/kiln/proto/profile.pb-c.h"
# a plugin compiles against the installed headers alone
printf '#include <kiln/kiln.h>\nint main(void){return KILN_ABI_MAJOR == 1 ? 0 : 1;}\n' >"$WORK/p.c"
check "installed headers compile on their own" cc -std=c11 -I"$prefix/include" -c "$WORK/p.c" -o "$WORK/p.o"
# every example a user may start from is valid against the built plugins
for ex in "$(dirname "$0")"/../../examples/*.yaml; do
  check "example $(basename "$ex") is valid" "$KILN" validate --config "$ex"
done
finish
