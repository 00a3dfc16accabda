/* kiln/pprof.h — the decoded profile model and its codecs.
 *
 * The decoded model is the protobuf-c struct generated at build time from
 * proto/profile.proto (google/pprof's schema): kiln_pprof is
 * Perftools__Profiles__Profile. Field names are those of the .proto
 * (sample_type, sample, mapping, location, function, string_table,
 * drop_frames, keep_frames, time_nanos, duration_nanos, period_type,
 * period, comment, default_sample_type). Ids are 1-based as in pprof;
 * strings are indices into string_table (string_table[0] == "").
 *
 * Memory: every kiln_pprof returned here lives in the kiln_arena the caller
 * passes; it is freed with that arena and must not be freed otherwise.
 */
#ifndef KILN_PPROF_H
#define KILN_PPROF_H

#include <stddef.h>
#include <stdint.h>

#include <kiln/arena.h>
#include <kiln/err.h>
#include <kiln/proto/profile.pb-c.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef Perftools__Profiles__Profile kiln_pprof;
typedef Perftools__Profiles__Sample kiln_pprof_sample;
typedef Perftools__Profiles__Location kiln_pprof_location;
typedef Perftools__Profiles__Line kiln_pprof_line;
typedef Perftools__Profiles__Function kiln_pprof_function;
typedef Perftools__Profiles__Mapping kiln_pprof_mapping;
typedef Perftools__Profiles__Label kiln_pprof_label;
typedef Perftools__Profiles__ValueType kiln_pprof_value_type;

/* Limits applied while decoding; 0 means the default in brackets. */
typedef struct kiln_pprof_limits {
    size_t max_inflated;   /* [256 MiB] bytes after gunzip */
} kiln_pprof_limits;

/* 1 if `data` starts with the gzip magic (1f 8b). */
int kiln_is_gzip(const uint8_t *data, size_t len);

/* Gunzips a whole gzip buffer (libdeflate; several members allowed) into
 * arena memory. Fails with KILN_ETOOBIG past `max_out` bytes (0: 256 MiB), KILN_EINVAL on
 * corrupt data (the message says at which member/byte). */
int kiln_gunzip(kiln_arena *a, const uint8_t *in, size_t in_len, size_t max_out,
                uint8_t **out, size_t *out_len, kiln_err *err);

/* Decodes a pprof profile, gzip'ed or plain (told apart by the magic bytes,
 * never by a name), into `a`. Checks what pprof itself checks
 * (ids non-zero and unique, references resolvable, string indices in range,
 * string_table[0] empty, sample value count == sample_type count) and
 * fails with KILN_EINVAL and a message naming the field on a violation. */
int kiln_pprof_decode(kiln_arena *a, const uint8_t *data, size_t len,
                      const kiln_pprof_limits *lim, kiln_pprof **out, kiln_err *err);

/* Checks a decoded profile as kiln_pprof_decode does. */
int kiln_pprof_validate(const kiln_pprof *p, kiln_err *err);

/* Encodes `p` as pprof protobuf. gzip_level 0: plain; 1..12: gzip via
 * libdeflate. *out is malloc'ed; the caller frees it. */
int kiln_pprof_encode(const kiln_pprof *p, int gzip_level, uint8_t **out, size_t *out_len,
                      kiln_err *err);

/* Merges `n` profiles into one new profile allocated in `a`, as
 * `go tool pprof` (profile.Merge) does: the inputs must have the same
 * sample types (names and units) and period type; functions are unified by
 * (name, system name, file, start line), mappings by their identity,
 * locations by mapping+address+lines, samples by stack and labels, and
 * values of equal samples are summed; samples that are all zero are left
 * out. As pprof: time_nanos is the earliest non-zero start, duration_nanos
 * the sum of the durations, period the largest. Inputs are not modified. */
int kiln_pprof_merge(kiln_arena *a, kiln_pprof *const *in, size_t n, kiln_pprof **out,
                     kiln_err *err);

/* Deep equality of two profiles' content (strings compared by value, not
 * index). 1 if equal; on difference, writes where into `why` (may be NULL). */
int kiln_pprof_equal(const kiln_pprof *a, const kiln_pprof *b, char *why, size_t why_cap);

/* What a cheap scan learns without unpacking the profile (no allocation
 * per message): the sample types, period type and times. Strings point into
 * the scanned buffer and are not NUL-terminated. */
#define KILN_PPROF_PEEK_MAX_TYPES 16
typedef struct kiln_str {
    const char *p;
    size_t len;
} kiln_str;
typedef struct kiln_pprof_peek {
    size_t n_types;
    kiln_str type[KILN_PPROF_PEEK_MAX_TYPES];
    kiln_str unit[KILN_PPROF_PEEK_MAX_TYPES];
    kiln_str period_type, period_unit;
    int64_t period;
    int64_t time_nanos, duration_nanos;
    kiln_str default_sample_type;
    size_t n_samples;
} kiln_pprof_peek;

/* Scans an uncompressed pprof buffer. KILN_EINVAL (with the byte offset) if
 * the wire format is broken. */
int kiln_pprof_peek_scan(const uint8_t *data, size_t len, kiln_pprof_peek *out, kiln_err *err);

/* Per-function flat and cum totals of one sample index, computed as
 * `go tool pprof -top -nodefraction=0` does at function granularity
 * (flat to the leaf frame, inlined frames included; cum once per distinct
 * function per sample). `names` point into the profile's string table; an
 * unsymbolized frame is named after its mapping's file name (pprof prints
 * the base name in brackets). */
typedef struct kiln_pprof_fn_total {
    const char *name;
    int64_t flat;
    int64_t cum;
} kiln_pprof_fn_total;

/* Fills *out (malloc'ed, caller frees) with one row per function, sorted as
 * pprof's -top (|flat| desc, then name, then |cum|), and *total with the sum
 * of the sample index over all samples. */
int kiln_pprof_top(const kiln_pprof *p, size_t sample_index, kiln_pprof_fn_total **out,
                   size_t *n_out, int64_t *total, kiln_err *err);

/* Index of the sample type named `type` (or -1); `type` NULL: the default
 * sample type as pprof picks it (default_sample_type, else the last). */
int kiln_pprof_sample_index(const kiln_pprof *p, const char *type);

#ifdef __cplusplus
}
#endif
#endif
