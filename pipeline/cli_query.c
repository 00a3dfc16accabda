/* pipeline/cli_query.c — `kiln query top|tree|folded|pprof`: asks a
 * running kiln (or a Pyroscope server) for the merged profile of a label
 * selector, profile type and time range over Connect (SelectMergeProfile,
 * application/proto), then prints it as `go tool pprof -top` does, as the
 * hottest path and a call tree, as folded stacks, or writes it as a
 * gzip'ed pprof. Without --type, LabelValues(__profile_type__) over the
 * matching series picks the type when there is exactly one (or when all are
 * process_cpu types: the cpu time one).
 *
 * Exit status: 0 done; 1 the server refused, could not be reached, or the
 * output could not be written; 2 usage errors and "choose a --type"; 3 the
 * query matched no profile.
 *
 * Memory: the decoded profile lives in an arena destroyed before return;
 * request and answer buffers are malloc'ed and freed here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <kiln/kiln.h>
#include <kiln/proto/querier.pb-c.h>
#include <kiln/proto/types.pb-c.h>

#include "cli.h"
#include "cli_query.h"

#define CQ_PROFILE_TYPE_LABEL "__profile_type__"

typedef struct cq_opts {
    const char *cmd;
    const char *url;
    const char *query;
    const char *type;
    const char *from, *until;
    const char *tenant;
    const char *out;
    const char *timeout;
    long max_nodes; /* -1: not sent */
    kiln_cq_top_opts top;
    int verbose;
} cq_opts;

static void cq_usage(FILE *f)
{
    fprintf(f,
            "usage: kiln query top|tree|folded|pprof [flags]\n"
            "  --url URL            the server (kiln or Pyroscope), default http://localhost:4040\n"
            "  -q, --query SEL      label selector, default {} (every series); TYPE{...} also sets --type\n"
            "  -t, --type ID        profile type name:sample_type:sample_unit:period_type:period_unit\n"
            "                       (default: the only type of the matching series; of\n"
            "                       process_cpu types only, process_cpu:cpu:nanoseconds:...)\n"
            "  --from T, --until T  now, now-1h, now-30m, now-7d, Unix s or ms, YYYYMMDD, RFC 3339\n"
            "                       (default now-1h .. now)\n"
            "  --tenant T           X-Scope-OrgID (a|b: several tenants, where the server allows it)\n"
            "  -o, --output FILE    write there instead of stdout (pprof: required, - for stdout)\n"
            "  --timeout D          for each request, default 30s\n"
            "  --max-nodes N        sent as max_nodes (Pyroscope may prune the profile to N nodes)\n"
            "  --raw                top, tree: plain integers in the sample unit\n"
            "  --nodecount N        top: rows shown, default 20; 0: all, as go tool pprof -top\n"
            "  --nodefraction F     top, tree: hide nodes whose cum < F x total, default 0.005\n"
            "  --cum                top: sort by cum\n"
            "  -v, --verbose        one line per request on stderr\n"
            "exit status: 0 done, 1 request or output failed, 2 usage or --type needed, 3 no data\n");
}

/* --name VALUE or --name=VALUE; 1 when argv[*i] is that flag (value in *val) */
static int cq_flag(int argc, char **argv, int *i, const char *name, const char *alias, const char **val, int *bad)
{
    const char *a = argv[*i];
    for (int k = 0; k < 2; k++) {
        const char *n = k ? alias : name;
        if (!n) continue;
        size_t l = strlen(n);
        if (strncmp(a, n, l) != 0) continue;
        if (a[l] == '=') {
            *val = a + l + 1;
            return 1;
        }
        if (a[l]) continue;
        if (*i + 1 >= argc) {
            fprintf(stderr, "kiln query: %s needs a value\n", n);
            *bad = 1;
            return 1;
        }
        *val = argv[++*i];
        return 1;
    }
    return 0;
}

static int cq_parse_args(int argc, char **argv, cq_opts *o)
{
    memset(o, 0, sizeof *o);
    o->url = "http://localhost:4040";
    o->query = "{}";
    o->from = "now-1h";
    o->until = "now";
    o->timeout = "30s";
    o->max_nodes = -1;
    o->top.nodecount = 20;
    o->top.nodefraction = 0.005;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int bad = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cq_usage(stdout);
            return 1;
        } else if (!strcmp(a, "--raw")) {
            o->top.raw = 1;
        } else if (!strcmp(a, "--cum")) {
            o->top.cum = 1;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            o->verbose = 1;
        } else if (cq_flag(argc, argv, &i, "--url", NULL, &o->url, &bad) ||
                   cq_flag(argc, argv, &i, "--query", "-q", &o->query, &bad) ||
                   cq_flag(argc, argv, &i, "--type", "-t", &o->type, &bad) ||
                   cq_flag(argc, argv, &i, "--from", NULL, &o->from, &bad) ||
                   cq_flag(argc, argv, &i, "--until", "--to", &o->until, &bad) ||
                   cq_flag(argc, argv, &i, "--tenant", NULL, &o->tenant, &bad) ||
                   cq_flag(argc, argv, &i, "--output", "-o", &o->out, &bad) ||
                   cq_flag(argc, argv, &i, "--timeout", NULL, &o->timeout, &bad)) {
            if (bad) return -1;
        } else if (cq_flag(argc, argv, &i, "--max-nodes", NULL, &v, &bad) ||
                   cq_flag(argc, argv, &i, "--nodecount", NULL, &v, &bad)) {
            if (bad) return -1;
            char *end;
            errno = 0;
            long n = strtol(v, &end, 10);
            if (errno || end == v || *end || n < 0) {
                fprintf(stderr, "kiln query: %s: \"%s\" is not a count >= 0\n", a, v);
                return -1;
            }
            if (!strncmp(a, "--max-nodes", 11)) o->max_nodes = n;
            else o->top.nodecount = n;
        } else if (cq_flag(argc, argv, &i, "--nodefraction", NULL, &v, &bad)) {
            if (bad) return -1;
            char *end;
            double f = strtod(v, &end);
            if (end == v || *end || !(f >= 0 && f <= 1)) {
                fprintf(stderr, "kiln query: --nodefraction: \"%s\" is not a fraction in [0, 1]\n", v);
                return -1;
            }
            o->top.nodefraction = f;
        } else if (a[0] != '-' && !o->cmd) {
            o->cmd = a;
        } else {
            fprintf(stderr, "kiln query: unknown argument \"%s\"\n", a);
            return -1;
        }
    }
    if (!o->cmd) {
        fprintf(stderr, "kiln query: which report? top, tree, folded or pprof\n");
        return -1;
    }
    if (strcmp(o->cmd, "top") && strcmp(o->cmd, "tree") && strcmp(o->cmd, "folded") && strcmp(o->cmd, "pprof")) {
        fprintf(stderr, "kiln query: unknown report \"%s\" (top, tree, folded, pprof)\n", o->cmd);
        return -1;
    }
    if (!strcmp(o->cmd, "pprof") && !o->out) {
        fprintf(stderr, "kiln query pprof: -o FILE is required (- for stdout)\n");
        return -1;
    }
    if (!*o->url) {
        fprintf(stderr, "kiln query: --url is empty\n");
        return -1;
    }
    return 0;
}

static int64_t cq_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Calls `method` with a packed message; on failure prints the reason. */
static int cq_rpc(const kiln_cq_conn *c, const char *method, const ProtobufCMessage *req, uint8_t **resp,
                  size_t *resp_len)
{
    size_t n = protobuf_c_message_get_packed_size(req);
    uint8_t *body = malloc(n ? n : 1);
    if (!body) {
        fprintf(stderr, "kiln query: out of memory\n");
        return -1;
    }
    protobuf_c_message_pack(req, body);
    kiln_cq_fail f;
    int rc = kiln_cq_call(c, method, body, n, resp, resp_len, &f);
    free(body);
    if (rc != 0) fprintf(stderr, "kiln query: %s\n", f.text);
    return rc;
}

static void cq_no_data(const cq_opts *o, const char *type, int64_t from, int64_t until)
{
    char a[40], b[40];
    kiln_cq_fmt_time(from, a, sizeof a);
    kiln_cq_fmt_time(until, b, sizeof b);
    fprintf(stderr, "kiln query: no data: no profile%s%s matches %s between %s and %s (tenant %s)\n",
            type ? " of type " : "", type ? type : "", o->query, a, b, o->tenant ? o->tenant : "the server's default");
}

/* --type omitted: the profile types of the matching series; 0 when exactly one. */
static int cq_pick_type(const kiln_cq_conn *c, const cq_opts *o, int64_t from, int64_t until, char **type)
{
    Types__V1__LabelValuesRequest req = TYPES__V1__LABEL_VALUES_REQUEST__INIT;
    char *matchers[1] = {(char *)o->query};
    req.name = (char *)CQ_PROFILE_TYPE_LABEL;
    req.n_matchers = 1;
    req.matchers = matchers;
    req.start = from;
    req.end = until;
    uint8_t *resp;
    size_t n;
    if (cq_rpc(c, "LabelValues", &req.base, &resp, &n) != 0) return KILN_CQ_EXIT_FAIL;
    Types__V1__LabelValuesResponse *lv = types__v1__label_values_response__unpack(NULL, n, resp);
    free(resp);
    if (!lv) {
        fprintf(stderr, "kiln query: %s/querier.v1.QuerierService/LabelValues: the answer is not a "
                        "LabelValuesResponse\n", o->url);
        return KILN_CQ_EXIT_FAIL;
    }
    int rc;
    const char *pick = lv->n_names == 1 ? lv->names[0] : NULL;
    /* a Go CPU profile always has two types (cpu time and sample count):
     * when every candidate is a process_cpu type, take the cpu time, as
     * Pyroscope's UI does */
    static const char cpu_time[] = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
    int all_cpu = lv->n_names > 1, has_time = 0;
    for (size_t i = 0; i < lv->n_names; i++) {
        all_cpu &= !strncmp(lv->names[i], "process_cpu:", 12);
        has_time |= !strcmp(lv->names[i], cpu_time);
    }
    if (!pick && all_cpu && has_time) {
        pick = cpu_time;
        fprintf(stderr, "kiln query: profile type %s (of %zu; --type chooses another)\n", pick, lv->n_names);
    }
    if (pick) {
        *type = strdup(pick);
        rc = *type ? KILN_CQ_EXIT_OK : KILN_CQ_EXIT_FAIL;
    } else if (lv->n_names == 0) {
        cq_no_data(o, NULL, from, until);
        rc = KILN_CQ_EXIT_NO_DATA;
    } else {
        fprintf(stderr, "kiln query: the series matching %s have %zu profile types; choose one with --type:\n",
                o->query, lv->n_names);
        for (size_t i = 0; i < lv->n_names; i++) fprintf(stderr, "  %s\n", lv->names[i]);
        rc = KILN_CQ_EXIT_USAGE;
    }
    types__v1__label_values_response__free_unpacked(lv, NULL);
    return rc;
}

/* The sample type of a profile type id (its second field), copied into buf. */
static const char *cq_sample_type(const char *id, char *buf, size_t cap)
{
    const char *a = strchr(id, ':');
    if (!a) return NULL;
    const char *b = strchr(a + 1, ':');
    size_t n = b ? (size_t)(b - a - 1) : strlen(a + 1);
    if (n >= cap) return NULL;
    memcpy(buf, a + 1, n);
    buf[n] = 0;
    return buf;
}

static int cq_write_all(FILE *f, const uint8_t *p, size_t n) { return fwrite(p, 1, n, f) == n ? 0 : -1; }

static int cq_report(const cq_opts *o, const kiln_pprof *p, size_t si)
{
    int to_stdout = !o->out || !strcmp(o->out, "-");
    if (!strcmp(o->cmd, "pprof") && to_stdout && isatty(STDOUT_FILENO)) {
        fprintf(stderr, "kiln query pprof: not writing a binary profile to a terminal; use -o FILE\n");
        return KILN_CQ_EXIT_USAGE;
    }
    FILE *f = to_stdout ? stdout : fopen(o->out, "wb");
    if (!f) {
        fprintf(stderr, "kiln query: cannot write %s: %s\n", o->out, strerror(errno));
        return KILN_CQ_EXIT_FAIL;
    }
    kiln_err err;
    kiln_err_clear(&err);
    int rc = KILN_OK, werr = 0;
    if (!strcmp(o->cmd, "top")) {
        rc = kiln_cq_print_top(f, p, si, &o->top, &err);
    } else if (!strcmp(o->cmd, "tree")) {
        rc = kiln_cq_print_tree(f, p, si, o->top.nodefraction, o->top.raw, &err);
    } else if (!strcmp(o->cmd, "folded")) {
        kiln_cq_tree t;
        rc = kiln_cq_tree_build(p, si, &t, &err);
        if (rc == KILN_OK) {
            werr = kiln_cq_tree_folded(&t, f) != 0;
            kiln_cq_tree_free(&t);
        }
    } else {
        uint8_t *gz;
        size_t n;
        rc = kiln_pprof_encode(p, 6, &gz, &n, &err);
        if (rc == KILN_OK) {
            werr = cq_write_all(f, gz, n) != 0;
            free(gz);
        }
    }
    if (fflush(f) != 0 || ferror(f)) werr = 1;
    if (!to_stdout && fclose(f) != 0) werr = 1;
    if (rc != KILN_OK) {
        fprintf(stderr, "kiln query %s: %s\n", o->cmd, err.msg);
        return KILN_CQ_EXIT_FAIL;
    }
    if (werr) {
        fprintf(stderr, "kiln query: cannot write %s: %s\n", to_stdout ? "stdout" : o->out, strerror(errno));
        return KILN_CQ_EXIT_FAIL;
    }
    return KILN_CQ_EXIT_OK;
}

static int cq_run(const cq_opts *o)
{
    kiln_err err;
    kiln_err_clear(&err);
    int64_t now = cq_now_ms(), from, until, timeout;
    if (kiln_cq_parse_time(o->from, now, &from, &err) != KILN_OK) {
        fprintf(stderr, "kiln query: --from: %s\n", err.msg);
        return KILN_CQ_EXIT_USAGE;
    }
    if (kiln_cq_parse_time(o->until, now, &until, &err) != KILN_OK) {
        fprintf(stderr, "kiln query: --until: %s\n", err.msg);
        return KILN_CQ_EXIT_USAGE;
    }
    if (from > until) {
        fprintf(stderr, "kiln query: --from (%s) is after --until (%s)\n", o->from, o->until);
        return KILN_CQ_EXIT_USAGE;
    }
    if (kiln_cq_parse_duration(o->timeout, &timeout, &err) != KILN_OK) {
        fprintf(stderr, "kiln query: --timeout: %s\n", err.msg);
        return KILN_CQ_EXIT_USAGE;
    }
    /* the base URL without trailing slashes */
    size_t ul = strlen(o->url);
    while (ul > 1 && o->url[ul - 1] == '/') ul--;
    char *url = strndup(o->url, ul);
    /* "TYPE{selector}" in --query also gives the type */
    const char *sel = o->query;
    char *type = NULL;
    const char *brace = strchr(o->query, '{');
    if (brace && brace != o->query) {
        if (o->type) {
            fprintf(stderr, "kiln query: both --type and a type before { in --query\n");
            free(url);
            return KILN_CQ_EXIT_USAGE;
        }
        type = strndup(o->query, (size_t)(brace - o->query));
        sel = brace;
    } else if (o->type) {
        type = strdup(o->type);
    }
    cq_opts o2 = *o;
    o2.query = sel;
    kiln_cq_conn c = {url, o->tenant, timeout, o->verbose};
    int rc = KILN_CQ_EXIT_OK;
    uint8_t *resp = NULL;
    size_t n = 0;
    kiln_arena *a = NULL;
    if (!url) {
        rc = KILN_CQ_EXIT_FAIL;
        goto out;
    }
    if (!type && (rc = cq_pick_type(&c, &o2, from, until, &type)) != KILN_CQ_EXIT_OK) goto out;
    if (o->verbose) fprintf(stderr, "kiln query: profile type %s, selector %s\n", type, sel);

    Querier__V1__SelectMergeProfileRequest req = QUERIER__V1__SELECT_MERGE_PROFILE_REQUEST__INIT;
    req.profile_typeid = type;
    req.label_selector = (char *)sel;
    req.has_start = req.has_end = 1;
    req.start = from;
    req.end = until;
    if (o->max_nodes >= 0) {
        req.has_max_nodes = 1;
        req.max_nodes = o->max_nodes;
    }
    if (cq_rpc(&c, "SelectMergeProfile", &req.base, &resp, &n) != 0) {
        rc = KILN_CQ_EXIT_FAIL;
        goto out;
    }
    a = kiln_arena_new(n + 4096);
    kiln_pprof *p = NULL;
    kiln_pprof_limits lim = {(size_t)1 << 30};
    if (!a || kiln_pprof_decode(a, resp, n, &lim, &p, &err) != KILN_OK) {
        fprintf(stderr, "kiln query: the profile from %s/querier.v1.QuerierService/SelectMergeProfile is not "
                        "a valid pprof: %s\n", url, a ? err.msg : "out of memory");
        rc = KILN_CQ_EXIT_FAIL;
        goto out;
    }
    if (!p->n_sample || !p->n_sample_type) {
        cq_no_data(&o2, type, from, until);
        rc = KILN_CQ_EXIT_NO_DATA;
        goto out;
    }
    char st[256];
    const char *stype = cq_sample_type(type, st, sizeof st);
    int si = stype ? kiln_pprof_sample_index(p, stype) : -1;
    if (si < 0) si = kiln_pprof_sample_index(p, NULL);
    rc = cq_report(&o2, p, (size_t)si);
out:
    free(resp);
    kiln_arena_destroy(a);
    free(type);
    free(url);
    return rc;
}

int kiln_cli_query(int argc, char **argv)
{
    cq_opts o;
    int rc = cq_parse_args(argc, argv, &o);
    if (rc > 0) return KILN_CQ_EXIT_OK;
    if (rc < 0) {
        cq_usage(stderr);
        return KILN_CQ_EXIT_USAGE;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "kiln query: libcurl failed to initialise\n");
        return KILN_CQ_EXIT_FAIL;
    }
    rc = cq_run(&o);
    curl_global_cleanup();
    return rc;
}
