/* exporters/query/query.h — the query exporter's internal API, shared by its
 * files (none of it is visible outside the plugin):
 *
 *   qbuf.c      growable byte buffer, JSON string/number writing
 *   qsel.c      label selectors `{a="x", b=~"y.*"}`, profile type ids,
 *               the legacy `<type>{selector}` query
 *   qtime.c     Pyroscope's attime (`now-1h`, unix s/ms/us/ns) and the
 *               timeline step
 *   qtenant.c   X-Scope-OrgID for reads (`a|b` federation)
 *   qtree.c     the merged call tree built from block stacks; per-function
 *               self/total, hottest path, folded and speedscope output
 *   qflame.c    FlameGraph / FlameGraphDiff levels with max_nodes
 *   qstore.c    the store as queries see it: blocks per tenant (listed,
 *               opened, cached) and the WAL heads not yet in a block
 *   qexec.c     query execution over a snapshot of the store
 *   qconnect.c  Connect requests (proto and JSON) in, responses out
 *   qpprofjson.c  protojson of a pprof profile (SelectMergeProfile in JSON)
 *   qlegacy.c   /pyroscope/render, render-diff, label-values, labels,
 *               exports and /kiln/v1/findings
 *   query.c     the plugin: config, routes, jobs, replies
 *
 * Naming: functions kiln_query_*, types kq_*. Ownership is stated per
 * function; "owned" members are freed by the matching *_free.
 */
#ifndef KILN_EXPORTER_QUERY_H
#define KILN_EXPORTER_QUERY_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <kiln/blocks.h>
#include <kiln/kiln.h>

/* ---- qbuf.c --------------------------------------------------------------------------- */

/* A growable buffer; zero-initialised is empty. On allocation failure `oom`
 * is set and later writes are ignored (check it once at the end). */
typedef struct kq_buf {
    char *p;
    size_t n, cap;
    int oom;
} kq_buf;

void kiln_query_buf_put(kq_buf *b, const void *d, size_t n);
void kiln_query_buf_puts(kq_buf *b, const char *s);
void kiln_query_buf_putc(kq_buf *b, char c);
void kiln_query_buf_printf(kq_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kiln_query_buf_i64(kq_buf *b, int64_t v);
/* A JSON string literal of s[0..n) (quotes included); invalid UTF-8 bytes
 * become U+FFFD. */
void kiln_query_buf_jstr(kq_buf *b, const char *s, size_t n);
void kiln_query_buf_jstrz(kq_buf *b, const char *s);
/* A JSON number as protojson writes a double ("NaN"/"Infinity" quoted). */
void kiln_query_buf_jdouble(kq_buf *b, double v);
/* Makes room for n more bytes; 0 or -1 (oom). */
int kiln_query_buf_reserve(kq_buf *b, size_t n);
void kiln_query_buf_free(kq_buf *b);
/* Standard base64 (RFC 4648, padded) of d[0..n): protojson's bytes. */
void kiln_query_buf_base64(kq_buf *b, const void *d, size_t n);

/* JSON requests are read with libkiln's reader: <kiln/json.h>. */

/* ---- qsel.c ---------------------------------------------------------------------------- */

typedef struct kq_matcher {
    char *name;  /* owned */
    char *value; /* owned */
    int op;      /* KILN_MATCH_* */
    pcre2_code *re;
    pcre2_match_data *md;
    pcre2_match_context *mc; /* the match limit */
} kq_matcher;

typedef struct kq_selector {
    kq_matcher *v;
    size_t n, cap;
} kq_selector;

#define KQ_SELECTOR_MAX_BYTES 65536
#define KQ_SELECTOR_MAX_MATCHERS 256

/* Parses a Prometheus metric selector: an optional metric name (becomes
 * __name__=...), then `{` matchers `}` (either part may be missing but not
 * both, except an empty text which selects everything). Matchers are
 * `name op "value"` with op one of = != =~ !~, names [a-zA-Z_][a-zA-Z0-9_]*
 * or quoted (UTF-8 names), values in "..." or '...' (Go escapes) or `...`,
 * separated by commas (a trailing comma is allowed). Regexes are compiled
 * fully anchored (PCRE2 with RE2-compatible options). Appends to *out
 * (zeroed by the caller). */
int kiln_query_selector_parse(const char *s, size_t len, kq_selector *out, kiln_err *err);
/* Appends one matcher (compiles the regex for =~ and !~). */
int kiln_query_selector_add(kq_selector *s, const char *name, int op, const char *value,
                            kiln_err *err);
void kiln_query_selector_free(kq_selector *s);
/* 1 if value v satisfies m (Prometheus semantics; "" for a missing label). */
int kiln_query_matcher_match(const kq_matcher *m, const char *v);
/* 1 if the label set (names sorted or not) satisfies every matcher. */
int kiln_query_selector_match(const kq_selector *s, const char *const *names,
                              const char *const *values, size_t n);
/* Fills out[0..s->n) for kiln_block_select; regexes go through a callback
 * using the compiled PCRE2 code (one thread at a time per selector). */
void kiln_query_selector_block(const kq_selector *s, kiln_block_matcher *out);

/* A profile type id `name:sample_type:sample_unit:period_type:period_unit`
 * (a 6th `:delta`-like part is accepted and dropped). Every string points
 * into one owned buffer. */
typedef struct kq_ptype {
    char *id; /* the 5-part id */
    char *name, *sample_type, *sample_unit, *period_type, *period_unit;
    char *buf;
} kq_ptype;

int kiln_query_ptype_parse(const char *s, kq_ptype *out, kiln_err *err);
void kiln_query_ptype_free(kq_ptype *p);

/* The legacy render query `<type id>{selector}`: fills *pt and appends the
 * matchers to *sel. */
int kiln_query_render_query_parse(const char *q, kq_ptype *pt, kq_selector *sel, kiln_err *err);

/* ---- qtime.c ----------------------------------------------------------------------------- */

/* Pyroscope's attime.Parse of a NUL-terminated s (NULL: now): kiln_attime. */
int64_t kiln_query_attime(const char *s, int64_t now_ns);
/* The timeline step in seconds for a range (CalcPointInterval: range/1500
 * rounded to a Grafana-style nice interval, at least 15 s). */
int64_t kiln_query_point_interval_s(int64_t from_ms, int64_t until_ms);

/* ---- qtenant.c ----------------------------------------------------------------------------- */

/* The tenants of a read request: the header value (or `def` when missing or
 * empty) split at `|`, each checked by dskit's rules, de-duplicated and
 * sorted. *out is a malloc'ed array of malloc'ed strings. */
int kiln_query_tenants(const char *hdr, const char *def, char ***out, size_t *n, kiln_err *err);
void kiln_query_strv_free(char **v, size_t n);

/* ---- qtree.c ------------------------------------------------------------------------------- */

#define KQ_NONE UINT32_MAX
#define KQ_MAX_DEPTH 4096

/* Interned frame names. alt[i] is, for an address frame ("0x1234", a
 * location without symbols), the id of its mapping's file name, which is
 * how pprof groups such frames in -top; KQ_NONE otherwise. */
typedef struct kq_names {
    char **v;
    uint32_t *alt;
    uint8_t *is_file; /* 1: a name interned only as a mapping file */
    uint32_t n, cap;
    uint32_t *slots;  /* hash slots: id + 1, 0 = empty */
    uint32_t nslots;
    kiln_arena *a;
} kq_names;

typedef struct kq_cslot {
    uint32_t parent, name, child;
} kq_cslot;

/* A call tree: node 0 is the synthetic root; every other node has a parent
 * with a lower index and a name. Up to two value columns (a diff has two).
 * Built by add/resolve, then kiln_query_tree_finish computes totals and the
 * children lists (sorted by name, as Pyroscope orders them). */
typedef struct kq_tree {
    int ncols;
    uint32_t n, cap;
    uint32_t *parent, *name;
    int64_t *self[2], *total[2];
    kq_cslot *cs; /* child hash: (parent, name) -> child; child 0 = empty */
    size_t cslots, cused;
    kq_names names;
    uint32_t *coff, *cidx; /* children of i: cidx[coff[i] .. coff[i+1]) */
    int finished;
    uint64_t samples; /* values added */
} kq_tree;

int kiln_query_tree_init(kq_tree *t, int ncols, kiln_err *err);
/* Makes room for n more nodes (fewer regrowths while resolving a block). */
int kiln_query_tree_reserve(kq_tree *t, size_t n);
void kiln_query_tree_free(kq_tree *t);
/* Interns a name (copied); returns its id or -1 when out of memory. */
int64_t kiln_query_tree_name(kq_tree *t, const char *s, size_t len);
/* The child of `parent` named `name`, created if missing; -1 on OOM. */
int64_t kiln_query_tree_child(kq_tree *t, uint32_t parent, uint32_t name);
/* Adds value v to column col of the stack frames[0] (root) .. frames[n-1]
 * (leaf). Zero values are ignored. */
int kiln_query_tree_add_stack(kq_tree *t, const char *const *frames, size_t n, int col, int64_t v,
                              kiln_err *err);
/* Totals and children; idempotent. Values are summed in wrapping int64. */
int kiln_query_tree_finish(kq_tree *t, kiln_err *err);
/* Total of column col (root total) after finish. */
int64_t kiln_query_tree_total(const kq_tree *t, int col);

/* The text of name id `name` (a mapping file key shows as pprof prints it:
 * "[basename]", or "<unknown>"). */
const char *kiln_query_tree_display(const kq_tree *t, uint32_t name);

/* Keeps only the stacks whose root-first frames start with names[0..n):
 * builds the filtered tree into *out (initialised here; same ncols). */
int kiln_query_tree_callsite(const kq_tree *t, const char *const *names, size_t n, kq_tree *out,
                             kiln_err *err);

/* Resolving a block's stacks into a tree: memoised per stack node and per
 * location, so every node of the block's stack tree is looked at once. */
typedef struct kq_resolver {
    kq_tree *t;
    kiln_block *b;
    uint32_t *node_memo; /* tree node + 1 per block stack node; 0 unknown */
    size_t node_cap;
    uint32_t *loc_off;   /* frames offset + 1 per location; 0 unknown */
    uint32_t *loc_cnt;
    size_t loc_cap;
    uint32_t *frames;    /* name ids, root-most first per location */
    size_t n_frames, cap_frames;
    uint32_t *path;      /* scratch */
    uint32_t *path_loc;
    size_t path_cap;
} kq_resolver;

int kiln_query_resolver_init(kq_resolver *r, kq_tree *t, kiln_block *b, kiln_err *err);
void kiln_query_resolver_free(kq_resolver *r);
/* The tree node of block stack `stack` (0: the root). */
int kiln_query_resolve(kq_resolver *r, uint32_t stack, uint32_t *node, kiln_err *err);

/* Per-function self and total (as `go tool pprof -top` at function
 * granularity: self to the leaf frame, total once per function per stack;
 * address frames grouped by their mapping file). Sorted by self desc, then
 * name, then total desc. Names point into the tree. */
typedef struct kq_fn_row {
    const char *name;
    int64_t self, total;
} kq_fn_row;
int kiln_query_tree_functions(const kq_tree *t, int col, kq_fn_row **rows, size_t *n,
                              kiln_err *err);
/* The hottest path: from the root, the child with the largest total
 * (ties: the first by name) down to a leaf. *nodes is malloc'ed. */
int kiln_query_tree_hot_path(const kq_tree *t, int col, uint32_t **nodes, size_t *n,
                             kiln_err *err);
/* Folded stacks: one `a;b;c <self>` line per node with self != 0, in
 * depth-first order. */
void kiln_query_tree_folded(const kq_tree *t, int col, kq_buf *out);
/* speedscope JSON (a "sampled" profile, one sample per node with self). */
void kiln_query_tree_speedscope(const kq_tree *t, int col, const char *name, const char *unit,
                                kq_buf *out);

/* ---- qflame.c ------------------------------------------------------------------------------- */

/* A flame graph as Pyroscope's FlameGraph (4 values per node) or, for a
 * 2-column tree, FlameGraphDiff (7 values per node). names point into the
 * tree (valid while it lives) except "total" and "other". */
typedef struct kq_flame {
    int diff;
    const char **names;
    size_t n_names;
    int64_t **levels;
    size_t *level_len;
    size_t n_levels;
    int64_t total, max_self;
    int64_t left_ticks, right_ticks;
} kq_flame;

/* The k-th largest node total (k = max_nodes; for a diff the larger of
 * both columns), or 0 when the tree has at most max_nodes nodes or
 * max_nodes < 1. */
int64_t kiln_query_flame_min_value(const kq_tree *t, int64_t max_nodes);
int kiln_query_flame(const kq_tree *t, int64_t max_nodes, kq_flame *out, kiln_err *err);
void kiln_query_flame_free(kq_flame *f);

/* ---- qstore.c ------------------------------------------------------------------------------- */

typedef struct kq_store kq_store;

/* A consistent view of one tenant for one query: the sources (visible
 * blocks and head views) overlapping the range. Sources stay valid until
 * kiln_query_store_release. */
typedef struct kq_snap {
    void *tenant;
    kiln_block **v;
    size_t n;
} kq_snap;

typedef struct kq_store_opts {
    const char *wal_dir;      /* NULL or "": no heads */
    int64_t sync_interval_ns; /* re-list blocks at most this often */
} kq_store_opts;

/* Takes `os` (closed by kiln_query_store_free). */
int kiln_query_store_new(kiln_objstore *os, const kq_store_opts *o, kq_store **out, kiln_err *err);
void kiln_query_store_free(kq_store *s);
/* from/to: ns, [from, to). */
int kiln_query_store_acquire(kq_store *s, const char *tenant, int64_t from_ns, int64_t to_ns,
                             kq_snap *out, kiln_err *err);
void kiln_query_store_release(kq_snap *snap);
/* Forces a re-list at the next acquire (after a read found a block gone). */
void kiln_query_store_invalidate(kq_store *s, const char *tenant);
/* Counters for /metrics and the README's numbers. */
typedef struct kq_store_stats {
    uint64_t lists, opens, open_failures, wal_refreshes;
} kq_store_stats;
void kiln_query_store_stats(kq_store *s, kq_store_stats *out);

/* ---- qexec.c ------------------------------------------------------------------------------ */

enum { KQ_AGG_SUM = 0, KQ_AGG_AVERAGE = 1 };

enum {
    KQ_FMT_FLAMEGRAPH = 1, /* also 0 */
    KQ_FMT_TREE = 2,
    KQ_FMT_DOT = 3,
    KQ_FMT_PPROF = 4
};

/* One request, whatever its method; strings owned. */
typedef struct kq_req {
    char *ptype;
    char *selector;
    int64_t start_ms, end_ms;
    int has_max_nodes;
    int64_t max_nodes;
    int format;
    char **matchers;
    size_t n_matchers;
    char *name;
    char **label_names;
    size_t n_label_names;
    char **group_by;
    size_t n_group_by;
    double step;
    int aggregation;
    int has_limit;
    int64_t limit;
    char **call_site;
    size_t n_call_site;
    char **spans;
    size_t n_spans;
    struct kq_req *left, *right;
} kq_req;

void kiln_query_req_free(kq_req *r);
/* Appends a copy of s[0..n) to a string vector; KILN_OK or KILN_ENOMEM. */
int kiln_query_strv_add(char ***v, size_t *n, const char *s, size_t len);

typedef struct kq_limits {
    int64_t max_nodes_default, max_nodes_max;
    int64_t max_query_length_ns; /* 0: none */
} kq_limits;

typedef struct kq_exec {
    kq_store *store;
    char **tenants;
    size_t n_tenants;
    const kq_limits *lim;
    int64_t now_ns;
} kq_exec;

/* The max_nodes a request asks for after Pyroscope's ValidateMaxNodes
 * (0 or absent: the default; above the max or negative: KILN_EINVAL). */
int kiln_query_max_nodes(const kq_limits *lim, const kq_req *r, int64_t *out, kiln_err *err);

/* Merges the stacks the request selects into column col of t (not finished). */
int kiln_query_exec_tree(kq_exec *x, const kq_req *r, kq_tree *t, int col, kiln_err *err);
/* The merged pprof profile (one sample type) in arena a; NULL when nothing matched. */
int kiln_query_exec_pprof(kq_exec *x, const kq_req *r, kiln_arena *a, kiln_pprof **out,
                          kiln_err *err);

typedef struct kq_point {
    int64_t ts_ms;
    double v;
} kq_point;

typedef struct kq_series {
    kiln_labels labels;
    kq_point *pts;
    size_t n;
    double sum;
} kq_series;

void kiln_query_series_free(kq_series *v, size_t n);
/* SelectSeries: one series per distinct group_by value set, points every
 * `step` seconds from start (a profile at t goes to the first point >= t). */
int kiln_query_exec_select_series(kq_exec *x, const kq_req *r, kq_series **out, size_t *n,
                                  kiln_err *err);
/* The per-profile totals of the request's selection bucketed into n
 * buckets of step_s from start_s (a timeline). */
int kiln_query_exec_timeline(kq_exec *x, const kq_req *r, int64_t start_s, int64_t step_s,
                             size_t n, int64_t *buckets, kiln_err *err);

enum { KQ_LABEL_NAMES = 0, KQ_LABEL_VALUES = 1, KQ_PROFILE_TYPES = 2 };
/* Label names, the values of r->name, or the profile type ids of the
 * series matching any of r->matchers (all when none) in the range.
 * Sorted, unique. */
int kiln_query_exec_labels(kq_exec *x, const kq_req *r, int what, char ***out, size_t *n,
                           kiln_err *err);
/* Series: the label sets (restricted to r->label_names when given). */
int kiln_query_exec_series_labels(kq_exec *x, const kq_req *r, kiln_labels **out, size_t *n,
                                  kiln_err *err);
/* Oldest and newest profile time (ms) of the tenants; *any 0 when empty. */
int kiln_query_exec_stats(kq_exec *x, int *any, int64_t *oldest_ms, int64_t *newest_ms,
                          kiln_err *err);

/* ---- qconnect.c ---------------------------------------------------------------------------- */

enum {
    KQ_M_PROFILE_TYPES,
    KQ_M_LABEL_NAMES,
    KQ_M_LABEL_VALUES,
    KQ_M_SERIES,
    KQ_M_SELECT_MERGE_STACKTRACES,
    KQ_M_SELECT_MERGE_SPAN_PROFILE,
    KQ_M_SELECT_MERGE_PROFILE,
    KQ_M_SELECT_SERIES,
    KQ_M_DIFF,
    KQ_M_GET_PROFILE_STATS,
    KQ_M_COUNT
};

extern const char *const kiln_query_method_names[KQ_M_COUNT];

/* Decodes a request body of method m (application/proto or JSON). */
int kiln_query_decode_proto(int m, const uint8_t *d, size_t n, kq_req *out, kiln_err *err);
int kiln_query_decode_json(int m, const uint8_t *d, size_t n, kq_req *out, kiln_err *err);

/* What a method answers. */
typedef struct kq_result {
    int method;
    char **strs;            /* LabelNames, LabelValues, ProfileTypes (ids) */
    size_t n_strs;
    kiln_labels *lsets;     /* Series */
    size_t n_lsets;
    kq_flame flame;         /* SelectMergeStacktraces, span profile, Diff */
    kq_tree tree;           /* the flame's tree (its names) */
    int have_tree;
    kiln_arena *arena;      /* SelectMergeProfile's profile */
    kiln_pprof *prof;       /* NULL: an empty profile */
    int pprof_field;        /* SelectMergeStacktraces format PPROF: prof goes in `pprof` */
    int text_format;        /* KQ_FMT_TREE / KQ_FMT_DOT: `text` goes in `tree` / `dot` */
    kq_buf text;
    kq_series *series;      /* SelectSeries */
    size_t n_series;
    int stats_any;
    int64_t stats_oldest, stats_newest;
} kq_result;

void kiln_query_result_free(kq_result *r);
/* Encodes the response (proto or protojson) into out. */
int kiln_query_encode(const kq_result *r, int json, kq_buf *out, kiln_err *err);

/* Connect error code for a kiln status, and its HTTP status. */
const char *kiln_query_connect_code(int status);
int kiln_query_connect_http(const char *code);
/* {"code":"...","message":"..."} */
void kiln_query_connect_error(kq_buf *out, const char *code, const char *msg);

/* ---- qftree.c ------------------------------------------------------------------------------ */

/* SelectMergeProfile's max_nodes, as Pyroscope: cuts p's stacks (value 0's
 * call tree over functions) below the max_nodes-th largest node total into
 * one leaf location "other"; equal stacks are merged. max_nodes < 1 or a
 * tree that small: p is left as is. New arrays and strings go in `a`. */
int kiln_query_pprof_truncate(kiln_pprof *p, int64_t max_nodes, kiln_arena *a, kiln_err *err);
/* SelectMergeStacktraces format TREE: Pyroscope's serialized function-name
 * tree of p (value 0), nodes below the max_nodes-th largest total folded
 * into "other". Appends to out; an empty profile writes nothing. */
int kiln_query_pprof_tree_bytes(const kiln_pprof *p, int64_t max_nodes, kq_buf *out, kiln_err *err);
/* format DOT: a Graphviz digraph of p's functions (value 0): the max_nodes
 * (< 1: all) with the largest cum, labelled with flat and cum and their
 * shares, and the caller -> callee edges between them with their weights
 * (each counted once per sample). p NULL: an empty digraph. */
int kiln_query_pprof_dot(const kiln_pprof *p, int64_t max_nodes, kq_buf *out, kiln_err *err);

/* ---- qlegacy.c ------------------------------------------------------------------------------ */

/* Query parameters the HTTP routes read (names as Pyroscope spells them). */
enum {
    KQ_P_QUERY,
    KQ_P_FROM,
    KQ_P_UNTIL,
    KQ_P_FORMAT,
    KQ_P_MAXNODES,
    KQ_P_MAX_NODES,
    KQ_P_GROUPBY,
    KQ_P_AGGREGATION,
    KQ_P_LABEL,
    KQ_P_NAME,
    KQ_P_LEFT_QUERY,
    KQ_P_LEFT_FROM,
    KQ_P_LEFT_UNTIL,
    KQ_P_RIGHT_QUERY,
    KQ_P_RIGHT_FROM,
    KQ_P_RIGHT_UNTIL,
    KQ_P_TOP,
    KQ_P_COUNT
};
extern const char *const kiln_query_param_names[KQ_P_COUNT];

enum { KQ_R_RENDER, KQ_R_RENDER_DIFF, KQ_R_LABEL_VALUES, KQ_R_LABELS, KQ_R_FINDINGS, KQ_R_COUNT };

/* An HTTP answer being built. ctype and disposition are static strings or
 * empty; body is owned. */
typedef struct kq_reply {
    int status;
    const char *ctype;
    const char *disposition; /* Content-Disposition, or NULL */
    kq_buf body;
} kq_reply;

/* Answers one legacy route; p[i] is the value of kiln_query_param_names[i]
 * (NULL when absent). Errors become Connect-style JSON bodies. */
void kiln_query_legacy(int route, kq_exec *x, const char *const *p, kq_reply *out);
/* Sets out to a Connect JSON error for status/err. */
void kiln_query_reply_error(kq_reply *out, int status, const kiln_err *err);

/* ---- qpprofjson.c ------------------------------------------------------------------------------ */

/* protojson of a pprof profile as google.v1.Profile (camelCase names,
 * int64 as strings, default values omitted). */
void kiln_query_pprof_json(const kiln_pprof *p, kq_buf *out);

#endif
