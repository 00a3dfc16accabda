/* pipeline/cli_query.h — the pieces of `kiln query` (pipeline/cli_query*.c),
 * declared here so that the unit test and the fuzz target can reach them.
 *
 *   cli_query.c        flags, the query flow, exit codes
 *   cli_query_http.c   Connect unary calls over libcurl (application/proto)
 *   cli_query_reply.c  Connect error bodies
 *   cli_query_time.c   --from/--until and --timeout
 *   cli_query_tree.c   the call tree of a merged pprof (hottest path, folded),
 *                      pprof's inline marks for -top
 *   cli_query_print.c  pprof's value and percentage formats; top and tree
 *
 * Memory: every function says who owns what it returns; nothing is global.
 */
#ifndef KILN_CLI_QUERY_H
#define KILN_CLI_QUERY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <kiln/arena.h>
#include <kiln/err.h>
#include <kiln/pprof.h>

/* exit codes of `kiln query` */
enum {
    KILN_CQ_EXIT_OK = 0,
    KILN_CQ_EXIT_FAIL = 1,    /* the server refused, could not be reached, or output failed */
    KILN_CQ_EXIT_USAGE = 2,   /* bad flags, or --type needed */
    KILN_CQ_EXIT_NO_DATA = 3, /* the query ran and matched no profile */
};

/* Sums and conversions that saturate instead of overflowing (a profile's
 * values are whatever the server sent). */
static inline int64_t kiln_cq_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) return a < 0 ? INT64_MIN : INT64_MAX;
    return r;
}
static inline int64_t kiln_cq_d2i(double d)
{
    if (!(d == d)) return 0;
    if (d >= 9.2233720368547758e18) return INT64_MAX;
    if (d <= -9.2233720368547758e18) return INT64_MIN;
    return (int64_t)d;
}

/* ---- times (cli_query_time.c) ----------------------------------------------------- */

/* Reads a point in time as Unix milliseconds: `now`, `now-1h`, `now+30m`,
 * `now-1h30m` (units s, m/min, h, d, w, M/mon = 30 d, y = 365 d), digits
 * (8 digits forming a date: YYYYMMDD UTC; 13 digits: ms; 16: µs; 19: ns;
 * any other count: seconds), or RFC 3339 (`2024-05-01T10:00:00Z`,
 * fractions and `+02:00` offsets allowed; a bare `2024-05-01` is midnight
 * UTC). KILN_EINVAL with a message saying which forms are accepted. */
int kiln_cq_parse_time(const char *s, int64_t now_ms, int64_t *out_ms, kiln_err *err);

/* Reads a duration as milliseconds: `30s`, `500ms`, `2m`, `1h30m`, or a
 * plain number of seconds (`30`). Must be > 0. */
int kiln_cq_parse_duration(const char *s, int64_t *out_ms, kiln_err *err);

/* Formats Unix ms as RFC 3339 UTC ("2024-05-01T10:00:00.000Z"). */
void kiln_cq_fmt_time(int64_t ms, char *buf, size_t cap);

/* ---- Connect error bodies (cli_query_reply.c) ------------------------------------------ */

/* Reads a Connect error body {"code": "...", "message": "..."} (other
 * members ignored). On success *code and *message are NUL-terminated copies
 * in `a` (message may be empty). KILN_EINVAL when the body is not such an
 * object. */
int kiln_cq_connect_error(kiln_arena *a, const uint8_t *body, size_t len, const char **code,
                          const char **message, kiln_err *err);

/* Copies at most `max` bytes of `body` into buf as one printable line
 * (control bytes and invalid UTF-8 shown as '?', "..." when cut). */
void kiln_cq_snippet(const uint8_t *body, size_t len, size_t max, char *buf, size_t cap);

/* ---- HTTP (cli_query_http.c) ---------------------------------------------------------- */

typedef struct kiln_cq_conn {
    const char *url;    /* base URL without the trailing '/': http://host:4040[/prefix] */
    const char *tenant; /* X-Scope-OrgID, or NULL */
    int64_t timeout_ms; /* whole request */
    int verbose;        /* 1: one line per call on stderr */
} kiln_cq_conn;

/* What went wrong in a call, for the message and the exit code. */
typedef struct kiln_cq_fail {
    long http_status; /* 0: no answer (connection, timeout) */
    char text[1024];  /* the whole message, without the "kiln query: " prefix */
} kiln_cq_fail;

/* POSTs `req` (a packed protobuf body) to <url>/querier.v1.QuerierService/<method>
 * with Content-Type application/proto, Connect-Protocol-Version 1, the
 * tenant header, Connect-Timeout-Ms and Accept-Encoding (gzip answers are
 * inflated). On HTTP 200 with a proto body, *resp is the malloc'ed body (the
 * caller frees) and 0 is returned; otherwise -1 and `f` says why: a Connect
 * error as "<code>: <message> (HTTP <status> from <url>)", another status
 * with a snippet of the body, or "cannot reach <url>: <curl's error>". */
int kiln_cq_call(const kiln_cq_conn *c, const char *method, const uint8_t *req, size_t req_len,
                 uint8_t **resp, size_t *resp_len, kiln_cq_fail *f);

/* ---- the call tree (cli_query_tree.c) ---------------------------------------------------- */

/* The merged call tree of one sample index, as the query exporter builds
 * it: a frame is a function name (one per line of a location, inlined
 * functions outermost first) or "0x<address>" for a location or line
 * without a function name; nodes are keyed by (parent, frame name), so
 * stacks with the same names merge. Node 0 is the root (no name). After
 * kiln_cq_tree_build, total[i] = self[i] + the totals of i's children and
 * each node's children are sorted by name (strcmp), the order of folded
 * output. Memory: the tree owns its arrays and an arena holding the names. */
typedef struct kiln_cq_tree {
    uint32_t n;            /* nodes, root included */
    uint32_t *parent;      /* [n]; parent[0] = 0 */
    uint32_t *name;        /* [n]; index into names (root: 0, unused) */
    uint32_t *depth;       /* [n]; root 0 */
    int64_t *self, *total; /* [n] */
    uint32_t *coff, *cidx; /* children of i: cidx[coff[i] .. coff[i+1]) */
    const char **names;    /* [n_names] NUL-terminated, in `a` */
    uint32_t n_names;
    kiln_arena *a;
} kiln_cq_tree;

int kiln_cq_tree_build(const kiln_pprof *p, size_t sample_index, kiln_cq_tree *t, kiln_err *err);
void kiln_cq_tree_free(kiln_cq_tree *t);

/* The hottest path: from the root, the child with the largest total (> 0;
 * on a tie the first by name) down to a leaf, as /kiln/v1/findings'
 * hottestPath. *nodes is malloc'ed (caller frees); root not included. */
int kiln_cq_tree_hot_path(const kiln_cq_tree *t, uint32_t **nodes, size_t *n, kiln_err *err);

/* Writes "root;...;leaf <self>\n" for every node with a non-zero self,
 * depth first, children by name. -1 on a write error (errno set). */
int kiln_cq_tree_folded(const kiln_cq_tree *t, FILE *out);

/* pprof's "(inline)" / "(partial-inline)" marks of -top rows: for the rows
 * given (the ones shown; frames of other functions are skipped as pprof
 * skips dropped nodes), marks[i] gets bit 1 when row i has an incoming
 * call edge on which it was always inlined into its caller, bit 2 when it
 * has one on which it was not, counting only edges whose |weight| (the
 * samples through them) reaches edge_cutoff, as pprof trims its graph's
 * edges at -edgefraction (0.001 of the total by default); is_obj[i] = 1 when the row stands for a
 * mapping file (a frame without function name), printed "[base name]".
 * Both arrays have n_rows entries, filled by this call; marks NULL: only
 * is_obj (no pass over the samples). */
int kiln_cq_top_marks(const kiln_pprof *p, size_t sample_index, const kiln_pprof_fn_total *rows,
                      size_t n_rows, int64_t edge_cutoff, uint8_t *marks, uint8_t *is_obj, kiln_err *err);

/* ---- formatting (cli_query_print.c) ------------------------------------------------------ */

/* How values are printed, chosen as pprof's report does it for one report
 * (selectOutputUnit): the unit of the smallest shown value, or one step up
 * when the smallest is under 1% of the total. */
typedef struct kiln_cq_scale {
    int raw;                 /* 1: plain integers, no unit (--raw) */
    const char *sample_unit; /* the profile's unit: "nanoseconds", "bytes", "count" */
    char out_unit[24];       /* pprof's OutputUnit: "s", "MB", the sample unit, or "minimum" */
} kiln_cq_scale;

/* min_v: the smallest non-zero |value| shown (0: no row shown), max_v: the total. */
void kiln_cq_scale_pick(const char *sample_unit, int64_t min_v, int64_t max_v, int raw, kiln_cq_scale *s);
/* pprof's ScaledLabel in the picked unit: "1.20s", "512MB", "0", "-3.50ms", "1234". */
void kiln_cq_fmt_value(int64_t v, const kiln_cq_scale *s, char *buf, size_t cap);
/* pprof's measurement.ScaledLabel(v, from_unit, to_unit) ("auto" or "minimum":
 * each value in its own best unit). */
void kiln_cq_scaled_label(int64_t v, const char *from_unit, const char *to_unit, char *buf, size_t cap);
/* pprof's Percentage: "  100%", "72.73%", " 0.57%", "0.057%". */
void kiln_cq_fmt_pct(int64_t v, int64_t total, char *buf, size_t cap);
/* The last path element in brackets, as pprof names a mapping file node:
 * "[app]", or "<unknown>" for an empty name. */
void kiln_cq_obj_name(const char *file, char *buf, size_t cap);

typedef struct kiln_cq_top_opts {
    long nodecount;      /* 0: every node */
    double nodefraction; /* drop rows whose |cum| < fraction x total */
    int cum;             /* sort by cum */
    int raw;
} kiln_cq_top_opts;

/* Prints a `go tool pprof -top` report of sample index si to `out`. */
int kiln_cq_print_top(FILE *out, const kiln_pprof *p, size_t si, const kiln_cq_top_opts *o, kiln_err *err);

/* Prints the hottest path, then the call tree pruned at nodefraction. */
int kiln_cq_print_tree(FILE *out, const kiln_pprof *p, size_t si, double nodefraction, int raw,
                       kiln_err *err);

/* pprof's header lines: Type, Time, Duration (with Total samples). */
void kiln_cq_print_labels(FILE *out, const kiln_pprof *p, size_t si, int64_t total, const kiln_cq_scale *s);

#endif
