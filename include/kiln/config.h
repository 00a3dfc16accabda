/* kiln/config.h — configuration as plugins see it.
 *
 * A component declares its fields in a table of kiln_cfg_field (ending with
 * a row whose name is NULL). The core uses the one table to fill the
 * component's config struct (defaults first, then the YAML), to reject
 * unknown fields, to check types and ranges with file:line:column errors,
 * and to document the component (`kiln components`).
 *
 * Field names may be dotted ("protocols.http.endpoint"): each dot is one
 * level of YAML mapping. The struct the core fills is cfg_size bytes,
 * zeroed, and belongs to the core; strings and lists in it are owned by the
 * core and stay valid until the component is destroyed.
 *
 * Values as Collector users write them:
 *   duration  "15s", "1h30m", "250ms", "2d" (stored as int64 nanoseconds)
 *   bytes     "512KiB", "4MB", "1GiB", "1024" (stored as int64 bytes;
 *             KB/MB/GB are powers of 10, KiB/MiB/GiB powers of 2)
 *   bool      true/false (also yes/no, on/off as YAML 1.1 allows)
 *   enum      one of the words in `enum_values` ("a|b|c"); stored as int index
 *   strlist   a YAML sequence of scalars, or a single scalar
 */
#ifndef KILN_CONFIG_H
#define KILN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <kiln/err.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the parsed YAML tree ---------------------------------------------- */

typedef enum kiln_node_kind {
    KILN_NODE_NULL = 0,
    KILN_NODE_SCALAR,
    KILN_NODE_MAP,
    KILN_NODE_SEQ
} kiln_node_kind;

typedef struct kiln_node kiln_node;
struct kiln_node {
    kiln_node_kind kind;
    const char *file; /* the file it came from */
    int line, col;    /* 1-based position of the node in that file */
    const char *path; /* dotted path from the root, e.g. "exporters.debug.verbosity" */
    char *scalar;     /* SCALAR: the text after ${env:...} expansion, NUL-terminated */
    int quoted;       /* SCALAR: 1 if it was quoted in the YAML */
    size_t n;         /* MAP, SEQ: number of entries */
    char **keys;      /* MAP: keys[i] names items[i] */
    kiln_node **items;
};

/* The child of a MAP by key, or NULL. */
const kiln_node *kiln_node_get(const kiln_node *map, const char *key);

/* Writes "file:line:col: path: <message>" into err; returns KILN_EINVAL. */
int kiln_node_err(kiln_err *err, const kiln_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Scalar parsers shared by the core and plugins. Return KILN_OK or
 * KILN_EINVAL (with a message saying what was expected). */
int kiln_parse_duration(const char *s, int64_t *ns, kiln_err *err);
int kiln_parse_bytes(const char *s, int64_t *bytes, kiln_err *err);
int kiln_parse_bool(const char *s, int *out, kiln_err *err);
int kiln_parse_int(const char *s, int64_t *out, kiln_err *err);
int kiln_parse_double(const char *s, double *out, kiln_err *err);

/* ---- field tables -------------------------------------------------------- */

typedef enum kiln_cfg_type {
    KILN_CFG_STRING = 1, /* char *            (NULL when no value and no default) */
    KILN_CFG_INT,        /* int64_t */
    KILN_CFG_DOUBLE,     /* double */
    KILN_CFG_BOOL,       /* int (0/1) */
    KILN_CFG_DURATION,   /* int64_t nanoseconds */
    KILN_CFG_BYTES,      /* int64_t bytes */
    KILN_CFG_ENUM,       /* int: index into enum_values */
    KILN_CFG_STRLIST,    /* kiln_strlist */
    KILN_CFG_STRMAP,     /* kiln_strmap: a mapping of scalars */
    KILN_CFG_NODE        /* const kiln_node *: any shape, parsed by the plugin */
} kiln_cfg_type;

typedef struct kiln_strlist {
    size_t n;
    char **v;
} kiln_strlist;

typedef struct kiln_strmap {
    size_t n;
    char **keys;
    char **values;
} kiln_strmap;

enum {
    KILN_CFG_REQUIRED = 1u << 0, /* must be given in the YAML */
    KILN_CFG_SECRET = 1u << 1    /* never printed (credentials) */
};

typedef struct kiln_cfg_field {
    const char *name;        /* dotted path; NULL ends the table */
    kiln_cfg_type type;
    const char *def;         /* default, written as in YAML; NULL: none */
    size_t offset;           /* offsetof(config struct, member) */
    const char *doc;         /* one line for `kiln components` and READMEs */
    uint32_t flags;          /* KILN_CFG_* */
    double min, max;         /* range for INT/DOUBLE/DURATION(ns)/BYTES; both 0: none */
    const char *enum_values; /* ENUM: "a|b|c" */
} kiln_cfg_field;

/* Name of a field type as `kiln components` prints it ("duration"). */
const char *kiln_cfg_type_name(kiln_cfg_type t);

#ifdef __cplusplus
}
#endif
#endif
