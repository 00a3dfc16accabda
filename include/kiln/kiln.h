/* kiln/kiln.h — everything a component needs, in one include.
 *
 * A component includes only headers from include/kiln/ and links libkiln
 * (the shared runtime: errors, arenas, labels, payloads, the pprof codec).
 */
#ifndef KILN_KILN_H
#define KILN_KILN_H

#include <kiln/arena.h>
#include <kiln/config.h>
#include <kiln/err.h>
#include <kiln/host.h>
#include <kiln/labels.h>
#include <kiln/plugin.h>
#include <kiln/pprof.h>
#include <kiln/profile.h>
#include <kiln/json.h>
#include <kiln/text.h>

#define KILN_VERSION "0.1.0"

/* Monotonic clock in ns (CLOCK_MONOTONIC) and wall clock in Unix ns. */
#include <stdint.h>
int64_t kiln_now_mono_ns(void);
int64_t kiln_now_unix_ns(void);

#endif
