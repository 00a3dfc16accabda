/* receivers/pprof/receiver.c — the `pprof` receiver plugin: Pyroscope's
 * legacy HTTP ingest API, `POST /ingest` and its alias `POST /pyroscope/ingest`.
 *
 * Flow of one request:
 *   loop thread   rx_handle: copy the query parameters and headers it needs,
 *                 take the body (no copy), hand a job to a worker
 *   worker        rx_work: tenant, name, times, format, multipart scan,
 *                 pprof peek (gunzip once, cached in the payload) or the
 *                 folded/lines text turned into a pprof model, labels,
 *                 one kiln_batch with one kiln_profile -> kiln_submit
 *   loop thread   rx_submitted (submit callback) answers 200 / 429 / error;
 *                 or rx_answer (via loop_call) answers a request the worker
 *                 refused or found empty
 *
 * Memory: a job (rx_job) owns its copied strings and, until it is given to
 * a payload, the request body. The payload of a submitted profile owns the
 * body (free()d when its last reference goes; for multipart the payload's
 * bytes are the `profile` part inside that body); for text formats the
 * payload owns an arena with the model and the body is freed at once. The
 * job is freed after
 * the answer. The state is freed by destroy; the core drains deliveries
 * before calling destroy, so no callback outlives it.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pprofrx.h"

typedef struct rx_cfg {
    char *endpoint;
    int64_t max_request_body_size;
    int64_t max_decompressed_size;
    int64_t retry_after;
    char *tenant_header;
    char *default_tenant;
} rx_cfg;

static const kiln_cfg_field rx_fields[] = {
    {"endpoint", KILN_CFG_STRING, ":4040", offsetof(rx_cfg, endpoint),
     "host:port to serve /ingest and /pyroscope/ingest on (shared with components naming the same "
     "endpoint)",
     0, 0, 0, NULL},
    {"max_request_body_size", KILN_CFG_BYTES, "256MiB", offsetof(rx_cfg, max_request_body_size),
     "largest request body accepted, measured before decompression (Pyroscope's "
     "ingestion_body_limit_mb); larger bodies get 413",
     0, 1, 17179869184.0, NULL},
    {"max_decompressed_size", KILN_CFG_BYTES, "256MiB", offsetof(rx_cfg, max_decompressed_size),
     "largest profile after gunzip; a profile that inflates beyond it gets 413", 0, 1,
     17179869184.0, NULL},
    {"retry_after", KILN_CFG_DURATION, "5s", offsetof(rx_cfg, retry_after),
     "Retry-After (rounded up to whole seconds) sent with 429 when the pipeline is full", 0, 0,
     86400e9, NULL},
    {"tenant_header", KILN_CFG_STRING, "X-Scope-OrgID", offsetof(rx_cfg, tenant_header),
     "request header naming the tenant", 0, 0, 0, NULL},
    {"default_tenant", KILN_CFG_STRING, KILN_TENANT_DEFAULT, offsetof(rx_cfg, default_tenant),
     "tenant of requests without the tenant header (Pyroscope: anonymous)", 0, 0, 0, NULL},
    {NULL, 0, NULL, 0, NULL, 0, 0, 0, NULL}};

static const int rx_codes[] = {200, 400, 404, 413, 422, 429, 500, 503};
#define RX_NCODES (sizeof rx_codes / sizeof rx_codes[0])

typedef struct rx_state {
    kiln_host *host;
    const rx_cfg *cfg;
    atomic_int stopping;
    atomic_long inflight; /* jobs given to a worker and not finished there */
    kiln_counter *requests[RX_NCODES + 1]; /* the last: any other status */
    kiln_counter *bytes, *profiles;
    char retry_after[24];
} rx_state;

enum { Q_NAME, Q_FROM, Q_UNTIL, Q_RATE, Q_SPY, Q_FORMAT, H_CTYPE, H_TENANT, RX_NSTR };
static const char *const rx_qnames[] = {"name", "from", "until", "sampleRate", "spyName", "format"};

typedef struct rx_job {
    rx_state *st;
    kiln_http_req *req;
    int64_t now_ns;
    const char *s[RX_NSTR]; /* NULL when absent; point into the job's tail */
    uint8_t *body;          /* owned until a payload takes it */
    size_t len;
    /* the answer when it is not the submit callback's */
    int status;
    kiln_err err;
} rx_job;

/* ---- answers (loop thread) ------------------------------------------------------ */

static void rx_count(rx_state *st, int status)
{
    for (size_t i = 0; i < RX_NCODES; i++)
        if (rx_codes[i] == status) {
            kiln_counter_add(st->requests[i], 1);
            return;
        }
    kiln_counter_add(st->requests[RX_NCODES], 1);
}

static void rx_reply(rx_state *st, kiln_http_req *req, int status, const char *msg)
{
    kiln_host *h = st->host;
    rx_count(st, status);
    if (status == 200) {
        h->vt->http_reply(req, 200, NULL, NULL, 0);
        return;
    }
    if (status == 429) h->vt->http_set_header(req, "Retry-After", st->retry_after);
    char body[4096];
    size_t n = kiln_pprofrx_json_error(body, sizeof body, status, msg);
    h->vt->http_reply(req, status, "application/json", body, n);
}

static void rx_job_free(rx_job *j)
{
    free(j->body);
    free(j);
}

/* The answer a worker decided on (no submit, or submit refused at once). */
static void rx_answer(void *arg)
{
    rx_job *j = arg;
    rx_reply(j->st, j->req, j->status, j->err.msg);
    rx_job_free(j);
}

static void rx_submitted(void *arg, int status, const kiln_err *err)
{
    rx_job *j = arg;
    rx_state *st = j->st;
    if (status == KILN_OK) {
        rx_reply(st, j->req, 200, NULL);
    } else {
        int retriable = status == KILN_EAGAIN || (err && err->retriable);
        int http = retriable ? 429 : kiln_status_http(status);
        if (http < 400) http = 500;
        const char *msg = err && err->msg[0] ? err->msg : kiln_strstatus(status);
        kiln_log_debug(st->host, "msg=\"ingest refused by the pipeline\" status=%d err=\"%s\"", http,
                       msg);
        rx_reply(st, j->req, http, msg);
    }
    rx_job_free(j);
}

/* ---- the work (worker thread) -------------------------------------------------- */

/* Go's strconv.Atoi for sampleRate: [+-]digits. 0 and *out on success. */
static int parse_rate(const char *s, int64_t *out)
{
    const char *p = s;
    int neg = 0;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    if (!*p) return -1;
    int64_t v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        if (v > (INT64_MAX - (*p - '0')) / 10) return -1;
        v = v * 10 + (*p - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

static int fail(rx_job *j, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(rx_job *j, int status, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kiln_err_vset(&j->err, code, fmt, ap);
    va_end(ap);
    j->status = status;
    return -1;
}

static int str_is(const char *s, const char *lit) { return s && strcmp(s, lit) == 0; }

#define YEAR1971_NS (365LL * 86400 * 1000000000)

/* Builds the batch for one profile and submits it; 1 when submitted (the
 * callback answers), 0 when j->status/j->err hold the answer. Takes `pl`. */
static int rx_submit_one(rx_job *j, kiln_payload *pl, const char *tenant, kiln_labels *labels,
                         int64_t time_ns, int64_t duration_ns, int64_t rate, size_t bytes)
{
    rx_state *st = j->st;
    kiln_err e;
    kiln_err_clear(&e);
    kiln_batch *b = kiln_batch_new(1);
    kiln_profile *p = b ? kiln_batch_add(b) : NULL;
    if (!p || kiln_profile_set_tenant(p, tenant) != KILN_OK) {
        kiln_payload_unref(pl);
        kiln_batch_unref(b);
        kiln_labels_free(labels);
        return fail(j, 500, KILN_ENOMEM, "out of memory"), 0;
    }
    p->payload = pl;
    p->labels = *labels; /* moved */
    memset(labels, 0, sizeof *labels);
    p->time_ns = time_ns;
    p->duration_ns = duration_ns;
    p->sample_rate = rate;
    b->bytes = bytes;
    kiln_counter_add(st->profiles, 1);
    int rc = kiln_submit(st->host, b, rx_submitted, j, &e);
    if (rc == KILN_OK) return 1; /* j may be gone already */
    if (rc == KILN_EAGAIN || e.retriable)
        fail(j, 429, rc, "%s", e.msg[0] ? e.msg : "the pipeline is full, retry later");
    else
        fail(j, kiln_status_http(rc) >= 400 ? kiln_status_http(rc) : 500, rc, "%s",
             e.msg[0] ? e.msg : kiln_strstatus(rc));
    return 0;
}

/* folded / lines bodies: Pyroscope's Put path (the type from the app-name
 * suffix, counts scaled to nanoseconds for cpu and wall). */
static int rx_text(rx_job *j, const kiln_pprofrx_labelset *ls, const char *tenant, int64_t from,
                   int64_t until, int64_t rate, const char *spy, int lines_mode)
{
    kiln_host *h = j->st->host;
    kiln_err e;
    kiln_err_clear(&e);
    const kiln_str *pid = kiln_pprofrx_labelset_get(ls, "profile_id");
    if (pid && pid->len) {
        /* Pyroscope drops these (the old exemplar feature) and answers 200 */
        j->status = 200;
        kiln_log_debug(h, "msg=\"profile_id tag: text profile dropped as Pyroscope does\"");
        return 0;
    }
    kiln_str base, suffix;
    kiln_pprofrx_split_app(ls->app, &base, &suffix);
    kiln_pprofrx_suffix_type ty;
    if (kiln_pprofrx_suffix_type_of(suffix.p, suffix.len, &ty, &e) != KILN_OK)
        return fail(j, 400, KILN_EINVAL, "%s", e.msg), 0;
    kiln_pprofrx_text_type tt = {ty.sample_type, ty.sample_unit, NULL, NULL, 0, 1};
    if (ty.scale_by_rate && rate != 0) {
        int64_t period = 1000000000LL / rate;
        tt.sample_type = strcmp(ty.name, "wall") == 0 ? "wall" : "cpu";
        tt.sample_unit = "nanoseconds";
        tt.period_type = "cpu";
        tt.period_unit = "nanoseconds";
        tt.period = period;
        tt.scale = (uint64_t)period;
    }
    kiln_arena *a = kiln_arena_new(j->len * 2 + 4096);
    if (!a) return fail(j, 500, KILN_ENOMEM, "out of memory"), 0;
    kiln_pprof *pp;
    int64_t dur = until > from ? until - from : 0;
    if (kiln_pprofrx_folded(a, j->body, j->len, lines_mode, &tt, from, dur, &pp, &e) != KILN_OK) {
        kiln_arena_destroy(a);
        return fail(j, e.code == KILN_ENOMEM ? 500 : 422, e.code, "%s%s", e.msg,
                    kiln_is_gzip(j->body, j->len)
                        ? " (the body is gzip: pprof needs format=pprof or a multipart form)"
                        : ""),
               0;
    }
    if (!pp) {
        kiln_arena_destroy(a);
        j->status = 200;
        kiln_log_debug(h, "msg=\"empty profile, nothing submitted\" tenant=%s", tenant);
        return 0;
    }
    kiln_payload *pl = kiln_payload_from_pprof(a, pp);
    if (!pl) {
        kiln_arena_destroy(a);
        return fail(j, 500, KILN_ENOMEM, "out of memory"), 0;
    }
    kiln_pprof_limits lim = {.max_inflated = (size_t)j->st->cfg->max_decompressed_size};
    kiln_payload_set_limits(pl, &lim);
    kiln_labels labels = KILN_LABELS_INIT;
    if (kiln_pprofrx_build_labels_text(&labels, ls, ty.name, base, spy, &e) != KILN_OK) {
        kiln_labels_free(&labels);
        kiln_payload_unref(pl);
        return fail(j, 500, KILN_ENOMEM, "out of memory"), 0;
    }
    size_t bytes = j->len;
    free(j->body); /* the model holds copies of every string */
    j->body = NULL;
    return rx_submit_one(j, pl, tenant, &labels, from, dur, rate, bytes);
}

/* Does the work; returns 1 when the batch went to submit (the callback will
 * answer), 0 when j->status/j->err hold the answer. */
static int rx_process(rx_job *j)
{
    rx_state *st = j->st;
    const rx_cfg *cfg = st->cfg;
    kiln_host *h = st->host;
    char tenant[KILN_TENANT_MAX + 1];
    kiln_err e;
    kiln_err_clear(&e);

    if (kiln_pprofrx_tenant(j->s[H_TENANT], cfg->default_tenant, tenant, sizeof tenant, &e) !=
        KILN_OK)
        return fail(j, 400, KILN_EINVAL, "%s: %s", cfg->tenant_header, e.msg), 0;

    const char *name = j->s[Q_NAME] ? j->s[Q_NAME] : "";
    kiln_pprofrx_labelset ls;
    if (kiln_pprofrx_labelset_parse(name, strlen(name), &ls, &e) != KILN_OK)
        return fail(j, e.code == KILN_ENOMEM ? 500 : 400, e.code, "%s", e.msg), 0;

    int64_t from = j->s[Q_FROM] && *j->s[Q_FROM]
                       ? kiln_attime(j->s[Q_FROM], strlen(j->s[Q_FROM]), j->now_ns)
                       : j->now_ns;
    int64_t until = j->s[Q_UNTIL] && *j->s[Q_UNTIL]
                        ? kiln_attime(j->s[Q_UNTIL], strlen(j->s[Q_UNTIL]), j->now_ns)
                        : j->now_ns;
    int64_t rate = 100;
    if (j->s[Q_RATE] && *j->s[Q_RATE]) {
        int64_t r;
        if (parse_rate(j->s[Q_RATE], &r) != 0 || r < 0 || r > UINT32_MAX)
            kiln_log_debug(h, "msg=\"invalid sampleRate, using 100\" sampleRate=\"%.64s\"",
                           j->s[Q_RATE]);
        else
            rate = r;
    }
    const char *spy = j->s[Q_SPY] && *j->s[Q_SPY] ? j->s[Q_SPY] : "unknown";
    const char *format = j->s[Q_FORMAT] ? j->s[Q_FORMAT] : "";
    const char *ct = j->s[H_CTYPE] ? j->s[H_CTYPE] : "";

    /* Pyroscope's format selection, first match wins */
    const char *unsupported = NULL;
    if (str_is(format, "trie") || str_is(ct, "binary/octet-stream+trie"))
        unsupported = "trie";
    else if (str_is(format, "tree") || str_is(ct, "binary/octet-stream+tree"))
        unsupported = "tree";
    else if (str_is(format, "jfr"))
        unsupported = format;
    else if (str_is(format, "speedscope"))
        unsupported = format;

    const uint8_t *data = j->body;
    size_t len = j->len;
    kiln_pprofrx_stc stc;
    memset(&stc, 0, sizeof stc);
    int rc = 0, text = 0;
    if (unsupported) {
        rc = fail(j, 400, KILN_EINVAL, "format %s is not supported by this kiln yet", unsupported);
    } else if (str_is(format, "pprof")) {
        /* raw body */
    } else if (kiln_pprofrx_is_multipart(ct)) {
        kiln_pprofrx_form form;
        if (kiln_pprofrx_form_read(ct, j->body, j->len, &form, &e) != KILN_OK) {
            rc = fail(j, 400, KILN_EINVAL, "%s", e.msg);
        } else if (form.has_prev && form.prev_profile.len > 0) {
            rc = fail(j, 400, KILN_EINVAL,
                      "unsupported client version. Please update github.com/grafana/pyroscope-go "
                      "to the latest version (multipart part \"prev_profile\" is not supported)");
        } else if (form.has_stc && form.sample_type_config.len > 0 &&
                   kiln_pprofrx_stc_parse(form.sample_type_config.data, form.sample_type_config.len,
                                          &stc, &e) != KILN_OK) {
            rc = fail(j, e.code == KILN_ENOMEM ? 500 : 400, e.code, "multipart part %zu: %s",
                      form.sample_type_config.index, e.msg);
        } else {
            data = form.profile.data;
            len = form.has_profile ? form.profile.len : 0;
        }
    } else {
        text = 1; /* lines, or folded: the default for any other format value */
    }
    if (rc < 0) goto out;
    if (text) {
        /* the labels are copied out of `ls` before submit: free it either way */
        int sent = rx_text(j, &ls, tenant, from, until, rate, spy, str_is(format, "lines")) == 1;
        kiln_pprofrx_labelset_free(&ls);
        return sent;
    }
    if (len == 0) {
        /* Pyroscope answers an empty profile with 200 and stores nothing */
        j->status = 200;
        kiln_log_debug(h, "msg=\"empty profile, nothing submitted\" tenant=%s service=%.*s", tenant,
                       (int)ls.app.len, ls.app.p);
        goto out;
    }

    kiln_payload *pl =
        kiln_payload_from_bytes(KILN_FMT_PPROF, (uint8_t *)data, len, 0, free, j->body);
    if (!pl) {
        rc = fail(j, 500, KILN_ENOMEM, "out of memory");
        goto out;
    }
    j->body = NULL; /* the payload owns it now */
    kiln_pprof_limits lim = {.max_inflated = (size_t)cfg->max_decompressed_size};
    kiln_payload_set_limits(pl, &lim);
    const kiln_pprof_peek *pk;
    int prc = kiln_payload_peek(pl, &pk, &e);
    if (prc != KILN_OK) {
        if (prc == KILN_ETOOBIG)
            rc = fail(j, 413, KILN_ETOOBIG, "profile: over max_decompressed_size (%" PRId64
                      " bytes) after gunzip: %s", cfg->max_decompressed_size, e.msg);
        else if (prc == KILN_ENOMEM)
            rc = fail(j, 500, KILN_ENOMEM, "profile: %s", e.msg);
        else
            rc = fail(j, 422, KILN_EUNPROC, "profile: malformed pprof: %s", e.msg);
        kiln_payload_unref(pl);
        goto out;
    }
    if (pk->n_types == 0) {
        rc = fail(j, 422, KILN_EUNPROC, "profile: no sample types");
        kiln_payload_unref(pl);
        goto out;
    }
    char type_name[128];
    kiln_pprofrx_type_name(pk->type, pk->n_types, stc.present ? &stc : NULL, type_name,
                           sizeof type_name);
    if (!type_name[0]) {
        rc = fail(j, 422, KILN_EUNPROC,
                  "profile: cannot tell the profile type: its sample types have empty names");
        kiln_payload_unref(pl);
        goto out;
    }

    kiln_labels labels = KILN_LABELS_INIT;
    if (kiln_pprofrx_build_labels(&labels, &ls, type_name, spy, &e) != KILN_OK) {
        kiln_labels_free(&labels);
        kiln_payload_unref(pl);
        rc = fail(j, 500, KILN_ENOMEM, "out of memory");
        goto out;
    }
    int64_t t0 = pk->time_nanos >= YEAR1971_NS ? pk->time_nanos : from;
    int64_t dur = pk->duration_nanos > 0 ? pk->duration_nanos : (until > from ? until - from : 0);
    kiln_pprofrx_labelset_free(&ls);
    kiln_pprofrx_stc_free(&stc);
    return rx_submit_one(j, pl, tenant, &labels, t0, dur, rate, len);
out:
    kiln_pprofrx_labelset_free(&ls);
    kiln_pprofrx_stc_free(&stc);
    return 0;
}

static void rx_work(void *arg)
{
    rx_job *j = arg;
    rx_state *st = j->st;
    kiln_host *h = st->host;
    if (!rx_process(j)) {
        if (j->status != 200)
            kiln_log_debug(h, "msg=\"ingest refused\" status=%d reason=\"%s\"", j->status,
                           j->err.msg);
        if (h->vt->loop_call(h, rx_answer, j) != KILN_OK)
            kiln_log_error(h, "msg=\"cannot schedule the answer on the loop thread\"");
    }
    atomic_fetch_sub(&st->inflight, 1);
}

/* ---- the handler (loop thread) --------------------------------------------------- */

static void rx_handle(kiln_http_req *req, void *arg)
{
    rx_state *st = arg;
    kiln_host *h = st->host;
    if (atomic_load(&st->stopping)) {
        rx_reply(st, req, 503, "the receiver is shutting down");
        return;
    }
    const char *v[RX_NSTR];
    size_t total = 0;
    for (int i = 0; i < RX_NSTR; i++) {
        if (i <= Q_FORMAT)
            v[i] = h->vt->http_query(req, rx_qnames[i]);
        else if (i == H_CTYPE)
            v[i] = h->vt->http_header(req, "Content-Type");
        else
            v[i] = h->vt->http_header(req, st->cfg->tenant_header);
        if (v[i]) total += strlen(v[i]) + 1;
    }
    rx_job *j = calloc(1, sizeof *j + total);
    if (!j) {
        rx_reply(st, req, 500, "out of memory");
        return;
    }
    char *tail = (char *)(j + 1);
    for (int i = 0; i < RX_NSTR; i++) {
        if (!v[i]) continue;
        size_t l = strlen(v[i]);
        memcpy(tail, v[i], l + 1);
        j->s[i] = tail;
        tail += l + 1;
    }
    j->st = st;
    j->req = req;
    j->now_ns = kiln_now_unix_ns();
    if (h->vt->http_body(req, 1, &j->body, &j->len) != KILN_OK) {
        free(j);
        rx_reply(st, req, 500, "out of memory taking the request body");
        return;
    }
    kiln_counter_add(st->bytes, j->len);
    if ((int64_t)j->len > st->cfg->max_request_body_size) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "request body too large: %zu bytes, max_request_body_size is %" PRId64, j->len,
                 st->cfg->max_request_body_size);
        kiln_log_debug(h, "msg=\"ingest refused\" status=413 reason=\"%s\"", msg);
        rx_job_free(j);
        rx_reply(st, req, 413, msg);
        return;
    }
    atomic_fetch_add(&st->inflight, 1);
    if (h->vt->work(h, rx_work, j) != KILN_OK) {
        atomic_fetch_sub(&st->inflight, 1);
        rx_job_free(j);
        rx_reply(st, req, 429, "no worker can take the request now, retry later");
    }
}

/* ---- lifecycle -------------------------------------------------------------------- */

static int header_token_ok(const char *s)
{
    if (!s || !*s) return 0;
    for (; *s; s++)
        if (*s <= 0x20 || *s >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", *s)) return 0;
    return 1;
}

static int rx_validate(const void *vcfg, const kiln_node *node, kiln_err *err)
{
    const rx_cfg *cfg = vcfg;
    const kiln_node *n;
    if (!cfg->endpoint || !*cfg->endpoint) {
        n = node ? kiln_node_get(node, "endpoint") : NULL;
        return n ? kiln_node_err(err, n, "expected host:port, got an empty value")
                 : kiln_err_set(err, KILN_EINVAL, "endpoint: expected host:port, got an empty value");
    }
    if (!header_token_ok(cfg->tenant_header)) {
        n = node ? kiln_node_get(node, "tenant_header") : NULL;
        return n ? kiln_node_err(err, n, "not a valid HTTP header name: \"%s\"",
                                 cfg->tenant_header ? cfg->tenant_header : "")
                 : kiln_err_set(err, KILN_EINVAL, "tenant_header: not a valid HTTP header name");
    }
    kiln_err e;
    kiln_err_clear(&e);
    const char *t = cfg->default_tenant ? cfg->default_tenant : "";
    int rc = *t ? kiln_pprofrx_tenant_valid(t, strlen(t), &e)
                : kiln_err_set(&e, KILN_EINVAL, "tenant ID is empty");
    if (rc != KILN_OK) {
        n = node ? kiln_node_get(node, "default_tenant") : NULL;
        return n ? kiln_node_err(err, n, "%s", e.msg)
                 : kiln_err_set(err, KILN_EINVAL, "default_tenant: %s", e.msg);
    }
    return KILN_OK;
}

static void rx_free_state(rx_state *st) { free(st); }

static int rx_create(kiln_host *host, const void *vcfg, void **state, kiln_err *err)
{
    const rx_cfg *cfg = vcfg;
    int rc = rx_validate(cfg, NULL, err);
    if (rc != KILN_OK) return rc;
    rx_state *st = calloc(1, sizeof *st);
    if (!st) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    st->host = host;
    st->cfg = cfg;
    atomic_init(&st->stopping, 0);
    atomic_init(&st->inflight, 0);
    snprintf(st->retry_after, sizeof st->retry_after, "%" PRId64,
             (cfg->retry_after + 999999999) / 1000000000);
    const char *help = "Requests to /ingest by the HTTP status answered.";
    for (size_t i = 0; i <= RX_NCODES; i++) {
        char lbl[32];
        if (i < RX_NCODES)
            snprintf(lbl, sizeof lbl, "code=\"%d\"", rx_codes[i]);
        else
            snprintf(lbl, sizeof lbl, "code=\"other\"");
        st->requests[i] = host->vt->counter(host, "receiver_requests_total", help, lbl);
    }
    st->bytes = host->vt->counter(host, "receiver_request_bytes_total",
                                  "Request body bytes read by /ingest, before decompression.", NULL);
    st->profiles = host->vt->counter(host, "receiver_request_profiles_total",
                                     "Profiles /ingest parsed from requests and submitted.", NULL);
    kiln_http_route_opts opts = {.max_body_bytes = cfg->max_request_body_size, .prefix = 0};
    static const char *const paths[] = {"/ingest", "/pyroscope/ingest"};
    for (size_t i = 0; i < 2; i++) {
        rc = host->vt->http_route(host, cfg->endpoint, "POST", paths[i], &opts, rx_handle, st, err);
        if (rc != KILN_OK) {
            kiln_err_prefix(err, "route POST %s on %s", paths[i], cfg->endpoint);
            rx_free_state(st);
            return rc;
        }
    }
    *state = st;
    return KILN_OK;
}

static int rx_start(void *state, kiln_err *err) { return KILN_OK; }

static int rx_shutdown(void *state, int64_t deadline)
{
    rx_state *st = state;
    atomic_store(&st->stopping, 1);
    /* jobs on workers finish without the loop thread (their answers are only
     * queued to it), so waiting here cannot deadlock */
    while (atomic_load(&st->inflight) > 0) {
        if (kiln_now_mono_ns() >= deadline) return KILN_ECANCELED;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return KILN_OK;
}

static void rx_destroy(void *state)
{
    if (state) rx_free_state(state);
}

KILN_PLUGIN_DEFINE = {
    KILN_PLUGIN_HEADER,
    .kind = KILN_KIND_RECEIVER,
    .type = "pprof",
    .doc = "Pyroscope's HTTP ingest API: POST /ingest (and /pyroscope/ingest) with "
           "name=app{k=v}, from, until, sampleRate, spyName; pprof bodies raw (format=pprof) or "
           "as multipart/form-data (profile, sample_type_config parts) as pyroscope-go and "
           "@pyroscope/nodejs send them; folded/collapsed and lines text. Tenant from "
           "X-Scope-OrgID. Answers 200 once every pipeline took the profile, 429 with "
           "Retry-After when full.",
    .fields = rx_fields,
    .cfg_size = sizeof(rx_cfg),
    .validate = rx_validate,
    .create = rx_create,
    .start = rx_start,
    .shutdown = rx_shutdown,
    .destroy = rx_destroy,
};
