/* exporters/query/query.c — the `query` exporter plugin: Pyroscope's query
 * API over the store the blocks exporter writes.
 *
 * It sits in a pipeline only to share the config; consume() takes nothing
 * (the data comes from the store). At create it registers, on `endpoint`
 * (":4040" by default, the pprof receiver's listener):
 *   POST /querier.v1.QuerierService/<Method>   Connect unary, proto or JSON
 *   POST /settings.v1.SettingsService/Get      empty settings (Grafana asks)
 *   GET  /pyroscope/render, /pyroscope/render-diff, /pyroscope/label-values,
 *        /pyroscope/labels, /kiln/v1/findings  (qlegacy.c)
 *   GET  /, /ui/<file>                         the web UI (qstatic.c; `ui`, `ui_dir`)
 *
 * Flow of a request:
 *   loop thread  q_handle: copy the headers and parameters the route reads,
 *                take the body, hand a job to a worker (work())
 *   worker       q_work: tenants from X-Scope-OrgID, decode, run the query
 *                over the store, encode (gzip when asked), build the reply
 *   loop thread  q_answer (loop_call): headers, http_reply, counters
 *
 * Memory: a job owns its copied strings, the body and the reply buffer; it
 * is freed after the answer. The state owns the store (and with it the
 * object store); destroy frees it after shutdown waited for the jobs.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libdeflate.h>

#include "qstatic.h"
#include "query.h"

typedef struct q_cfg {
    char *endpoint;
    kiln_blocks_storage storage;
    char *wal_dir;
    int64_t sync_interval;
    int64_t max_nodes_default;
    int64_t max_nodes_max;
    int64_t max_query_length;
    int64_t max_request_body_size;
    char *tenant_header;
    char *default_tenant;
    int ui;
    char *ui_dir;
} q_cfg;

static const kiln_cfg_field q_fields[] = {
    {"endpoint", KILN_CFG_STRING, ":4040", offsetof(q_cfg, endpoint),
     "host:port serving the query API (shared with components naming the same endpoint, e.g. "
     "the pprof receiver)",
     0, 0, 0, NULL},
    KILN_BLOCKS_STORAGE_FIELDS("storage.", q_cfg, storage),
    {"wal_dir", KILN_CFG_STRING, "./data/wal", offsetof(q_cfg, wal_dir),
     "the blocks exporter's wal_dir: profiles not yet in a block are read from it (read-only); "
     "empty: blocks only",
     0, 0, 0, NULL},
    {"sync_interval", KILN_CFG_DURATION, "10s", offsetof(q_cfg, sync_interval),
     "how often a tenant's block listing is refreshed (the WAL is read before every query)", 0, 0,
     86400e9, NULL},
    {"max_nodes_default", KILN_CFG_INT, "8192", offsetof(q_cfg, max_nodes_default),
     "flame graph nodes when a request gives no max_nodes (Pyroscope's "
     "max_flamegraph_nodes_default)",
     0, 1, 1e9, NULL},
    {"max_nodes_max", KILN_CFG_INT, "1048576", offsetof(q_cfg, max_nodes_max),
     "largest max_nodes a request may ask for (Pyroscope's max_flamegraph_nodes_max)", 0, 1, 1e9,
     NULL},
    {"max_query_length", KILN_CFG_DURATION, "7d1h", offsetof(q_cfg, max_query_length),
     "longest time range one query may cover; 0s: no limit", 0, 0, 3650 * 86400e9, NULL},
    {"max_request_body_size", KILN_CFG_BYTES, "4MiB", offsetof(q_cfg, max_request_body_size),
     "largest Connect request body (after gunzip); larger ones get resource_exhausted", 0, 1024,
     1073741824.0, NULL},
    {"tenant_header", KILN_CFG_STRING, "X-Scope-OrgID", offsetof(q_cfg, tenant_header),
     "request header naming the tenant(s) to read; `a|b` reads both", 0, 0, 0, NULL},
    {"default_tenant", KILN_CFG_STRING, KILN_TENANT_DEFAULT, offsetof(q_cfg, default_tenant),
     "tenant of requests without the header (Pyroscope: anonymous)", 0, 0, 0, NULL},
    {"ui", KILN_CFG_BOOL, "true", offsetof(q_cfg, ui),
     "serve the web UI on the endpoint: GET / and /ui/ (flame graph, top functions, diff, timeline)",
     0, 0, 0, NULL},
    {"ui_dir", KILN_CFG_STRING, "", offsetof(q_cfg, ui_dir),
     "empty: serve the UI embedded in the plugin at build time; else serve it from this directory "
     "(a checkout's web/ with its node_modules, for UI development)",
     0, 0, 0, NULL},
    {NULL, 0, NULL, 0, NULL, 0, 0, 0, NULL}};

enum { C_2XX, C_4XX, C_5XX, C_N };

typedef struct q_state {
    kiln_host *host;
    const q_cfg *cfg;
    kq_store *store;
    kq_limits lim;
    atomic_int stopping;
    atomic_long inflight;
    kiln_counter *requests[C_N];
    kiln_counter *query_us;
} q_state;

/* Route kinds: Connect methods 0..KQ_M_COUNT-1, then these. */
enum { RK_SETTINGS = KQ_M_COUNT, RK_LEGACY = KQ_M_COUNT + 1 };

enum { H_TENANT, H_CTYPE, H_CENC, H_ACCEPT_ENC, H_PROTO_VERSION, H_N };

typedef struct q_route {
    q_state *st;
    int kind;
    int legacy; /* KQ_R_* when kind == RK_LEGACY */
} q_route;

typedef struct q_job {
    q_state *st;
    const q_route *rt;
    kiln_http_req *req;
    const char *hdr[H_N];
    const char *prm[KQ_P_COUNT];
    uint8_t *body;
    size_t len;
    int64_t t0;
    kq_reply rep;
    int gzipped;
} q_job;

/* ---- answers (loop thread) ------------------------------------------------------------- */

static void q_count(q_state *st, int status, int64_t t0)
{
    kiln_counter_add(st->requests[status < 400 ? C_2XX : status < 500 ? C_4XX : C_5XX], 1);
    int64_t us = (kiln_now_mono_ns() - t0) / 1000;
    kiln_counter_add(st->query_us, us > 0 ? (uint64_t)us : 0);
}

static void q_job_free(q_job *j)
{
    free(j->body);
    kiln_query_buf_free(&j->rep.body);
    free(j);
}

static void q_answer(void *arg)
{
    q_job *j = arg;
    kiln_host *h = j->st->host;
    if (j->rep.disposition) h->vt->http_set_header(j->req, "Content-Disposition", j->rep.disposition);
    if (j->gzipped) h->vt->http_set_header(j->req, "Content-Encoding", "gzip");
    q_count(j->st, j->rep.status, j->t0);
    h->vt->http_reply(j->req, j->rep.status, j->rep.ctype, j->rep.body.p, j->rep.body.n);
    q_job_free(j);
}

/* ---- the work (worker thread) ------------------------------------------------------------ */

static int has_token(const char *list, const char *tok)
{
    if (!list) return 0;
    size_t tl = strlen(tok);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ';') e++;
        size_t l = (size_t)(e - p);
        while (l && p[l - 1] == ' ') l--;
        if (l == tl && !strncasecmp(p, tok, tl)) return 1;
        while (*e && *e != ',') e++;
        p = e;
    }
    return 0;
}

/* Gzips the reply body when the client accepts it and it is worth it. */
static void maybe_gzip(q_job *j)
{
    if (j->rep.body.n < 1024 || !has_token(j->hdr[H_ACCEPT_ENC], "gzip")) return;
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(4);
    if (!c) return;
    size_t cap = libdeflate_gzip_compress_bound(c, j->rep.body.n);
    char *out = malloc(cap);
    size_t n = out ? libdeflate_gzip_compress(c, j->rep.body.p, j->rep.body.n, out, cap) : 0;
    libdeflate_free_compressor(c);
    if (!n) {
        free(out);
        return;
    }
    free(j->rep.body.p);
    j->rep.body.p = out;
    j->rep.body.n = n;
    j->rep.body.cap = cap;
    j->gzipped = 1;
}

/* Connect error reply. */
static void connect_fail(q_job *j, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void connect_fail(q_job *j, const char *code, const char *fmt, ...)
{
    char msg[KILN_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kiln_query_buf_free(&j->rep.body);
    kiln_query_connect_error(&j->rep.body, code, msg);
    j->rep.status = kiln_query_connect_http(code);
    j->rep.ctype = "application/json";
}

/* An empty profile with the requested type (nothing matched). */
static int empty_profile(kiln_arena *a, const kq_req *r, kiln_pprof **out, kiln_err *err)
{
    kq_ptype pt;
    int rc = kiln_query_ptype_parse(r->ptype ? r->ptype : "", &pt, err);
    if (rc != KILN_OK) return rc;
    kiln_pprof *p = kiln_arena_calloc(a, sizeof *p);
    char **st = kiln_arena_alloc(a, 5 * sizeof *st);
    kiln_pprof_value_type *vt = kiln_arena_calloc(a, 2 * sizeof *vt);
    kiln_pprof_value_type **vtp = kiln_arena_alloc(a, sizeof *vtp);
    if (!p || !st || !vt || !vtp) {
        kiln_query_ptype_free(&pt);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    perftools__profiles__profile__init(p);
    perftools__profiles__value_type__init(&vt[0]);
    perftools__profiles__value_type__init(&vt[1]);
    const char *s[5] = {"", pt.sample_type, pt.sample_unit, pt.period_type, pt.period_unit};
    for (int i = 0; i < 5; i++) st[i] = kiln_arena_strndup(a, s[i], strlen(s[i]));
    kiln_query_ptype_free(&pt);
    vt[0].type = 1;
    vt[0].unit = 2;
    vt[1].type = 3;
    vt[1].unit = 4;
    vtp[0] = &vt[0];
    p->n_sample_type = 1;
    p->sample_type = vtp;
    p->period_type = &vt[1];
    p->n_string_table = 5;
    p->string_table = st;
    *out = p;
    return KILN_OK;
}

/* Runs one Connect method; fills res. */
static int run_method(q_state *st, kq_exec *x, int m, kq_req *r, kq_result *res, kiln_err *err)
{
    int rc = KILN_OK;
    int64_t mn;
    res->method = m;
    switch (m) {
    case KQ_M_PROFILE_TYPES:
        return kiln_query_exec_labels(x, r, KQ_PROFILE_TYPES, &res->strs, &res->n_strs, err);
    case KQ_M_LABEL_NAMES:
        return kiln_query_exec_labels(x, r, KQ_LABEL_NAMES, &res->strs, &res->n_strs, err);
    case KQ_M_LABEL_VALUES:
        return kiln_query_exec_labels(x, r, KQ_LABEL_VALUES, &res->strs, &res->n_strs, err);
    case KQ_M_SERIES: return kiln_query_exec_series_labels(x, r, &res->lsets, &res->n_lsets, err);
    case KQ_M_SELECT_MERGE_STACKTRACES:
    case KQ_M_SELECT_MERGE_SPAN_PROFILE: {
        if (r->format == KQ_FMT_TREE || r->format == KQ_FMT_DOT) {
            /* Pyroscope's tree bytes or a DOT graph, from the merged profile;
             * DOT shows pprof's default 80 nodes unless max_nodes says */
            if ((rc = kiln_query_max_nodes(&st->lim, r, &mn, err)) != KILN_OK) return rc;
            if (r->format == KQ_FMT_DOT && !(r->has_max_nodes && r->max_nodes > 0)) mn = 80;
            if (!(res->arena = kiln_arena_new(0))) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
            if ((rc = kiln_query_exec_pprof(x, r, res->arena, &res->prof, err)) != KILN_OK) return rc;
            res->text_format = r->format;
            return r->format == KQ_FMT_TREE ? kiln_query_pprof_tree_bytes(res->prof, mn, &res->text, err)
                                             : kiln_query_pprof_dot(res->prof, mn, &res->text, err);
        }
        if (r->format == KQ_FMT_PPROF && m == KQ_M_SELECT_MERGE_STACKTRACES) {
            /* the merged profile in the response's `pprof` field */
            if (!(res->arena = kiln_arena_new(0))) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
            if ((rc = kiln_query_exec_pprof(x, r, res->arena, &res->prof, err)) != KILN_OK) return rc;
            if (!res->prof) rc = empty_profile(res->arena, r, &res->prof, err);
            res->pprof_field = 1;
            return rc;
        }
        if ((rc = kiln_query_max_nodes(&st->lim, r, &mn, err)) != KILN_OK) return rc;
        if ((rc = kiln_query_tree_init(&res->tree, 1, err)) != KILN_OK) return rc;
        res->have_tree = 1;
        if ((rc = kiln_query_exec_tree(x, r, &res->tree, 0, err)) != KILN_OK ||
            (rc = kiln_query_tree_finish(&res->tree, err)) != KILN_OK)
            return rc;
        if (r->n_call_site) {
            kq_tree f;
            if ((rc = kiln_query_tree_callsite(&res->tree, (const char *const *)r->call_site,
                                               r->n_call_site, &f, err)) != KILN_OK) {
                kiln_query_tree_free(&f);
                return rc;
            }
            kiln_query_tree_free(&res->tree);
            res->tree = f;
            if ((rc = kiln_query_tree_finish(&res->tree, err)) != KILN_OK) return rc;
        }
        return kiln_query_flame(&res->tree, mn, &res->flame, err);
    }
    case KQ_M_SELECT_MERGE_PROFILE:
        if (!(res->arena = kiln_arena_new(0))) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
        if ((rc = kiln_query_exec_pprof(x, r, res->arena, &res->prof, err)) != KILN_OK) return rc;
        if (!res->prof) return empty_profile(res->arena, r, &res->prof, err);
        /* cut to max_nodes only when the request asks (the whole profile otherwise) */
        if (r->has_max_nodes && r->max_nodes > 0) {
            if ((rc = kiln_query_max_nodes(&st->lim, r, &mn, err)) != KILN_OK) return rc;
            rc = kiln_query_pprof_truncate(res->prof, mn, res->arena, err);
        }
        return rc;
    case KQ_M_SELECT_SERIES:
        return kiln_query_exec_select_series(x, r, &res->series, &res->n_series, err);
    case KQ_M_DIFF: {
        if (!r->left || !r->right) return kiln_err_set(err, KILN_EINVAL, "Diff: left and right are required");
        if (!r->left->ptype || !r->right->ptype || strcmp(r->left->ptype, r->right->ptype))
            return kiln_err_set(err, KILN_EINVAL, "Diff: left and right must have the same profile_typeID");
        if ((rc = kiln_query_max_nodes(&st->lim, r->left, &mn, err)) != KILN_OK) return rc;
        if ((rc = kiln_query_tree_init(&res->tree, 2, err)) != KILN_OK) return rc;
        res->have_tree = 1;
        if ((rc = kiln_query_exec_tree(x, r->left, &res->tree, 0, err)) != KILN_OK) {
            kiln_err_prefix(err, "left");
            return rc;
        }
        if ((rc = kiln_query_exec_tree(x, r->right, &res->tree, 1, err)) != KILN_OK) {
            kiln_err_prefix(err, "right");
            return rc;
        }
        if ((rc = kiln_query_tree_finish(&res->tree, err)) != KILN_OK) return rc;
        return kiln_query_flame(&res->tree, mn, &res->flame, err);
    }
    case KQ_M_GET_PROFILE_STATS:
        return kiln_query_exec_stats(x, &res->stats_any, &res->stats_oldest, &res->stats_newest, err);
    default: return kiln_err_set(err, KILN_ENOTFOUND, "unknown method");
    }
}

/* The media type of a Content-Type value, without parameters. */
static int ctype_is(const char *ct, const char *want)
{
    if (!ct) return 0;
    size_t l = strlen(want);
    while (*ct == ' ') ct++;
    return !strncasecmp(ct, want, l) && (ct[l] == 0 || ct[l] == ';' || ct[l] == ' ');
}

static void do_connect(q_job *j, kq_exec *x)
{
    q_state *st = j->st;
    int m = j->rt->kind;
    int json;
    if (ctype_is(j->hdr[H_CTYPE], "application/proto")) json = 0;
    else if (ctype_is(j->hdr[H_CTYPE], "application/json")) json = 1;
    else {
        j->rep.status = 415;
        j->rep.ctype = "text/plain; charset=utf-8";
        kiln_query_buf_puts(&j->rep.body, "unsupported content type: use application/proto or application/json\n");
        return;
    }
    if (j->hdr[H_PROTO_VERSION] && strcmp(j->hdr[H_PROTO_VERSION], "1")) {
        connect_fail(j, "invalid_argument", "connect-protocol-version must be \"1\": got \"%.20s\"",
                     j->hdr[H_PROTO_VERSION]);
        return;
    }
    const uint8_t *body = j->body;
    size_t len = j->len;
    kiln_arena *a = NULL;
    kiln_err err;
    kiln_err_clear(&err);
    const char *ce = j->hdr[H_CENC];
    if (ce && *ce && strcasecmp(ce, "identity")) {
        if (strcasecmp(ce, "gzip")) {
            connect_fail(j, "unimplemented", "unknown compression \"%.20s\": supported: gzip", ce);
            return;
        }
        uint8_t *raw;
        size_t rl;
        a = kiln_arena_new(len * 4 + 1024);
        int rc = a ? kiln_gunzip(a, body, len, (size_t)st->cfg->max_request_body_size, &raw, &rl, &err)
                   : kiln_err_set(&err, KILN_ENOMEM, "out of memory");
        if (rc != KILN_OK) {
            kiln_arena_destroy(a);
            if (rc == KILN_ETOOBIG)
                connect_fail(j, "resource_exhausted", "message is larger than configured max %" PRId64,
                             st->cfg->max_request_body_size);
            else
                connect_fail(j, "invalid_argument", "gzip: %s", err.msg);
            return;
        }
        body = raw;
        len = rl;
    }
    if ((int64_t)len > st->cfg->max_request_body_size) {
        kiln_arena_destroy(a);
        connect_fail(j, "resource_exhausted", "message size %zu is larger than configured max %" PRId64,
                     len, st->cfg->max_request_body_size);
        return;
    }
    kq_req r;
    int rc = json ? kiln_query_decode_json(m, body, len, &r, &err)
                  : kiln_query_decode_proto(m, body, len, &r, &err);
    kiln_arena_destroy(a);
    if (rc != KILN_OK) {
        connect_fail(j, kiln_query_connect_code(rc), "%s", err.msg);
        return;
    }
    kq_result res;
    memset(&res, 0, sizeof res);
    rc = run_method(st, x, m, &r, &res, &err);
    if (rc == KILN_OK) rc = kiln_query_encode(&res, json, &j->rep.body, &err);
    kiln_query_result_free(&res);
    kiln_query_req_free(&r);
    if (rc != KILN_OK) {
        if (rc == KILN_ENOTFOUND && !strncmp(err.msg, "format", 6))
            connect_fail(j, "unimplemented", "%s", err.msg);
        else
            connect_fail(j, kiln_query_connect_code(rc), "%s", err.msg);
        if (rc != KILN_EINVAL)
            kiln_log_warn(st->host, "msg=\"query failed\" method=%s err=\"%s\"",
                          kiln_query_method_names[m], err.msg);
        return;
    }
    j->rep.status = 200;
    j->rep.ctype = json ? "application/json" : "application/proto";
}

static void q_work(void *arg)
{
    q_job *j = arg;
    q_state *st = j->st;
    kiln_err err;
    kiln_err_clear(&err);
    char **tenants = NULL;
    size_t nt = 0;
    j->rep.status = 200;
    if (kiln_query_tenants(j->hdr[H_TENANT], st->cfg->default_tenant, &tenants, &nt, &err) != KILN_OK) {
        kiln_err_prefix(&err, "%s", st->cfg->tenant_header);
        if (j->rt->kind == RK_LEGACY) kiln_query_reply_error(&j->rep, KILN_EINVAL, &err);
        else connect_fail(j, "invalid_argument", "%s", err.msg);
    } else {
        kq_exec x = {st->store, tenants, nt, &st->lim, kiln_now_unix_ns()};
        if (j->rt->kind == RK_LEGACY) {
            kiln_query_legacy(j->rt->legacy, &x, j->prm, &j->rep);
        } else if (j->rt->kind == RK_SETTINGS) {
            j->rep.status = 200;
            if (ctype_is(j->hdr[H_CTYPE], "application/json")) {
                j->rep.ctype = "application/json";
                kiln_query_buf_puts(&j->rep.body, "{}");
            } else {
                j->rep.ctype = "application/proto";
            }
        } else {
            do_connect(j, &x);
        }
    }
    kiln_query_strv_free(tenants, nt);
    if (j->rep.body.oom) {
        kiln_err e;
        kiln_err_set(&e, KILN_ENOMEM, "out of memory building the answer");
        kiln_query_reply_error(&j->rep, KILN_ENOMEM, &e);
    }
    if (j->rep.status == 200) maybe_gzip(j);
    kiln_host *h = st->host;
    if (h->vt->loop_call(h, q_answer, j) != KILN_OK)
        kiln_log_error(h, "msg=\"cannot schedule the answer on the loop thread\"");
    atomic_fetch_sub(&st->inflight, 1); /* j may be gone already */
}

/* ---- the handler (loop thread) ----------------------------------------------------------------- */

static void q_reply_now(q_state *st, kiln_http_req *req, int status, const char *code, const char *msg)
{
    kq_buf b = {0};
    kiln_query_connect_error(&b, code, msg);
    q_count(st, status, kiln_now_mono_ns());
    st->host->vt->http_reply(req, status, "application/json", b.p, b.n);
    kiln_query_buf_free(&b);
}

static void q_handle(kiln_http_req *req, void *arg)
{
    const q_route *rt = arg;
    q_state *st = rt->st;
    kiln_host *h = st->host;
    if (atomic_load(&st->stopping)) {
        q_reply_now(st, req, 503, "unavailable", "the query service is shutting down");
        return;
    }
    const char *hv[H_N], *pv[KQ_P_COUNT];
    static const char *const hnames[H_N] = {NULL, "Content-Type", "Content-Encoding", "Accept-Encoding",
                                            "Connect-Protocol-Version"};
    size_t total = 0;
    for (int i = 0; i < H_N; i++) {
        hv[i] = h->vt->http_header(req, i == H_TENANT ? st->cfg->tenant_header : hnames[i]);
        if (hv[i]) total += strlen(hv[i]) + 1;
    }
    for (int i = 0; i < KQ_P_COUNT; i++) {
        pv[i] = rt->kind == RK_LEGACY ? h->vt->http_query(req, kiln_query_param_names[i]) : NULL;
        if (pv[i]) total += strlen(pv[i]) + 1;
    }
    q_job *j = calloc(1, sizeof *j + total);
    if (!j) {
        q_reply_now(st, req, 500, "internal", "out of memory");
        return;
    }
    char *tail = (char *)(j + 1);
    for (int i = 0; i < H_N + KQ_P_COUNT; i++) {
        const char *v = i < H_N ? hv[i] : pv[i - H_N];
        if (!v) continue;
        size_t l = strlen(v);
        memcpy(tail, v, l + 1);
        if (i < H_N) j->hdr[i] = tail;
        else j->prm[i - H_N] = tail;
        tail += l + 1;
    }
    j->st = st;
    j->rt = rt;
    j->req = req;
    j->t0 = kiln_now_mono_ns();
    if (rt->kind != RK_LEGACY && h->vt->http_body(req, 1, &j->body, &j->len) != KILN_OK) {
        free(j);
        q_reply_now(st, req, 500, "internal", "out of memory taking the request body");
        return;
    }
    atomic_fetch_add(&st->inflight, 1);
    if (h->vt->work(h, q_work, j) != KILN_OK) {
        atomic_fetch_sub(&st->inflight, 1);
        q_job_free(j);
        q_reply_now(st, req, 503, "unavailable", "no worker can take the query now, retry later");
    }
}

/* ---- lifecycle -------------------------------------------------------------------------------- */

typedef struct q_plugin {
    q_state st;
    q_route routes[KQ_M_COUNT + 1 + KQ_R_COUNT];
    kq_ui *ui; /* the web UI (qstatic.c); NULL when `ui: false` */
} q_plugin;

static int q_validate(const void *vcfg, const kiln_node *node, kiln_err *err)
{
    const q_cfg *cfg = vcfg;
    const kiln_node *n;
    if (!cfg->endpoint || !*cfg->endpoint) {
        n = node ? kiln_node_get(node, "endpoint") : NULL;
        return n ? kiln_node_err(err, n, "expected host:port, got an empty value")
                 : kiln_err_set(err, KILN_EINVAL, "endpoint: expected host:port, got an empty value");
    }
    if (cfg->max_nodes_default > cfg->max_nodes_max) {
        n = node ? kiln_node_get(node, "max_nodes_default") : NULL;
        return n ? kiln_node_err(err, n, "larger than max_nodes_max (%" PRId64 ")", cfg->max_nodes_max)
                 : kiln_err_set(err, KILN_EINVAL, "max_nodes_default: larger than max_nodes_max");
    }
    if (!cfg->tenant_header || !*cfg->tenant_header)
        return kiln_err_set(err, KILN_EINVAL, "tenant_header: empty");
    char **t;
    size_t nt;
    kiln_err e;
    if (kiln_query_tenants(cfg->default_tenant, NULL, &t, &nt, &e) != KILN_OK) {
        n = node ? kiln_node_get(node, "default_tenant") : NULL;
        return n ? kiln_node_err(err, n, "%s", e.msg) : kiln_err_set(err, KILN_EINVAL, "default_tenant: %s", e.msg);
    }
    kiln_query_strv_free(t, nt);
    int rc = kiln_blocks_storage_check(&cfg->storage, err);
    if (rc != KILN_OK) {
        n = node ? kiln_node_get(node, "storage") : NULL;
        if (n) return kiln_node_err(err, n, "%s", err->msg);
        kiln_err_prefix(err, "storage");
    }
    return rc;
}

static int q_create(kiln_host *host, const void *vcfg, void **state, kiln_err *err)
{
    const q_cfg *cfg = vcfg;
    int rc = q_validate(cfg, NULL, err);
    if (rc != KILN_OK) return rc;
    q_plugin *pl = calloc(1, sizeof *pl);
    if (!pl) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    q_state *st = &pl->st;
    st->host = host;
    st->cfg = cfg;
    st->lim.max_nodes_default = cfg->max_nodes_default;
    st->lim.max_nodes_max = cfg->max_nodes_max;
    st->lim.max_query_length_ns = cfg->max_query_length;
    atomic_init(&st->stopping, 0);
    atomic_init(&st->inflight, 0);
    static const char *const codes[C_N] = {"code=\"2xx\"", "code=\"4xx\"", "code=\"5xx\""};
    for (int i = 0; i < C_N; i++)
        st->requests[i] = host->vt->counter(host, "query_requests_total",
                                            "Query API requests answered, by status class.", codes[i]);
    st->query_us = host->vt->counter(host, "query_duration_microseconds_total",
                                     "Time spent answering query API requests.", NULL);
    kiln_objstore *os;
    if ((rc = kiln_blocks_storage_open(&cfg->storage, &os, err)) != KILN_OK) {
        kiln_err_prefix(err, "storage");
        free(pl);
        return rc;
    }
    kq_store_opts so = {cfg->wal_dir, cfg->sync_interval};
    if ((rc = kiln_query_store_new(os, &so, &st->store, err)) != KILN_OK) {
        kiln_objstore_close(os);
        free(pl);
        return rc;
    }
    kiln_http_route_opts copts = {.max_body_bytes = cfg->max_request_body_size, .prefix = 0};
    kiln_http_route_opts gopts = {.max_body_bytes = 4096, .prefix = 0};
    size_t k = 0;
    char path[128];
    for (int m = 0; m < KQ_M_COUNT + 1; m++) {
        q_route *r = &pl->routes[k++];
        r->st = st;
        r->kind = m;
        if (m < KQ_M_COUNT)
            snprintf(path, sizeof path, "/querier.v1.QuerierService/%s", kiln_query_method_names[m]);
        else
            snprintf(path, sizeof path, "/settings.v1.SettingsService/Get");
        if ((rc = host->vt->http_route(host, cfg->endpoint, "POST", path, &copts, q_handle, r, err)) != KILN_OK) {
            kiln_err_prefix(err, "route POST %s on %s", path, cfg->endpoint);
            goto fail;
        }
    }
    static const char *const legacy[KQ_R_COUNT] = {"/pyroscope/render", "/pyroscope/render-diff",
                                                   "/pyroscope/label-values", "/pyroscope/labels",
                                                   "/kiln/v1/findings"};
    for (int i = 0; i < KQ_R_COUNT; i++) {
        q_route *r = &pl->routes[k++];
        r->st = st;
        r->kind = RK_LEGACY;
        r->legacy = i;
        if ((rc = host->vt->http_route(host, cfg->endpoint, "GET", legacy[i], &gopts, q_handle, r, err)) !=
            KILN_OK) {
            kiln_err_prefix(err, "route GET %s on %s", legacy[i], cfg->endpoint);
            goto fail;
        }
    }
    if (cfg->ui) { /* GET / and /ui/ (qstatic.c) */
        kq_ui_opts uo;
        kiln_query_ui_embedded(&uo);
        uo.dir = cfg->ui_dir;
        if ((rc = kiln_query_ui_new(host, &uo, &pl->ui, err)) != KILN_OK ||
            (rc = kiln_query_ui_routes(pl->ui, cfg->endpoint, err)) != KILN_OK)
            goto fail;
    }
    *state = pl;
    return KILN_OK;
fail:
    kiln_query_ui_free(pl->ui);
    kiln_query_store_free(st->store);
    free(pl);
    return rc;
}

static int q_start(void *state, kiln_err *err)
{
    q_plugin *pl = state;
    /* The blocks exporter does not publish its heads (kiln 0.1): profiles
     * not yet in a block are read from its WAL (wal_dir). */
    if (!pl->st.cfg->wal_dir || !*pl->st.cfg->wal_dir)
        kiln_log_info(pl->st.host, "msg=\"wal_dir is empty: only stored blocks are queried\"");
    return KILN_OK;
}

static int q_consume(void *state, kiln_batch *b, kiln_err *err) { return KILN_OK; }

static int q_shutdown(void *state, int64_t deadline)
{
    q_plugin *pl = state;
    atomic_store(&pl->st.stopping, 1);
    while (atomic_load(&pl->st.inflight) > 0) {
        if (kiln_now_mono_ns() >= deadline) return KILN_ECANCELED;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return KILN_OK;
}

static void q_destroy(void *state)
{
    q_plugin *pl = state;
    if (!pl) return;
    kiln_query_store_free(pl->st.store);
    kiln_query_ui_free(pl->ui);
    free(pl);
}

KILN_PLUGIN_DEFINE = {
    KILN_PLUGIN_HEADER,
    .kind = KILN_KIND_EXPORTER,
    .type = "query",
    .doc = "Pyroscope-compatible query API over the blocks exporter's store (its blocks and the "
           "WAL of profiles not yet in a block): Connect querier.v1.QuerierService (proto and "
           "JSON) as Grafana calls it, /pyroscope/render (flamebearer JSON, pprof, folded, "
           "speedscope), render-diff, label-values, labels, and /kiln/v1/findings. Tenant from "
           "X-Scope-OrgID (`a|b` reads both). Takes nothing from its pipeline.",
    .fields = q_fields,
    .cfg_size = sizeof(q_cfg),
    .validate = q_validate,
    .create = q_create,
    .start = q_start,
    .consume = q_consume,
    .shutdown = q_shutdown,
    .destroy = q_destroy,
};
