/* exporters/query/qlegacy.c — the legacy HTTP read API and kiln's exports:
 *
 *   GET /pyroscope/render?query=<type id>{selector}&from=&until=&format=
 *       &maxNodes=|max-nodes=&groupBy=
 *         format json (default): flamebearer JSON with a timeline, as
 *         Pyroscope's render handler answers; pprof: the merged profile,
 *         gzip'ed pprof; dot: a Graphviz call graph (80 nodes unless
 *         maxNodes); folded|collapsed: one `a;b;c <value>` line per
 *         stack; speedscope: speedscope's file format.
 *   GET /pyroscope/render-diff?leftQuery=&leftFrom=&leftUntil=&rightQuery=
 *       &rightFrom=&rightUntil=&maxNodes=   a "double" flamebearer
 *   GET /pyroscope/label-values?label=X[&query=&from=&until=]  JSON array;
 *         label=__name__ lists the profile type ids
 *   GET /pyroscope/labels[?query=&from=&until=]  JSON array of label names
 *   GET /kiln/v1/findings?query=&from=&until=&top=  top functions by self
 *         and by total with their share of the whole, and the hottest path
 *
 * Times: attime (`now-1h`, Unix s/ms/us/ns); both default to now as in
 * Pyroscope. Timeline: step = CalcPointInterval(from, until); bucket i
 * covers [startTime + i*step, startTime + (i+1)*step) with startTime =
 * from rounded down to the step; samples are per-profile totals summed.
 *
 * Memory: the reply body is a kq_buf owned by the caller's kq_reply; every
 * request and tree made here is freed before returning.
 */
#include "query.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const kiln_query_param_names[KQ_P_COUNT] = {
    "query",      "from",      "until",      "format",     "maxNodes",   "max-nodes",
    "groupBy",    "aggregation", "label",    "name",       "leftQuery",  "leftFrom",
    "leftUntil",  "rightQuery", "rightFrom", "rightUntil", "top",
};

#define NS 1000000000LL
#define MAX_TIMELINE 100000

void kiln_query_reply_error(kq_reply *out, int status, const kiln_err *err)
{
    const char *code = kiln_query_connect_code(status);
    kiln_query_buf_free(&out->body);
    kiln_query_connect_error(&out->body, code, err && err->msg[0] ? err->msg : kiln_strstatus(status));
    out->status = kiln_query_connect_http(code);
    out->ctype = "application/json";
    out->disposition = NULL;
}

/* Splits `<type>{selector}` into r->ptype and r->selector. */
static int split_query(const char *q, kq_req *r, kq_ptype *pt, kiln_err *err)
{
    if (!q || !*q) return kiln_err_set(err, KILN_EINVAL, "query is required: query=<type id>{selector}");
    const char *br = strchr(q, '{');
    size_t tl = br ? (size_t)(br - q) : strlen(q);
    while (tl && (q[tl - 1] == ' ' || q[tl - 1] == '\t')) tl--;
    const char *t0 = q;
    while (tl && (*t0 == ' ' || *t0 == '\t')) t0++, tl--;
    if (!tl)
        return kiln_err_set(err, KILN_EINVAL, "profile type selection must be provided: "
                                              "query=<name>:<sample-type>:<sample-unit>:<period-type>:"
                                              "<period-unit>{selector}");
    if (!(r->ptype = strndup(t0, tl)) || !(r->selector = strdup(br ? br : "")))
        return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    int rc = kiln_query_ptype_parse(r->ptype, pt, err);
    if (rc != KILN_OK) return rc;
    /* a bad selector is the sender's fault: say so before doing any work */
    kq_selector sel = {0};
    rc = kiln_query_selector_parse(r->selector, strlen(r->selector), &sel, err);
    kiln_query_selector_free(&sel);
    return rc;
}

static int64_t parse_i64(const char *s, int64_t def)
{
    if (!s || !*s) return def;
    char *end;
    long long v = strtoll(s, &end, 10);
    return *end ? def : (int64_t)v;
}

/* Range of a render request in ms. */
static int range_ms(const char *from, const char *until, int64_t now_ns, kq_req *r, kiln_err *err)
{
    int64_t f = kiln_query_attime(from, now_ns), u = kiln_query_attime(until, now_ns);
    r->start_ms = f / 1000000;
    r->end_ms = u / 1000000;
    if (r->end_ms < r->start_ms)
        return kiln_err_set(err, KILN_EINVAL, "until is before from");
    return KILN_OK;
}

static int max_nodes_param(kq_exec *x, const char *const *p, kq_req *r, int64_t *mn, kiln_err *err)
{
    const char *s = p[KQ_P_MAXNODES] ? p[KQ_P_MAXNODES] : p[KQ_P_MAX_NODES];
    if (s && *s) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (*end) return kiln_err_set(err, KILN_EINVAL, "maxNodes: not an integer: \"%.40s\"", s);
        r->has_max_nodes = 1;
        r->max_nodes = v;
    }
    return kiln_query_max_nodes(x->lim, r, mn, err);
}

static void json_flamebearer(kq_buf *o, const kq_flame *f)
{
    kiln_query_buf_puts(o, "\"flamebearer\":{\"names\":[");
    for (size_t i = 0; i < f->n_names; i++) {
        if (i) kiln_query_buf_putc(o, ',');
        kiln_query_buf_jstrz(o, f->names[i]);
    }
    kiln_query_buf_puts(o, "],\"levels\":[");
    for (size_t i = 0; i < f->n_levels; i++) {
        kiln_query_buf_puts(o, i ? ",[" : "[");
        for (size_t k = 0; k < f->level_len[i]; k++) {
            if (k) kiln_query_buf_putc(o, ',');
            kiln_query_buf_i64(o, f->levels[i][k]);
        }
        kiln_query_buf_putc(o, ']');
    }
    kiln_query_buf_printf(o, "],\"numTicks\":%" PRId64 ",\"maxSelf\":%" PRId64 "}", f->total, f->max_self);
}

/* metadata.units and sampleRate as Pyroscope's ExportToFlamebearer. */
static void json_metadata(kq_buf *o, const kq_ptype *pt, const char *format)
{
    const char *units = pt->sample_unit;
    long long rate = 100;
    const char *st = pt->sample_type;
    if (!strcmp(st, "inuse_objects") || !strcmp(st, "alloc_objects") || !strcmp(st, "goroutine") ||
        !strcmp(st, "samples"))
        units = "objects";
    else if (!strcmp(st, "cpu")) {
        units = "samples";
        rate = 1000000000LL;
    }
    kiln_query_buf_printf(o, "\"metadata\":{\"format\":\"%s\",\"spyName\":\"\",\"sampleRate\":%lld,\"units\":",
                          format, rate);
    kiln_query_buf_jstrz(o, units);
    kiln_query_buf_puts(o, ",\"name\":");
    kiln_query_buf_jstrz(o, st);
    kiln_query_buf_putc(o, '}');
}

/* Appends `"key":{timeline}` for the request. */
static int json_timeline(kq_buf *o, kq_exec *x, const kq_req *r, kiln_err *err)
{
    int64_t step = kiln_query_point_interval_s(r->start_ms, r->end_ms);
    int64_t fs = r->start_ms / 1000, us = r->end_ms / 1000;
    int64_t start = fs - ((fs % step) + step) % step;
    int64_t end = us - ((us % step) + step) % step;
    size_t n = (size_t)((end - start) / step + 1);
    if (n > MAX_TIMELINE) n = MAX_TIMELINE;
    int64_t *b = malloc(n * sizeof *b);
    if (!b) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    int rc = kiln_query_exec_timeline(x, r, start, step, n, b, err);
    if (rc == KILN_OK) {
        kiln_query_buf_printf(o, "{\"startTime\":%" PRId64 ",\"samples\":[", start);
        for (size_t i = 0; i < n; i++) {
            if (i) kiln_query_buf_putc(o, ',');
            kiln_query_buf_i64(o, b[i]);
        }
        kiln_query_buf_printf(o, "],\"durationDelta\":%" PRId64 ",\"watermarks\":null}", step);
    }
    free(b);
    return rc;
}

/* A selector string quoting a label value in "..." with Go escapes. */
static void sel_value(kq_buf *o, const char *v)
{
    kiln_query_buf_putc(o, '"');
    for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
        if (*c == '"' || *c == '\\') {
            kiln_query_buf_putc(o, '\\');
            kiln_query_buf_putc(o, (char)*c);
        } else if (*c == '\n') {
            kiln_query_buf_puts(o, "\\n");
        } else if (*c < 0x20) {
            kiln_query_buf_printf(o, "\\x%02x", *c);
        } else {
            kiln_query_buf_putc(o, (char)*c);
        }
    }
    kiln_query_buf_putc(o, '"');
}

/* The inside of a `{...}` selector ("" when there is none). */
static void sel_inner(const char *sel, kq_buf *o)
{
    const char *a = strchr(sel, '{'), *b = strrchr(sel, '}');
    if (a && b && b > a + 1) kiln_query_buf_put(o, a + 1, (size_t)(b - a - 1));
}

/* groups: one timeline per value of the first groupBy label. */
static int json_groups(kq_buf *o, kq_exec *x, const kq_req *r, const kq_ptype *pt, const char *label,
                       kiln_err *err)
{
    kq_req lr = {0};
    kq_buf m = {0};
    kiln_query_buf_puts(&m, "{__profile_type__=");
    sel_value(&m, pt->id);
    kq_buf inner = {0};
    sel_inner(r->selector, &inner);
    if (inner.n) {
        kiln_query_buf_putc(&m, ',');
        kiln_query_buf_put(&m, inner.p, inner.n);
    }
    kiln_query_buf_putc(&m, '}');
    int rc = m.oom ? kiln_err_set(err, KILN_ENOMEM, "out of memory") : KILN_OK;
    if (rc == KILN_OK && (kiln_query_strv_add(&lr.matchers, &lr.n_matchers, m.p, m.n) != KILN_OK ||
                          !(lr.name = strdup(label))))
        rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
    lr.start_ms = r->start_ms;
    lr.end_ms = r->end_ms;
    char **vals = NULL;
    size_t nv = 0;
    if (rc == KILN_OK) rc = kiln_query_exec_labels(x, &lr, KQ_LABEL_VALUES, &vals, &nv, err);
    kiln_query_buf_putc(o, '{');
    for (size_t i = 0; rc == KILN_OK && i < nv; i++) {
        kq_req gr = {0};
        kq_buf s = {0};
        kiln_query_buf_putc(&s, '{');
        if (inner.n) {
            kiln_query_buf_put(&s, inner.p, inner.n);
            kiln_query_buf_putc(&s, ',');
        }
        kiln_query_buf_puts(&s, label);
        kiln_query_buf_putc(&s, '=');
        sel_value(&s, vals[i]);
        kiln_query_buf_putc(&s, '}');
        gr.ptype = strdup(r->ptype);
        gr.selector = s.p;
        gr.start_ms = r->start_ms;
        gr.end_ms = r->end_ms;
        if (!gr.ptype || s.oom) rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
        if (rc == KILN_OK) {
            if (i) kiln_query_buf_putc(o, ',');
            kiln_query_buf_jstrz(o, vals[i]);
            kiln_query_buf_putc(o, ':');
            rc = json_timeline(o, x, &gr, err);
        }
        kiln_query_req_free(&gr);
    }
    kiln_query_buf_putc(o, '}');
    kiln_query_strv_free(vals, nv);
    kiln_query_req_free(&lr);
    kiln_query_buf_free(&m);
    kiln_query_buf_free(&inner);
    return rc;
}

static const char *speedscope_unit(const char *u)
{
    if (!strcmp(u, "nanoseconds") || !strcmp(u, "microseconds") || !strcmp(u, "milliseconds") ||
        !strcmp(u, "seconds") || !strcmp(u, "bytes"))
        return u;
    return "none";
}

static int render(kq_exec *x, const char *const *p, kq_reply *out, kiln_err *err)
{
    kq_req r = {0};
    kq_ptype pt = {0};
    kq_tree t;
    int have_tree = 0;
    int64_t mn;
    const char *fmt = p[KQ_P_FORMAT] && *p[KQ_P_FORMAT] ? p[KQ_P_FORMAT] : "json";
    int rc = split_query(p[KQ_P_QUERY], &r, &pt, err);
    if (rc == KILN_OK) rc = range_ms(p[KQ_P_FROM], p[KQ_P_UNTIL], x->now_ns, &r, err);
    if (rc == KILN_OK) rc = max_nodes_param(x, p, &r, &mn, err);
    if (rc != KILN_OK) goto out;
    if (!strcmp(fmt, "pprof") || !strcmp(fmt, "dot")) {
        int dot = fmt[0] == 'd';
        kiln_arena *a = kiln_arena_new(0);
        kiln_pprof *prof = NULL;
        if (!a) rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
        else rc = kiln_query_exec_pprof(x, &r, a, &prof, err);
        if (rc == KILN_OK && !prof) rc = kiln_err_set(err, KILN_ENOTFOUND, "no profiles match the query");
        uint8_t *b = NULL;
        size_t n = 0;
        if (rc == KILN_OK && dot) {
            /* pprof's default of 80 nodes unless maxNodes is given */
            int given = (p[KQ_P_MAXNODES] && *p[KQ_P_MAXNODES]) || (p[KQ_P_MAX_NODES] && *p[KQ_P_MAX_NODES]);
            rc = kiln_query_pprof_dot(prof, given ? mn : 80, &out->body, err);
            out->ctype = "text/vnd.graphviz; charset=utf-8";
        } else if (rc == KILN_OK) {
            rc = kiln_pprof_encode(prof, 6, &b, &n, err);
        }
        if (rc == KILN_OK && !dot) {
            kiln_query_buf_put(&out->body, b, n);
            out->ctype = "application/octet-stream";
            out->disposition = "attachment; filename=\"profile.pb.gz\"";
        }
        free(b);
        kiln_arena_destroy(a);
        goto out;
    }
    int is_json = !strcmp(fmt, "json");
    int is_folded = !strcmp(fmt, "folded") || !strcmp(fmt, "collapsed");
    int is_ss = !strcmp(fmt, "speedscope");
    if (!is_json && !is_folded && !is_ss) {
        rc = kiln_err_set(err, KILN_EINVAL,
                          "format %s is not supported (json, pprof, dot, folded, collapsed, speedscope)", fmt);
        goto out;
    }
    if ((rc = kiln_query_tree_init(&t, 1, err)) != KILN_OK) goto out;
    have_tree = 1;
    if ((rc = kiln_query_exec_tree(x, &r, &t, 0, err)) != KILN_OK ||
        (rc = kiln_query_tree_finish(&t, err)) != KILN_OK)
        goto out;
    if (is_folded) {
        kiln_query_tree_folded(&t, 0, &out->body);
        out->ctype = "text/plain; charset=utf-8";
        goto out;
    }
    if (is_ss) {
        kiln_query_tree_speedscope(&t, 0, r.ptype, speedscope_unit(pt.sample_unit), &out->body);
        out->ctype = "application/json";
        out->disposition = "attachment; filename=\"profile.speedscope.json\"";
        goto out;
    }
    kq_flame f;
    if ((rc = kiln_query_flame(&t, mn, &f, err)) != KILN_OK) goto out;
    kq_buf *o = &out->body;
    kiln_query_buf_puts(o, "{\"version\":1,");
    json_flamebearer(o, &f);
    kiln_query_buf_putc(o, ',');
    json_metadata(o, &pt, "single");
    kiln_query_buf_puts(o, ",\"timeline\":");
    rc = json_timeline(o, x, &r, err);
    if (rc == KILN_OK) {
        kiln_query_buf_puts(o, ",\"groups\":");
        if (p[KQ_P_GROUPBY] && *p[KQ_P_GROUPBY]) rc = json_groups(o, x, &r, &pt, p[KQ_P_GROUPBY], err);
        else kiln_query_buf_puts(o, "null");
    }
    kiln_query_buf_puts(o, ",\"heatmap\":null}");
    out->ctype = "application/json";
    kiln_query_flame_free(&f);
out:
    if (have_tree) kiln_query_tree_free(&t);
    kiln_query_ptype_free(&pt);
    kiln_query_req_free(&r);
    return rc;
}

static int render_diff(kq_exec *x, const char *const *p, kq_reply *out, kiln_err *err)
{
    kq_req l = {0}, r = {0};
    kq_ptype lp = {0}, rp = {0};
    kq_tree t;
    int have_tree = 0;
    int64_t mn;
    int rc = split_query(p[KQ_P_LEFT_QUERY], &l, &lp, err);
    if (rc != KILN_OK) kiln_err_prefix(err, "leftQuery");
    if (rc == KILN_OK && (rc = split_query(p[KQ_P_RIGHT_QUERY], &r, &rp, err)) != KILN_OK)
        kiln_err_prefix(err, "rightQuery");
    if (rc == KILN_OK && strcmp(lp.id, rp.id))
        rc = kiln_err_set(err, KILN_EINVAL, "left and right queries must have the same profile type (%s, %s)",
                          lp.id, rp.id);
    if (rc == KILN_OK) rc = range_ms(p[KQ_P_LEFT_FROM], p[KQ_P_LEFT_UNTIL], x->now_ns, &l, err);
    if (rc == KILN_OK) rc = range_ms(p[KQ_P_RIGHT_FROM], p[KQ_P_RIGHT_UNTIL], x->now_ns, &r, err);
    if (rc == KILN_OK) rc = max_nodes_param(x, p, &l, &mn, err);
    if (rc == KILN_OK && (rc = kiln_query_tree_init(&t, 2, err)) == KILN_OK) have_tree = 1;
    if (rc == KILN_OK) rc = kiln_query_exec_tree(x, &l, &t, 0, err);
    if (rc == KILN_OK) rc = kiln_query_exec_tree(x, &r, &t, 1, err);
    if (rc == KILN_OK) rc = kiln_query_tree_finish(&t, err);
    kq_flame f;
    if (rc == KILN_OK && (rc = kiln_query_flame(&t, mn, &f, err)) == KILN_OK) {
        kq_buf *o = &out->body;
        kiln_query_buf_puts(o, "{\"version\":1,");
        json_flamebearer(o, &f);
        kiln_query_buf_putc(o, ',');
        json_metadata(o, &lp, "double");
        kiln_query_buf_printf(o, ",\"leftTicks\":%" PRId64 ",\"rightTicks\":%" PRId64
                                 ",\"timeline\":null,\"groups\":null,\"heatmap\":null}",
                              f.left_ticks, f.right_ticks);
        out->ctype = "application/json";
        kiln_query_flame_free(&f);
    }
    if (have_tree) kiln_query_tree_free(&t);
    kiln_query_ptype_free(&lp);
    kiln_query_ptype_free(&rp);
    kiln_query_req_free(&l);
    kiln_query_req_free(&r);
    return rc;
}

/* label-values and labels: JSON string arrays. */
static int labels(kq_exec *x, const char *const *p, int values, kq_reply *out, kiln_err *err)
{
    kq_req r = {0};
    int what = values ? KQ_LABEL_VALUES : KQ_LABEL_NAMES;
    const char *label = p[KQ_P_LABEL] ? p[KQ_P_LABEL] : p[KQ_P_NAME];
    int rc = KILN_OK;
    if (values) {
        if (!label || !*label) return kiln_err_set(err, KILN_EINVAL, "label is required");
        if (!strcmp(label, KILN_LABEL_NAME)) what = KQ_PROFILE_TYPES;
        else if (!(r.name = strdup(label))) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    const char *q = p[KQ_P_QUERY];
    if (q && *q) {
        /* `<type>{sel}` or a bare selector */
        kq_buf m = {0};
        const char *br = strchr(q, '{');
        size_t tl = br ? (size_t)(br - q) : strlen(q);
        kiln_query_buf_putc(&m, '{');
        if (tl) {
            char *type = strndup(q, tl);
            kq_ptype pt;
            if (type && kiln_query_ptype_parse(type, &pt, err) == KILN_OK) {
                kiln_query_buf_puts(&m, "__profile_type__=");
                sel_value(&m, pt.id);
                kiln_query_ptype_free(&pt);
            } else if (type) {
                kiln_query_buf_puts(&m, "__name__=");
                sel_value(&m, type);
            }
            free(type);
        }
        kq_buf inner = {0};
        if (br) sel_inner(br, &inner);
        if (inner.n) {
            if (tl) kiln_query_buf_putc(&m, ',');
            kiln_query_buf_put(&m, inner.p, inner.n);
        }
        kiln_query_buf_putc(&m, '}');
        kiln_query_buf_free(&inner);
        if (m.oom || kiln_query_strv_add(&r.matchers, &r.n_matchers, m.p, m.n) != KILN_OK)
            rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
        kiln_query_buf_free(&m);
    }
    if (p[KQ_P_FROM] && *p[KQ_P_FROM]) r.start_ms = kiln_query_attime(p[KQ_P_FROM], x->now_ns) / 1000000;
    if (p[KQ_P_UNTIL] && *p[KQ_P_UNTIL]) r.end_ms = kiln_query_attime(p[KQ_P_UNTIL], x->now_ns) / 1000000;
    char **v = NULL;
    size_t n = 0;
    if (rc == KILN_OK) rc = kiln_query_exec_labels(x, &r, what, &v, &n, err);
    if (rc == KILN_OK) {
        kiln_query_buf_putc(&out->body, '[');
        for (size_t i = 0; i < n; i++) {
            if (i) kiln_query_buf_putc(&out->body, ',');
            kiln_query_buf_jstrz(&out->body, v[i]);
        }
        kiln_query_buf_putc(&out->body, ']');
        out->ctype = "application/json";
    }
    kiln_query_strv_free(v, n);
    kiln_query_req_free(&r);
    return rc;
}

static void share(kq_buf *o, int64_t v, int64_t total)
{
    kiln_query_buf_jdouble(o, total ? (double)v / (double)total : 0.0);
}

static int cmp_total(const void *a, const void *b)
{
    const kq_fn_row *x = a, *y = b;
    if (x->total != y->total) return x->total > y->total ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void json_rows(kq_buf *o, const kq_fn_row *rows, size_t n, int64_t total)
{
    kiln_query_buf_putc(o, '[');
    for (size_t i = 0; i < n; i++) {
        kiln_query_buf_puts(o, i ? ",{\"name\":" : "{\"name\":");
        kiln_query_buf_jstrz(o, rows[i].name);
        kiln_query_buf_printf(o, ",\"self\":%" PRId64 ",\"total\":%" PRId64 ",\"selfShare\":",
                              rows[i].self, rows[i].total);
        share(o, rows[i].self, total);
        kiln_query_buf_puts(o, ",\"totalShare\":");
        share(o, rows[i].total, total);
        kiln_query_buf_putc(o, '}');
    }
    kiln_query_buf_putc(o, ']');
}

static int findings(kq_exec *x, const char *const *p, kq_reply *out, kiln_err *err)
{
    kq_req r = {0};
    kq_ptype pt = {0};
    kq_tree t;
    int have_tree = 0;
    kq_fn_row *rows = NULL;
    size_t nr = 0;
    uint32_t *path = NULL;
    size_t np = 0;
    int64_t top = parse_i64(p[KQ_P_TOP], 10);
    int rc = split_query(p[KQ_P_QUERY], &r, &pt, err);
    if (rc == KILN_OK) rc = range_ms(p[KQ_P_FROM], p[KQ_P_UNTIL], x->now_ns, &r, err);
    if (rc == KILN_OK && top < 0) rc = kiln_err_set(err, KILN_EINVAL, "top must be >= 0 (0: all)");
    if (rc == KILN_OK && (rc = kiln_query_tree_init(&t, 1, err)) == KILN_OK) have_tree = 1;
    if (rc == KILN_OK) rc = kiln_query_exec_tree(x, &r, &t, 0, err);
    if (rc == KILN_OK) rc = kiln_query_tree_finish(&t, err);
    if (rc == KILN_OK) rc = kiln_query_tree_functions(&t, 0, &rows, &nr, err);
    if (rc == KILN_OK) rc = kiln_query_tree_hot_path(&t, 0, &path, &np, err);
    if (rc == KILN_OK) {
        int64_t total = kiln_query_tree_total(&t, 0);
        size_t k = top == 0 || (size_t)top > nr ? nr : (size_t)top;
        kq_buf *o = &out->body;
        kiln_query_buf_puts(o, "{\"profileType\":");
        kiln_query_buf_jstrz(o, pt.id);
        kiln_query_buf_puts(o, ",\"unit\":");
        kiln_query_buf_jstrz(o, pt.sample_unit);
        kiln_query_buf_printf(o, ",\"from\":%" PRId64 ",\"until\":%" PRId64 ",\"total\":%" PRId64
                                 ",\"functions\":%zu,\"topSelf\":",
                              r.start_ms, r.end_ms, total, nr);
        json_rows(o, rows, k, total);
        if (nr > 1) qsort(rows, nr, sizeof *rows, cmp_total);
        kiln_query_buf_puts(o, ",\"topTotal\":");
        json_rows(o, rows, k, total);
        kiln_query_buf_puts(o, ",\"hottestPath\":[");
        for (size_t i = 0; i < np; i++) {
            uint32_t nd = path[i], nm = t.name[nd];
            const char *s = kiln_query_tree_display(&t, nm);
            kiln_query_buf_puts(o, i ? ",{\"name\":" : "{\"name\":");
            kiln_query_buf_jstrz(o, s);
            kiln_query_buf_printf(o, ",\"self\":%" PRId64 ",\"total\":%" PRId64 ",\"share\":",
                                  t.self[0][nd], t.total[0][nd]);
            share(o, t.total[0][nd], total);
            kiln_query_buf_putc(o, '}');
        }
        kiln_query_buf_puts(o, "]}");
        out->ctype = "application/json";
    }
    free(rows);
    free(path);
    if (have_tree) kiln_query_tree_free(&t);
    kiln_query_ptype_free(&pt);
    kiln_query_req_free(&r);
    return rc;
}

void kiln_query_legacy(int route, kq_exec *x, const char *const *p, kq_reply *out)
{
    kiln_err err;
    kiln_err_clear(&err);
    out->status = 200;
    out->ctype = "application/json";
    out->disposition = NULL;
    int rc;
    switch (route) {
    case KQ_R_RENDER: rc = render(x, p, out, &err); break;
    case KQ_R_RENDER_DIFF: rc = render_diff(x, p, out, &err); break;
    case KQ_R_LABEL_VALUES: rc = labels(x, p, 1, out, &err); break;
    case KQ_R_LABELS: rc = labels(x, p, 0, out, &err); break;
    case KQ_R_FINDINGS: rc = findings(x, p, out, &err); break;
    default: rc = kiln_err_set(&err, KILN_ENOTFOUND, "no such route");
    }
    if (rc == KILN_OK && out->body.oom) rc = kiln_err_set(&err, KILN_ENOMEM, "out of memory");
    if (rc != KILN_OK) kiln_query_reply_error(out, rc, &err);
}
