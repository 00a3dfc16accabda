/* kiln/labels.h — a series' label set: name/value pairs sorted by name,
 * names unique.
 *
 * A kiln_labels owns its strings (each set/copy duplicates them). Names and
 * values are NUL-terminated and may be any bytes but NUL. The reserved
 * names follow Pyroscope: `__name__` (profile type name such as
 * process_cpu, memory), `service_name`, `__delta__`, `pyroscope_spy`.
 */
#ifndef KILN_LABELS_H
#define KILN_LABELS_H

#include <stddef.h>
#include <stdint.h>

#include <kiln/err.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_LABEL_NAME "__name__"
#define KILN_LABEL_SERVICE_NAME "service_name"
#define KILN_LABEL_DELTA "__delta__"
#define KILN_LABEL_SPY "pyroscope_spy"

typedef struct kiln_label {
    char *name;
    char *value;
} kiln_label;

typedef struct kiln_labels {
    kiln_label *v; /* sorted by strcmp(name) */
    size_t n;
    size_t cap;
} kiln_labels;

/* A zero-initialised kiln_labels is an empty, valid set. */
#define KILN_LABELS_INIT {0}

/* Frees every string and the array; leaves an empty set. */
void kiln_labels_free(kiln_labels *ls);

/* Sets name=value, replacing an existing value. Copies both strings.
 * Returns KILN_OK or KILN_ENOMEM. */
int kiln_labels_set(kiln_labels *ls, const char *name, const char *value);

/* Same, with lengths (the strings need not be NUL-terminated). */
int kiln_labels_setn(kiln_labels *ls, const char *name, size_t name_len,
                     const char *value, size_t value_len);

/* The value of `name`, or NULL. The pointer is owned by `ls`. */
const char *kiln_labels_get(const kiln_labels *ls, const char *name);

/* Removes `name`; returns 1 if it was there, 0 otherwise. */
int kiln_labels_del(kiln_labels *ls, const char *name);

/* Replaces *dst (freed first) with a deep copy of *src. */
int kiln_labels_copy(kiln_labels *dst, const kiln_labels *src);

/* 64-bit hash of the whole set, stable across runs and machines (it decides
 * sampling and sharding): names and values with separators. */
uint64_t kiln_labels_hash(const kiln_labels *ls, uint64_t seed);

/* Writes `{a="1", b="2"}` (Prometheus style, values escaped) into buf,
 * NUL-terminated, truncated to cap. Returns the length it needed. */
size_t kiln_labels_format(const kiln_labels *ls, char *buf, size_t cap);

/* 1 if the two sets are equal. */
int kiln_labels_equal(const kiln_labels *a, const kiln_labels *b);

#ifdef __cplusplus
}
#endif
#endif
