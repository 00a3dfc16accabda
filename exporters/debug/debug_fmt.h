/* exporters/debug/debug_fmt.h — formatting of the debug exporter's lines
 * (kept apart from the plugin so tests can check the exact text).
 * All functions write NUL-terminated text into caller buffers and truncate. */
#ifndef KILN_DEBUG_FMT_H
#define KILN_DEBUG_FMT_H

#include <kiln/kiln.h>

#define KILN_DEBUG_MAX_TYPES 16

/* Sums per sample type (by "type/unit") over several profiles. */
typedef struct kiln_debug_totals {
    size_t n_types;
    char name[KILN_DEBUG_MAX_TYPES][128];
    int64_t total[KILN_DEBUG_MAX_TYPES];
    uint64_t samples;
    uint64_t profiles;
} kiln_debug_totals;

void kiln_debug_totals_init(kiln_debug_totals *t);
void kiln_debug_totals_add(kiln_debug_totals *t, const kiln_pprof *p);
/* "samples=N total.cpu/nanoseconds=V ..." */
size_t kiln_debug_format_totals(const kiln_debug_totals *t, char *buf, size_t cap);

/* Writes `s` as a log value: bare if it has no space, quote, backslash or
 * '=', else double-quoted with \" and \\ escapes. */
size_t kiln_debug_quote(const char *s, char *buf, size_t cap);

/* "tenant=T labels=\"{...}\" types=a/b,c/d samples=N total.a/b=V ... bytes=B" */
size_t kiln_debug_format_profile(const kiln_profile *pr, const kiln_pprof *p, size_t bytes, char *buf,
                                 size_t cap);

#endif
