/* config/kiln_config.h — the configuration layer as the core sees it
 * (private to libkiln: plugins use only include/kiln/config.h).
 *
 * Four parts:
 *   1. the YAML tree loader (yaml_load.c): a file or a buffer becomes a
 *      kiln_node tree; every node carries file, line, column and dotted path;
 *      ${env:VAR} / ${env:VAR:-default} / ${VAR} / $$ are expanded in values.
 *   2. env expansion on its own (env_expand.c).
 *   3. field tables (cfg_apply.c): fill a component's config struct from its
 *      kiln_cfg_field table and its YAML map; free it; describe it.
 *   4. the whole-file model (service.c): components, pipelines and the
 *      service section, checked for structure (not per-component fields:
 *      the core runs kiln_cfg_apply with each plugin's table later).
 *
 * Memory: a tree lives in one arena owned by its root (kiln_yaml_free).
 * A kiln_config owns its tree; every string and array in a kiln_config and
 * its components/pipelines lives in that same arena: read them, never free
 * or realloc them; kiln_config_free releases everything at once.
 */
#ifndef KILN_CONFIG_PRIVATE_H
#define KILN_CONFIG_PRIVATE_H

#include <stdint.h>
#include <stdio.h>

#include <kiln/arena.h>
#include <kiln/config.h>
#include <kiln/err.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ------------------------------------------------------------- */

#define KILN_YAML_MAX_FILE (16u << 20)  /* bytes of YAML read from a file */
#define KILN_YAML_MAX_DEPTH 64          /* nesting of maps and sequences */
#define KILN_YAML_MAX_NODES 200000      /* nodes, after aliases are expanded */
#define KILN_YAML_MAX_MEM (32u << 20)   /* bytes of tree, after aliases */
#define KILN_CONFIG_MAX_ID 256          /* bytes of a component id */

/* ---- 1. the YAML tree ----------------------------------------------------- */

/* Every node of a loaded tree is a kiln_knode: the public node plus the
 * position of the key that names it (internal to config/). */
typedef struct kiln_knode {
    kiln_node n;
    int key_line, key_col;
} kiln_knode;

/* Parses `len` bytes of YAML named `name` (used as the file in positions and
 * errors) into a tree. On success *root is the root node (a NULL-kind node
 * for an empty document); the caller owns it and frees it with
 * kiln_yaml_free. On failure *root is NULL and err says
 * "name:line:col: what" (libyaml's problem text for syntax errors).
 *
 * Anchors and aliases are accepted: an alias is a deep copy of the anchored
 * node (paths rewritten to where the copy sits, positions kept from the
 * original), bounded by KILN_YAML_MAX_NODES / KILN_YAML_MAX_MEM so that an
 * "alias bomb" fails instead of eating memory. YAML merge keys (`<<: *a`,
 * `<<: [*a, *b]`) are applied: explicit keys win over merged ones, earlier
 * merged maps over later ones. Duplicate keys are an error; keys must be
 * non-empty scalars; only one document per stream. */
int kiln_yaml_load_string(const char *name, const char *yaml, size_t len, kiln_node **root,
                          kiln_err *err);

/* Reads a file (at most KILN_YAML_MAX_FILE bytes) and parses it as above.
 * A missing file is KILN_ENOTFOUND, an unreadable one KILN_EIO. */
int kiln_yaml_load_file(const char *path, kiln_node **root, kiln_err *err);

/* Frees a tree returned by a kiln_yaml_load_* (NULL allowed). Only roots. */
void kiln_yaml_free(kiln_node *root);

/* The arena the tree lives in (the same lifetime as the tree). */
kiln_arena *kiln_yaml_arena(const kiln_node *root);

/* Warnings the loader collected ("file:line:col: path: environment variable
 * FOO is not set; it expands to \"\""), owned by the tree. */
char *const *kiln_yaml_warnings(const kiln_node *root, size_t *n);

/* Position of the key that names node `n` in its parent map (the value's
 * own position for sequence items and the root). `n` must be a node of a
 * loaded tree (an item of a map or sequence, or a root), never a struct
 * the caller made itself (e.g. a shallow copy of a map): this reads the
 * kiln_knode around it. A null value (`key:` with nothing) has the key's
 * position as its own line/col. */
void kiln_node_key_pos(const kiln_node *n, int *line, int *col);

/* Like kiln_node_err, but points at the node's key: for "unknown field" or
 * "duplicate key" errors the key is where the reader should look. The same
 * restriction on `n` as kiln_node_key_pos. */
int kiln_node_key_err(kiln_err *err, const kiln_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "a mapping", "a sequence", "a scalar", "nothing" — for messages. */
const char *kiln_node_kind_desc(const kiln_node *n);

/* ---- 2. env expansion --------------------------------------------------------- */

/* Expands s[0..n): `${env:NAME}`, `${NAME}` (env is the default scheme, as in
 * the Collector), `${env:NAME:-default}` (default used when NAME is unset, as
 * in the Collector; a set but empty NAME gives ""; the default runs to the
 * first `}`), and `$$` -> `$`. Any other `$` is kept.
 * NAME must match [A-Za-z_][A-Za-z0-9_]*. An unset NAME without a default
 * expands to "" and, if `unset` is non-NULL, the first such NAME is copied
 * there (NUL-terminated, truncated to unset_cap). Errors (KILN_EINVAL, no
 * position; the caller adds it): unterminated `${`, a bad NAME, a scheme
 * other than env. On success *out is a NUL-terminated copy in `a` and
 * *out_len its length. */
int kiln_env_expand(kiln_arena *a, const char *s, size_t n, char **out, size_t *out_len,
                    char *unset, size_t unset_cap, kiln_err *err);

/* ---- 3. field tables ------------------------------------------------------------ */

/* Fills the struct at `out` (the plugin's cfg_size bytes, zeroed by the
 * caller) from the table: every default first, then the values of `map`.
 * `map` may be NULL or a NULL-kind node (`debug:` with no body): all
 * defaults. Rejects keys no field covers ("unknown field; valid fields:
 * ..."), values of the wrong type, values outside [min, max], enum words
 * not in enum_values, and missing REQUIRED fields; every error carries
 * file:line:col and the path. A field "a.b" covers key "a" as a mapping
 * holding "b". Strings, lists and maps in `out` are malloc'ed and freed by
 * kiln_cfg_free; NODE fields point into the tree, which must outlive `out`.
 * `map` itself may be a caller-made copy of a tree map (only its items are
 * read as tree nodes). A missing REQUIRED field is reported at `map`'s own
 * position. A null value (`key:` or `key: ~`) counts as not given. NODE fields take
 * no default. Ranges: min == max == 0 means none; max < min means no upper
 * bound (so {min=1, max=0} is ">= 1").
 * On failure nothing stays allocated in `out`. */
int kiln_cfg_apply(const kiln_cfg_field *fields, const kiln_node *map, void *out, kiln_err *err);

/* Frees what kiln_cfg_apply allocated in `cfg` and NULLs those members;
 * calling it twice is harmless. NULL fields or cfg: nothing. */
void kiln_cfg_free(const kiln_cfg_field *fields, void *cfg);

/* Writes one line per field: "  name  type  default  doc" (SECRET defaults
 * as "(secret)", REQUIRED fields as "(required)", enum words and ranges
 * after the doc). */
void kiln_cfg_describe(const kiln_cfg_field *fields, FILE *f);

/* Formats a duration as Go does for whole units ("1h30m", "250ms", "0s")
 * and a byte count with the largest exact binary unit ("512KiB", "1000B").
 * Return the buffer. */
char *kiln_format_duration(int64_t ns, char *buf, size_t cap);
char *kiln_format_bytes(int64_t bytes, char *buf, size_t cap);

/* ---- 4. the whole-file model ------------------------------------------------------ */

typedef struct kiln_config_component {
    int kind;               /* KILN_KIND_* from kiln/plugin.h */
    char *id;               /* "pprof/main" */
    char *type;             /* "pprof" */
    char *name;             /* "main" or "" */
    const kiln_node *node;  /* its map, or NULL when written as `pprof:` with no body */
    const kiln_node *decl;  /* its value node, never NULL (NULL-kind when no body):
                               pass it to kiln_cfg_apply so errors carry a position */
    int used;               /* listed by a pipeline (extensions: by service.extensions) */
} kiln_config_component;

typedef struct kiln_config_pipeline {
    char *id; /* "profiles" or "profiles/gateway" */
    char **receivers;
    size_t n_receivers;
    char **processors;
    size_t n_processors;
    char **exporters;
    size_t n_exporters;
    const kiln_node *node;
} kiln_config_pipeline;

typedef struct kiln_config {
    char *path;
    kiln_node *root;
    kiln_config_component *components; /* in file order, section by section */
    size_t n_components;
    kiln_config_pipeline *pipelines;
    size_t n_pipelines;
    char **extensions; /* service.extensions, in order */
    size_t n_extensions;
    int log_level;           /* KILN_LOG_*; telemetry.logs.level, default info */
    char *metrics_address;   /* telemetry.metrics.address, default ":8888" */
    int64_t memory_limit;    /* service.memory_limit bytes, default 512MiB */
    int64_t shutdown_timeout; /* service.shutdown_timeout ns, default 30s */
    int64_t workers;         /* service.workers, default 0 = number of cores */
    char **warnings;         /* "file:line:col: path: message" */
    size_t n_warnings;
} kiln_config;

/* Loads and checks a config file. On success the caller owns *out
 * (kiln_config_free). Errors are "file:line:col: path: message". */
int kiln_config_load(const char *path, kiln_config **out, kiln_err *err);

/* The same from a buffer named `name` (tests, fuzzing, `--config` from stdin). */
int kiln_config_load_string(const char *name, const char *yaml, size_t len, kiln_config **out,
                            kiln_err *err);

void kiln_config_free(kiln_config *c);

/* The component of that kind and id, or NULL. */
const kiln_config_component *kiln_config_find(const kiln_config *c, int kind, const char *id);

#ifdef __cplusplus
}
#endif
#endif
