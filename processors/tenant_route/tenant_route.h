/* processors/tenant_route/tenant_route.h — private to the `tenant_route`
 * processor: the config struct the core fills (field table in
 * tenant_route.c), the parsed table (routes, matchers, per-tenant limit
 * overrides; troute_config.c), tenant choice and validation
 * (troute_tenant.c), limit checks (troute_limits.c), the per-tenant series
 * tracker (troute_series.c) and the processor state.
 *
 * Memory: the config belongs to the core. A kiln_troute_table owns every
 * string, compiled regex and array in it (kiln_troute_table_free); the
 * `node` pointers it keeps point into the config tree and are read only
 * while the table is built and resolved (validate / create). The series
 * tracker owns its tenants and their sets. The state owns the table and the
 * tracker.
 */
#ifndef KILN_TENANT_ROUTE_H
#define KILN_TENANT_ROUTE_H

#include <pthread.h>
#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include <kiln/kiln.h>

/* ---- limits ------------------------------------------------------------------- */

typedef struct kiln_troute_limits {
    int64_t max_label_names_per_series;    /* 0 = off */
    int64_t max_label_name_length;         /* bytes; 0 = off */
    int64_t max_label_value_length;        /* bytes; 0 = off */
    int64_t max_series_per_tenant;         /* 0 = unlimited */
    int64_t max_profile_size;              /* received bytes; 0 = off */
    int64_t max_profile_uncompressed_size; /* bytes after gunzip; 0 = off */
    int64_t max_stack_depth;               /* frames (locations); 0 = off; decodes */
} kiln_troute_limits;

/* ---- config ------------------------------------------------------------------- */

enum { KILN_TROUTE_FROM_HEADER = 0, KILN_TROUTE_FROM_LABEL, KILN_TROUTE_FROM_DEFAULT };
enum { KILN_TROUTE_UNMATCHED_DEFAULT = 0, KILN_TROUTE_UNMATCHED_DROP = 1 };

typedef struct kiln_troute_cfg {
    kiln_strlist tenant_from;
    char *tenant_label;
    int remove_tenant_label;
    char *default_tenant;
    const kiln_node *routes;
    const kiln_node *default_exporters;
    int unmatched;
    kiln_troute_limits limits;
    const kiln_node *overrides;
    int64_t series_idle_timeout;
    int64_t max_tracked_tenants;
} kiln_troute_cfg;

/* ---- the parsed table ------------------------------------------------------------ */

typedef struct kiln_troute_matcher {
    char *name;
    char *value;     /* the value as written */
    int is_regex;    /* 0: exact comparison with value */
    regex_t re;      /* is_regex: "^(value)$", POSIX extended */
} kiln_troute_matcher;

/* A list of exporter ids as written, with their nodes for error positions. */
typedef struct kiln_troute_exporters {
    char **ids;
    const kiln_node **nodes;
    size_t n;
    uint64_t mask; /* resolved: bits of the pipeline's exporters; 0 = all (also when
                      the list names every exporter of the pipeline) */
} kiln_troute_exporters;

typedef struct kiln_troute_route {
    char **tenants; /* any of these (none listed: any tenant) */
    size_t n_tenants;
    kiln_troute_matcher *match; /* all of these */
    size_t n_match;
    kiln_troute_exporters exp;
    const kiln_node *node;
} kiln_troute_route;

typedef struct kiln_troute_override {
    char *tenant;
    kiln_troute_limits lim;
} kiln_troute_override;

typedef struct kiln_troute_table {
    int from[3];  /* KILN_TROUTE_FROM_* in order */
    size_t n_from;
    kiln_troute_route *routes;
    size_t n_routes;
    kiln_troute_exporters def;
    kiln_troute_override *overrides; /* sorted by tenant (strcmp) */
    size_t n_overrides;
    int track_series; /* some tenant has max_series_per_tenant > 0 */
    int decode;       /* some tenant has max_stack_depth > 0 */
    int inflate;      /* some tenant has max_profile_uncompressed_size > 0 */
} kiln_troute_table;

/* Builds the table from the config; `node` is the processor's own map (or
 * NULL) and only gives positions to errors about plain fields. Checks
 * tenant_from, default_tenant, every route (tenants valid, matchers
 * compile, exporters listed) and every override (tenant valid, limits
 * known and >= 0). Errors are "file:line:col: path: message". On failure
 * *t is left empty. */
int kiln_troute_table_build(const kiln_troute_cfg *cfg, const kiln_node *node, kiln_troute_table *t,
                            kiln_err *err);

/* Maps every exporter id of the table to its bit among the pipeline's
 * exporters `ids` (pipeline order); a list naming all of them becomes 0.
 * An id not in the pipeline is an error at its position in the config.
 * Call while the config tree is alive. */
int kiln_troute_table_resolve(kiln_troute_table *t, const char *const *ids, size_t n, kiln_err *err);

void kiln_troute_table_free(kiln_troute_table *t);

/* The limits of `tenant`: its override, or the defaults. */
const kiln_troute_limits *kiln_troute_limits_of(const kiln_troute_table *t,
                                               const kiln_troute_limits *defaults,
                                               const char *tenant);

/* The index of the first route matching (tenant, labels), or -1. A label a
 * matcher names but the series lacks matches as "". */
int kiln_troute_match(const kiln_troute_table *t, const char *tenant, const kiln_labels *ls);

/* ---- tenants ------------------------------------------------------------------------ */

/* Checks a tenant ID as Grafana dskit does: 1..150 bytes of a-z A-Z 0-9
 * ! - _ . * ' ( ), not "." or "..". KILN_EINVAL with the reason. */
int kiln_troute_tenant_valid(const char *id, kiln_err *err);

/* ---- limit checks ------------------------------------------------------------------- */

/* Reasons, also the `reason` label of tenant_route_rejected_profiles_total. */
enum {
    KILN_TROUTE_R_MISSING_TENANT = 0,
    KILN_TROUTE_R_INVALID_TENANT,
    KILN_TROUTE_R_LABEL_NAMES,
    KILN_TROUTE_R_NAME_LENGTH,
    KILN_TROUTE_R_VALUE_LENGTH,
    KILN_TROUTE_R_SERIES,
    KILN_TROUTE_R_SIZE,
    KILN_TROUTE_R_UNCOMPRESSED_SIZE,
    KILN_TROUTE_R_STACK_DEPTH,
    KILN_TROUTE_R_BAD_PAYLOAD,
    KILN_TROUTE_R_COUNT
};
extern const char *const kiln_troute_reason_names[KILN_TROUTE_R_COUNT];

/* Checks the label limits. KILN_OK, or KILN_EINVAL with a Pyroscope-style
 * message and *reason set. Never touches the payload. */
int kiln_troute_check_labels(const kiln_troute_limits *l, const kiln_labels *ls, int *reason,
                             kiln_err *err);

/* Checks the size limits (received bytes: no inflate; uncompressed size:
 * gunzips, never decodes) and the stack depth (decodes). KILN_ETOOBIG for
 * sizes, KILN_EUNPROC for depth, the payload's error for a payload that
 * cannot be read; *reason set. */
int kiln_troute_check_payload(const kiln_troute_limits *l, const kiln_profile *p, int *reason,
                              kiln_err *err);

/* `{a="1", ...}` of the labels, cut to fit `cap` with "..." at the end. */
char *kiln_troute_labels_str(const kiln_labels *ls, char *buf, size_t cap);

/* ---- series tracker ----------------------------------------------------------------- */

typedef struct kiln_troute_series kiln_troute_series;

/* A tracker of at most `max_tenants` tenants (the least recently seen is
 * forgotten past it); series unseen for `idle_ns` no longer count. NULL
 * when out of memory. */
kiln_troute_series *kiln_troute_series_new(size_t max_tenants, int64_t idle_ns);
void kiln_troute_series_free(kiln_troute_series *s);

/* Admits series `h` of `tenant` at `now`: 1 if it is known (its last-seen
 * time is refreshed) or was added under `limit`; 0 if it is new and the
 * tenant has `limit` live series (idle ones are swept out first, at most
 * once a second per tenant). *added is set to 1 when it was added.
 * -1 when out of memory. Thread-safe. */
int kiln_troute_series_admit(kiln_troute_series *s, const char *tenant, uint64_t h, int64_t limit,
                             int64_t now, int *added);

/* Removes series `h` of `tenant` (undoes an admit of a refused batch). */
void kiln_troute_series_forget(kiln_troute_series *s, const char *tenant, uint64_t h);

/* Series tracked for `tenant` now; tenants tracked. */
size_t kiln_troute_series_count(kiln_troute_series *s, const char *tenant);
size_t kiln_troute_series_tenants(kiln_troute_series *s);

/* ---- the processor state ---------------------------------------------------------------- */

typedef int64_t (*kiln_troute_clock_fn)(void *arg);

typedef struct kiln_troute_state {
    kiln_host *host;
    const kiln_troute_cfg *cfg;
    kiln_troute_table t;
    kiln_troute_series *series; /* NULL unless t.track_series */
    kiln_troute_clock_fn now;
    void *now_arg;
    kiln_counter *rejected[KILN_TROUTE_R_COUNT];
    kiln_counter **routed; /* one per route, then one for the default */
    kiln_gauge *tenants;
} kiln_troute_state;

/* Tests: replaces the monotonic clock of a state made by create. */
void kiln_troute_set_clock(void *state, kiln_troute_clock_fn fn, void *arg);

#endif
