/* exporters/query/qconnect.c — the Connect side of the query API: request
 * bodies of querier.v1.QuerierService methods decoded from application/proto
 * (protobuf-c, proto/querier.proto + proto/types.proto) or application/json
 * (protojson: lowerCamelCase or original field names, int64 as strings or
 * numbers, enums as names or numbers, unknown fields ignored as connect-go's
 * JSON codec does), responses encoded the same two ways, and Connect error
 * bodies and status codes (connect-go >= 1.16 table).
 *
 * Memory: a decoded kq_req owns copies of every string (the protobuf-c
 * message is freed before returning). Encoders write into the caller's
 * kq_buf; protobuf-c messages built for packing point at the result's data
 * and live on the stack or in malloc'ed arrays freed here.
 */
#include "query.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/proto/querier.pb-c.h>
#include <kiln/proto/types.pb-c.h>

const char *const kiln_query_method_names[KQ_M_COUNT] = {
    "ProfileTypes",  "LabelNames",         "LabelValues",        "Series",
    "SelectMergeStacktraces", "SelectMergeSpanProfile", "SelectMergeProfile", "SelectSeries",
    "Diff",          "GetProfileStats",
};

/* ---- errors -------------------------------------------------------------------------------- */

const char *kiln_query_connect_code(int status)
{
    switch (status) {
    case KILN_EINVAL: return "invalid_argument";
    case KILN_ENOTFOUND: return "not_found";
    case KILN_EAGAIN: return "unavailable";
    case KILN_EIO: return "unavailable";
    case KILN_ETOOBIG: return "resource_exhausted";
    case KILN_ELIMIT: return "resource_exhausted";
    case KILN_ENOMEM: return "resource_exhausted";
    case KILN_ECANCELED: return "unavailable";
    case KILN_EUNPROC: return "invalid_argument";
    default: return "internal";
    }
}

int kiln_query_connect_http(const char *code)
{
    static const struct {
        const char *c;
        int s;
    } t[] = {{"canceled", 499},          {"unknown", 500},           {"invalid_argument", 400},
             {"deadline_exceeded", 504}, {"not_found", 404},         {"already_exists", 409},
             {"permission_denied", 403}, {"resource_exhausted", 429}, {"failed_precondition", 400},
             {"aborted", 409},           {"out_of_range", 400},      {"unimplemented", 501},
             {"internal", 500},          {"unavailable", 503},       {"data_loss", 500},
             {"unauthenticated", 401}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(t[i].c, code)) return t[i].s;
    return 500;
}

void kiln_query_connect_error(kq_buf *out, const char *code, const char *msg)
{
    kiln_query_buf_puts(out, "{\"code\":");
    kiln_query_buf_jstrz(out, code);
    kiln_query_buf_puts(out, ",\"message\":");
    kiln_query_buf_jstrz(out, msg);
    kiln_query_buf_putc(out, '}');
}

/* ---- requests from proto ------------------------------------------------------------------- */

static int dup_str(char **dst, const char *s)
{
    if (!s) s = "";
    *dst = strdup(s);
    return *dst ? KILN_OK : KILN_ENOMEM;
}

static int dup_strv(char ***dst, size_t *n, char **v, size_t k)
{
    for (size_t i = 0; i < k; i++)
        if (kiln_query_strv_add(dst, n, v[i] ? v[i] : "", v[i] ? strlen(v[i]) : 0) != KILN_OK)
            return KILN_ENOMEM;
    return KILN_OK;
}

static int from_sts(kq_req *r, const Types__V1__StackTraceSelector *s)
{
    if (!s) return KILN_OK;
    for (size_t i = 0; i < s->n_call_site; i++) {
        const char *nm = s->call_site[i] && s->call_site[i]->name ? s->call_site[i]->name : "";
        if (kiln_query_strv_add(&r->call_site, &r->n_call_site, nm, strlen(nm)) != KILN_OK)
            return KILN_ENOMEM;
    }
    return KILN_OK;
}

static int from_smst(kq_req *r, const Querier__V1__SelectMergeStacktracesRequest *m)
{
    if (!m) return KILN_OK;
    if (dup_str(&r->ptype, m->profile_typeid) || dup_str(&r->selector, m->label_selector))
        return KILN_ENOMEM;
    r->start_ms = m->start;
    r->end_ms = m->end;
    r->has_max_nodes = m->has_max_nodes;
    r->max_nodes = m->max_nodes;
    r->format = m->has_format ? (int)m->format : 0;
    return from_sts(r, m->stack_trace_selector);
}

int kiln_query_decode_proto(int m, const uint8_t *d, size_t n, kq_req *r, kiln_err *err)
{
    memset(r, 0, sizeof *r);
    static const ProtobufCMessageDescriptor *const desc[KQ_M_COUNT] = {
        &querier__v1__profile_types_request__descriptor,
        &types__v1__label_names_request__descriptor,
        &types__v1__label_values_request__descriptor,
        &querier__v1__series_request__descriptor,
        &querier__v1__select_merge_stacktraces_request__descriptor,
        &querier__v1__select_merge_span_profile_request__descriptor,
        &querier__v1__select_merge_profile_request__descriptor,
        &querier__v1__select_series_request__descriptor,
        &querier__v1__diff_request__descriptor,
        &types__v1__get_profile_stats_request__descriptor,
    };
    ProtobufCMessage *msg = protobuf_c_message_unpack(desc[m], NULL, n, d);
    if (!msg)
        return kiln_err_set(err, KILN_EINVAL, "%s: the body is not a valid protobuf %s message",
                            kiln_query_method_names[m], desc[m]->name);
    int rc = KILN_OK;
    switch (m) {
    case KQ_M_PROFILE_TYPES: {
        Querier__V1__ProfileTypesRequest *q = (void *)msg;
        r->start_ms = q->start;
        r->end_ms = q->end;
        break;
    }
    case KQ_M_LABEL_NAMES: {
        Types__V1__LabelNamesRequest *q = (void *)msg;
        rc = dup_strv(&r->matchers, &r->n_matchers, q->matchers, q->n_matchers);
        r->start_ms = q->start;
        r->end_ms = q->end;
        break;
    }
    case KQ_M_LABEL_VALUES: {
        Types__V1__LabelValuesRequest *q = (void *)msg;
        rc = dup_str(&r->name, q->name);
        if (!rc) rc = dup_strv(&r->matchers, &r->n_matchers, q->matchers, q->n_matchers);
        r->start_ms = q->start;
        r->end_ms = q->end;
        break;
    }
    case KQ_M_SERIES: {
        Querier__V1__SeriesRequest *q = (void *)msg;
        rc = dup_strv(&r->matchers, &r->n_matchers, q->matchers, q->n_matchers);
        if (!rc) rc = dup_strv(&r->label_names, &r->n_label_names, q->label_names, q->n_label_names);
        r->start_ms = q->start;
        r->end_ms = q->end;
        break;
    }
    case KQ_M_SELECT_MERGE_STACKTRACES:
        rc = from_smst(r, (void *)msg);
        break;
    case KQ_M_SELECT_MERGE_SPAN_PROFILE: {
        Querier__V1__SelectMergeSpanProfileRequest *q = (void *)msg;
        if (dup_str(&r->ptype, q->profile_typeid) || dup_str(&r->selector, q->label_selector) ||
            dup_strv(&r->spans, &r->n_spans, q->span_selector, q->n_span_selector))
            rc = KILN_ENOMEM;
        r->start_ms = q->start;
        r->end_ms = q->end;
        r->has_max_nodes = q->has_max_nodes;
        r->max_nodes = q->max_nodes;
        r->format = q->has_format ? (int)q->format : 0;
        break;
    }
    case KQ_M_SELECT_MERGE_PROFILE: {
        Querier__V1__SelectMergeProfileRequest *q = (void *)msg;
        if (dup_str(&r->ptype, q->profile_typeid) || dup_str(&r->selector, q->label_selector))
            rc = KILN_ENOMEM;
        r->start_ms = q->start;
        r->end_ms = q->end;
        r->has_max_nodes = q->has_max_nodes;
        r->max_nodes = q->max_nodes;
        if (!rc) rc = from_sts(r, q->stack_trace_selector);
        break;
    }
    case KQ_M_SELECT_SERIES: {
        Querier__V1__SelectSeriesRequest *q = (void *)msg;
        if (dup_str(&r->ptype, q->profile_typeid) || dup_str(&r->selector, q->label_selector) ||
            dup_strv(&r->group_by, &r->n_group_by, q->group_by, q->n_group_by))
            rc = KILN_ENOMEM;
        r->start_ms = q->start;
        r->end_ms = q->end;
        r->step = q->step;
        r->aggregation = q->has_aggregation ? (int)q->aggregation : KQ_AGG_SUM;
        r->has_limit = q->has_limit;
        r->limit = q->limit;
        if (!rc) rc = from_sts(r, q->stack_trace_selector);
        break;
    }
    case KQ_M_DIFF: {
        Querier__V1__DiffRequest *q = (void *)msg;
        r->left = calloc(1, sizeof *r->left);
        r->right = calloc(1, sizeof *r->right);
        if (!r->left || !r->right) rc = KILN_ENOMEM;
        if (!rc && !q->left) rc = kiln_err_set(err, KILN_EINVAL, "Diff: left is required");
        if (!rc && !q->right) rc = kiln_err_set(err, KILN_EINVAL, "Diff: right is required");
        if (!rc) rc = from_smst(r->left, q->left);
        if (!rc) rc = from_smst(r->right, q->right);
        break;
    }
    default: break;
    }
    protobuf_c_message_free_unpacked(msg, NULL);
    if (rc == KILN_ENOMEM) rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
    if (rc != KILN_OK) kiln_query_req_free(r);
    return rc;
}

/* ---- requests from JSON ------------------------------------------------------------------------- */

static const kiln_json *jget(const kiln_json *o, const char *camel, const char *snake)
{
    return kiln_json_get(o, camel, snake);
}

static int j_str(const kiln_json *o, const char *camel, const char *snake, char **dst, kiln_err *err)
{
    const kiln_json *v = jget(o, camel, snake);
    if (!v || v->kind == KILN_JSON_NULL) return dup_str(dst, "") ? kiln_err_set(err, KILN_ENOMEM, "out of memory") : KILN_OK;
    if (v->kind != KILN_JSON_STR) return kiln_err_set(err, KILN_EINVAL, "%s: expected a string", camel);
    *dst = strndup(v->s, v->len);
    return *dst ? KILN_OK : kiln_err_set(err, KILN_ENOMEM, "out of memory");
}

static int j_strv(const kiln_json *o, const char *camel, const char *snake, char ***dst, size_t *n,
                  kiln_err *err)
{
    const kiln_json *v = jget(o, camel, snake);
    if (!v || v->kind == KILN_JSON_NULL) return KILN_OK;
    if (v->kind != KILN_JSON_ARR) return kiln_err_set(err, KILN_EINVAL, "%s: expected an array of strings", camel);
    for (size_t i = 0; i < v->n; i++) {
        if (v->items[i]->kind != KILN_JSON_STR)
            return kiln_err_set(err, KILN_EINVAL, "%s[%zu]: expected a string", camel, i);
        if (kiln_query_strv_add(dst, n, v->items[i]->s, v->items[i]->len) != KILN_OK)
            return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    return KILN_OK;
}

static int j_i64(const kiln_json *o, const char *camel, const char *snake, int64_t *dst, int *has,
                 kiln_err *err)
{
    const kiln_json *v = jget(o, camel, snake);
    if (has) *has = v && v->kind != KILN_JSON_NULL;
    int rc = kiln_json_int64(v, dst, err);
    if (rc != KILN_OK) kiln_err_prefix(err, "%s", camel);
    return rc;
}

/* An enum given by name (one of names[], or with the prefix) or number. */
static int j_enum(const kiln_json *o, const char *camel, const char *snake, const char *prefix,
                  const char *const *names, int nn, int *dst, int *has, kiln_err *err)
{
    const kiln_json *v = jget(o, camel, snake);
    if (has) *has = v && v->kind != KILN_JSON_NULL;
    if (!v || v->kind == KILN_JSON_NULL) return KILN_OK;
    if (v->kind == KILN_JSON_NUM) {
        int64_t x;
        if (kiln_json_int64(v, &x, err) != KILN_OK || x < INT32_MIN || x > INT32_MAX)
            return kiln_err_set(err, KILN_EINVAL, "%s: bad enum number", camel);
        *dst = (int)x;
        return KILN_OK;
    }
    if (v->kind == KILN_JSON_STR) {
        size_t pl = strlen(prefix);
        for (int i = 0; i < nn; i++)
            if (!strcmp(v->s, names[i]) ||
                (!strncmp(v->s, prefix, pl) && !strcmp(v->s + pl, names[i]))) {
                *dst = i;
                return KILN_OK;
            }
    }
    return kiln_err_set(err, KILN_EINVAL, "%s: unknown enum value", camel);
}

static int j_sts(const kiln_json *o, kq_req *r, kiln_err *err)
{
    const kiln_json *s = jget(o, "stackTraceSelector", "stack_trace_selector");
    if (!s || s->kind == KILN_JSON_NULL) return KILN_OK;
    if (s->kind != KILN_JSON_OBJ) return kiln_err_set(err, KILN_EINVAL, "stackTraceSelector: expected an object");
    const kiln_json *cs = jget(s, "callSite", "call_site");
    if (!cs || cs->kind == KILN_JSON_NULL) return KILN_OK;
    if (cs->kind != KILN_JSON_ARR) return kiln_err_set(err, KILN_EINVAL, "callSite: expected an array");
    for (size_t i = 0; i < cs->n; i++) {
        const kiln_json *nm = jget(cs->items[i], "name", NULL);
        if (cs->items[i]->kind != KILN_JSON_OBJ || (nm && nm->kind != KILN_JSON_STR))
            return kiln_err_set(err, KILN_EINVAL, "callSite[%zu]: expected {\"name\": \"...\"}", i);
        if (kiln_query_strv_add(&r->call_site, &r->n_call_site, nm ? nm->s : "", nm ? nm->len : 0) != KILN_OK)
            return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    return KILN_OK;
}

static const char *const format_names[] = {"UNSPECIFIED", "FLAMEGRAPH", "TREE", "DOT", "PPROF"};
static const char *const agg_names[] = {"SUM", "AVERAGE"};

static int j_smst(const kiln_json *o, kq_req *r, kiln_err *err)
{
    if (!o || o->kind != KILN_JSON_OBJ) return kiln_err_set(err, KILN_EINVAL, "expected a JSON object");
    int rc;
    if ((rc = j_str(o, "profileTypeID", "profile_typeID", &r->ptype, err)) ||
        (rc = j_str(o, "labelSelector", "label_selector", &r->selector, err)) ||
        (rc = j_i64(o, "start", NULL, &r->start_ms, NULL, err)) ||
        (rc = j_i64(o, "end", NULL, &r->end_ms, NULL, err)) ||
        (rc = j_i64(o, "maxNodes", "max_nodes", &r->max_nodes, &r->has_max_nodes, err)) ||
        (rc = j_enum(o, "format", NULL, "PROFILE_FORMAT_", format_names, 5, &r->format, NULL, err)) ||
        (rc = j_sts(o, r, err)))
        return rc;
    return KILN_OK;
}

int kiln_query_decode_json(int m, const uint8_t *d, size_t n, kq_req *r, kiln_err *err)
{
    memset(r, 0, sizeof *r);
    kiln_arena *a = kiln_arena_new(n * 2 + 1024);
    if (!a) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    kiln_json *o;
    int rc = kiln_json_parse(a, (const char *)d, n, 0, &o, err);
    if (rc == KILN_OK && o->kind != KILN_JSON_OBJ)
        rc = kiln_err_set(err, KILN_EINVAL, "json: the request must be an object");
    if (rc != KILN_OK) goto out;
    switch (m) {
    case KQ_M_PROFILE_TYPES:
    case KQ_M_LABEL_NAMES:
    case KQ_M_LABEL_VALUES:
    case KQ_M_SERIES:
        if ((rc = j_i64(o, "start", NULL, &r->start_ms, NULL, err)) ||
            (rc = j_i64(o, "end", NULL, &r->end_ms, NULL, err)))
            break;
        if (m != KQ_M_PROFILE_TYPES && (rc = j_strv(o, "matchers", NULL, &r->matchers, &r->n_matchers, err)))
            break;
        if (m == KQ_M_LABEL_VALUES && (rc = j_str(o, "name", NULL, &r->name, err))) break;
        if (m == KQ_M_SERIES)
            rc = j_strv(o, "labelNames", "label_names", &r->label_names, &r->n_label_names, err);
        break;
    case KQ_M_SELECT_MERGE_STACKTRACES: rc = j_smst(o, r, err); break;
    case KQ_M_SELECT_MERGE_SPAN_PROFILE:
        if ((rc = j_smst(o, r, err))) break;
        rc = j_strv(o, "spanSelector", "span_selector", &r->spans, &r->n_spans, err);
        break;
    case KQ_M_SELECT_MERGE_PROFILE: rc = j_smst(o, r, err); break;
    case KQ_M_SELECT_SERIES: {
        if ((rc = j_smst(o, r, err)) ||
            (rc = j_strv(o, "groupBy", "group_by", &r->group_by, &r->n_group_by, err)))
            break;
        const kiln_json *st = jget(o, "step", NULL);
        if ((rc = kiln_json_double(st, &r->step, err)) != KILN_OK) {
            kiln_err_prefix(err, "step");
            break;
        }
        r->aggregation = KQ_AGG_SUM;
        if ((rc = j_enum(o, "aggregation", NULL, "TIME_SERIES_AGGREGATION_TYPE_", agg_names, 2,
                         &r->aggregation, NULL, err)))
            break;
        rc = j_i64(o, "limit", NULL, &r->limit, &r->has_limit, err);
        break;
    }
    case KQ_M_DIFF:
        r->left = calloc(1, sizeof *r->left);
        r->right = calloc(1, sizeof *r->right);
        if (!r->left || !r->right) {
            rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
            break;
        }
        if ((rc = j_smst(jget(o, "left", NULL), r->left, err))) {
            kiln_err_prefix(err, "left");
            break;
        }
        if ((rc = j_smst(jget(o, "right", NULL), r->right, err))) kiln_err_prefix(err, "right");
        break;
    default: break;
    }
out:
    kiln_arena_destroy(a);
    if (rc != KILN_OK) {
        kiln_err_prefix(err, "%s", kiln_query_method_names[m]);
        kiln_query_req_free(r);
    }
    return rc;
}

/* ---- results ------------------------------------------------------------------------------------ */

void kiln_query_result_free(kq_result *r)
{
    kiln_query_strv_free(r->strs, r->n_strs);
    for (size_t i = 0; i < r->n_lsets; i++) kiln_labels_free(&r->lsets[i]);
    free(r->lsets);
    kiln_query_flame_free(&r->flame);
    if (r->have_tree) kiln_query_tree_free(&r->tree);
    kiln_arena_destroy(r->arena);
    kiln_query_buf_free(&r->text);
    kiln_query_series_free(r->series, r->n_series);
    memset(r, 0, sizeof *r);
}

static int pack(const ProtobufCMessage *m, kq_buf *out, kiln_err *err)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    if (kiln_query_buf_reserve(out, n) != 0) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    protobuf_c_message_pack(m, (uint8_t *)out->p + out->n);
    out->n += n;
    return KILN_OK;
}

/* Levels as protobuf-c messages pointing at the flame's arrays. */
static int flame_levels(const kq_flame *f, Querier__V1__Level **lv, Querier__V1__Level ***ptrs)
{
    *lv = calloc(f->n_levels ? f->n_levels : 1, sizeof **lv);
    *ptrs = calloc(f->n_levels ? f->n_levels : 1, sizeof **ptrs);
    if (!*lv || !*ptrs) return -1;
    for (size_t i = 0; i < f->n_levels; i++) {
        Querier__V1__Level init = QUERIER__V1__LEVEL__INIT;
        (*lv)[i] = init;
        (*lv)[i].n_values = f->level_len[i];
        (*lv)[i].values = f->levels[i];
        (*ptrs)[i] = &(*lv)[i];
    }
    return 0;
}

static int enc_flame_proto(const kq_flame *f, int method, kq_buf *out, kiln_err *err)
{
    Querier__V1__Level *lv = NULL, **ptrs = NULL;
    int rc;
    if (flame_levels(f, &lv, &ptrs) != 0) {
        rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
        goto done;
    }
    if (f->diff) {
        Querier__V1__FlameGraphDiff fg = QUERIER__V1__FLAME_GRAPH_DIFF__INIT;
        fg.n_names = f->n_names;
        fg.names = (char **)f->names;
        fg.n_levels = f->n_levels;
        fg.levels = ptrs;
        fg.has_total = fg.has_max_self = fg.has_leftticks = fg.has_rightticks = 1;
        fg.total = f->total;
        fg.max_self = f->max_self;
        fg.leftticks = f->left_ticks;
        fg.rightticks = f->right_ticks;
        Querier__V1__DiffResponse resp = QUERIER__V1__DIFF_RESPONSE__INIT;
        resp.flamegraph = &fg;
        rc = pack(&resp.base, out, err);
    } else {
        Querier__V1__FlameGraph fg = QUERIER__V1__FLAME_GRAPH__INIT;
        fg.n_names = f->n_names;
        fg.names = (char **)f->names;
        fg.n_levels = f->n_levels;
        fg.levels = ptrs;
        fg.has_total = fg.has_max_self = 1;
        fg.total = f->total;
        fg.max_self = f->max_self;
        if (method == KQ_M_SELECT_MERGE_SPAN_PROFILE) {
            Querier__V1__SelectMergeSpanProfileResponse resp =
                QUERIER__V1__SELECT_MERGE_SPAN_PROFILE_RESPONSE__INIT;
            resp.flamegraph = &fg;
            rc = pack(&resp.base, out, err);
        } else {
            Querier__V1__SelectMergeStacktracesResponse resp =
                QUERIER__V1__SELECT_MERGE_STACKTRACES_RESPONSE__INIT;
            resp.flamegraph = &fg;
            rc = pack(&resp.base, out, err);
        }
    }
done:
    free(lv);
    free(ptrs);
    return rc;
}

static void enc_flame_json(const kq_flame *f, kq_buf *o)
{
    kiln_query_buf_puts(o, "{\"flamegraph\":{\"names\":[");
    for (size_t i = 0; i < f->n_names; i++) {
        if (i) kiln_query_buf_putc(o, ',');
        kiln_query_buf_jstrz(o, f->names[i]);
    }
    kiln_query_buf_puts(o, "],\"levels\":[");
    for (size_t i = 0; i < f->n_levels; i++) {
        if (i) kiln_query_buf_putc(o, ',');
        if (!f->level_len[i]) {
            kiln_query_buf_puts(o, "{}");
            continue;
        }
        kiln_query_buf_puts(o, "{\"values\":[");
        for (size_t k = 0; k < f->level_len[i]; k++) {
            if (k) kiln_query_buf_putc(o, ',');
            kiln_query_buf_putc(o, '"');
            kiln_query_buf_i64(o, f->levels[i][k]);
            kiln_query_buf_putc(o, '"');
        }
        kiln_query_buf_puts(o, "]}");
    }
    kiln_query_buf_putc(o, ']');
    if (f->total) kiln_query_buf_printf(o, ",\"total\":\"%" PRId64 "\"", f->total);
    if (f->max_self) kiln_query_buf_printf(o, ",\"maxSelf\":\"%" PRId64 "\"", f->max_self);
    if (f->diff && f->left_ticks) kiln_query_buf_printf(o, ",\"leftTicks\":\"%" PRId64 "\"", f->left_ticks);
    if (f->diff && f->right_ticks) kiln_query_buf_printf(o, ",\"rightTicks\":\"%" PRId64 "\"", f->right_ticks);
    kiln_query_buf_puts(o, "}}");
}

static int enc_names(const kq_result *r, int json, kq_buf *o, kiln_err *err)
{
    if (json) {
        kiln_query_buf_puts(o, "{");
        if (r->n_strs) {
            kiln_query_buf_puts(o, "\"names\":[");
            for (size_t i = 0; i < r->n_strs; i++) {
                if (i) kiln_query_buf_putc(o, ',');
                kiln_query_buf_jstrz(o, r->strs[i]);
            }
            kiln_query_buf_putc(o, ']');
        }
        kiln_query_buf_putc(o, '}');
        return KILN_OK;
    }
    Types__V1__LabelNamesResponse m = TYPES__V1__LABEL_NAMES_RESPONSE__INIT;
    m.n_names = r->n_strs;
    m.names = r->strs;
    return pack(&m.base, o, err); /* LabelValuesResponse has the same shape */
}

static int enc_profile_types(const kq_result *r, int json, kq_buf *o, kiln_err *err)
{
    kq_ptype *pts = calloc(r->n_strs ? r->n_strs : 1, sizeof *pts);
    Types__V1__ProfileType *pm = calloc(r->n_strs ? r->n_strs : 1, sizeof *pm);
    Types__V1__ProfileType **pp = calloc(r->n_strs ? r->n_strs : 1, sizeof *pp);
    int rc = KILN_OK;
    size_t n = 0;
    if (!pts || !pm || !pp) {
        rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < r->n_strs; i++) {
        kiln_err e;
        if (kiln_query_ptype_parse(r->strs[i], &pts[n], &e) != KILN_OK) continue; /* not a type id */
        Types__V1__ProfileType init = TYPES__V1__PROFILE_TYPE__INIT;
        pm[n] = init;
        pm[n].id = pts[n].id;
        pm[n].name = pts[n].name;
        pm[n].sample_type = pts[n].sample_type;
        pm[n].sample_unit = pts[n].sample_unit;
        pm[n].period_type = pts[n].period_type;
        pm[n].period_unit = pts[n].period_unit;
        pp[n] = &pm[n];
        n++;
    }
    if (json) {
        kiln_query_buf_putc(o, '{');
        if (n) {
            kiln_query_buf_puts(o, "\"profileTypes\":[");
            for (size_t i = 0; i < n; i++) {
                static const char *const keys[] = {"ID", "name", "sampleType", "sampleUnit",
                                                   "periodType", "periodUnit"};
                const char *vals[] = {pm[i].id, pm[i].name, pm[i].sample_type, pm[i].sample_unit,
                                      pm[i].period_type, pm[i].period_unit};
                kiln_query_buf_puts(o, i ? ",{" : "{");
                int first = 1;
                for (int k = 0; k < 6; k++) {
                    if (!*vals[k]) continue;
                    kiln_query_buf_puts(o, first ? "\"" : ",\"");
                    kiln_query_buf_puts(o, keys[k]);
                    kiln_query_buf_puts(o, "\":");
                    kiln_query_buf_jstrz(o, vals[k]);
                    first = 0;
                }
                kiln_query_buf_putc(o, '}');
            }
            kiln_query_buf_putc(o, ']');
        }
        kiln_query_buf_putc(o, '}');
    } else {
        Querier__V1__ProfileTypesResponse m = QUERIER__V1__PROFILE_TYPES_RESPONSE__INIT;
        m.n_profile_types = n;
        m.profile_types = pp;
        rc = pack(&m.base, o, err);
    }
done:
    for (size_t i = 0; pts && i < n; i++) kiln_query_ptype_free(&pts[i]);
    free(pts);
    free(pm);
    free(pp);
    return rc;
}

static void json_labels(kq_buf *o, const kiln_labels *ls)
{
    kiln_query_buf_puts(o, "[");
    for (size_t k = 0; k < ls->n; k++) {
        kiln_query_buf_puts(o, k ? ",{\"name\":" : "{\"name\":");
        kiln_query_buf_jstrz(o, ls->v[k].name);
        kiln_query_buf_puts(o, ",\"value\":");
        kiln_query_buf_jstrz(o, ls->v[k].value);
        kiln_query_buf_putc(o, '}');
    }
    kiln_query_buf_puts(o, "]");
}

/* LabelPair messages of a label set (arrays malloc'ed; freed by the caller). */
static int pb_labels(const kiln_labels *ls, Types__V1__LabelPair **pairs, Types__V1__LabelPair ***ptrs)
{
    *pairs = calloc(ls->n ? ls->n : 1, sizeof **pairs);
    *ptrs = calloc(ls->n ? ls->n : 1, sizeof **ptrs);
    if (!*pairs || !*ptrs) return -1;
    for (size_t k = 0; k < ls->n; k++) {
        Types__V1__LabelPair init = TYPES__V1__LABEL_PAIR__INIT;
        (*pairs)[k] = init;
        (*pairs)[k].name = ls->v[k].name;
        (*pairs)[k].value = ls->v[k].value;
        (*ptrs)[k] = &(*pairs)[k];
    }
    return 0;
}

static int enc_series_labels(const kq_result *r, int json, kq_buf *o, kiln_err *err)
{
    if (json) {
        kiln_query_buf_putc(o, '{');
        if (r->n_lsets) {
            kiln_query_buf_puts(o, "\"labelsSet\":[");
            for (size_t i = 0; i < r->n_lsets; i++) {
                kiln_query_buf_puts(o, i ? ",{" : "{");
                if (r->lsets[i].n) {
                    kiln_query_buf_puts(o, "\"labels\":");
                    json_labels(o, &r->lsets[i]);
                }
                kiln_query_buf_putc(o, '}');
            }
            kiln_query_buf_putc(o, ']');
        }
        kiln_query_buf_putc(o, '}');
        return KILN_OK;
    }
    size_t n = r->n_lsets;
    Types__V1__Labels *lm = calloc(n ? n : 1, sizeof *lm);
    Types__V1__Labels **lp = calloc(n ? n : 1, sizeof *lp);
    Types__V1__LabelPair **pairs = calloc(n ? n : 1, sizeof *pairs);
    Types__V1__LabelPair ***pptrs = calloc(n ? n : 1, sizeof *pptrs);
    int rc = KILN_OK;
    if (!lm || !lp || !pairs || !pptrs) rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
    for (size_t i = 0; rc == KILN_OK && i < n; i++) {
        if (pb_labels(&r->lsets[i], &pairs[i], &pptrs[i]) != 0) {
            rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
            break;
        }
        Types__V1__Labels init = TYPES__V1__LABELS__INIT;
        lm[i] = init;
        lm[i].n_labels = r->lsets[i].n;
        lm[i].labels = pptrs[i];
        lp[i] = &lm[i];
    }
    if (rc == KILN_OK) {
        Querier__V1__SeriesResponse m = QUERIER__V1__SERIES_RESPONSE__INIT;
        m.n_labels_set = n;
        m.labels_set = lp;
        rc = pack(&m.base, o, err);
    }
    for (size_t i = 0; pairs && pptrs && i < n; i++) {
        free(pairs[i]);
        free(pptrs[i]);
    }
    free(lm);
    free(lp);
    free(pairs);
    free(pptrs);
    return rc;
}

static int enc_select_series(const kq_result *r, int json, kq_buf *o, kiln_err *err)
{
    size_t n = r->n_series;
    if (json) {
        kiln_query_buf_putc(o, '{');
        if (n) {
            kiln_query_buf_puts(o, "\"series\":[");
            for (size_t i = 0; i < n; i++) {
                const kq_series *s = &r->series[i];
                kiln_query_buf_puts(o, i ? ",{" : "{");
                int first = 1;
                if (s->labels.n) {
                    kiln_query_buf_puts(o, "\"labels\":");
                    json_labels(o, &s->labels);
                    first = 0;
                }
                if (s->n) {
                    kiln_query_buf_puts(o, first ? "\"points\":[" : ",\"points\":[");
                    for (size_t k = 0; k < s->n; k++) {
                        kiln_query_buf_puts(o, k ? ",{" : "{");
                        int f2 = 1;
                        if (s->pts[k].v != 0) {
                            kiln_query_buf_puts(o, "\"value\":");
                            kiln_query_buf_jdouble(o, s->pts[k].v);
                            f2 = 0;
                        }
                        if (s->pts[k].ts_ms)
                            kiln_query_buf_printf(o, "%s\"timestamp\":\"%" PRId64 "\"", f2 ? "" : ",",
                                                  s->pts[k].ts_ms);
                        kiln_query_buf_putc(o, '}');
                    }
                    kiln_query_buf_putc(o, ']');
                }
                kiln_query_buf_putc(o, '}');
            }
            kiln_query_buf_putc(o, ']');
        }
        kiln_query_buf_putc(o, '}');
        return KILN_OK;
    }
    Types__V1__Series *sm = calloc(n ? n : 1, sizeof *sm);
    Types__V1__Series **sp = calloc(n ? n : 1, sizeof *sp);
    Types__V1__LabelPair **pairs = calloc(n ? n : 1, sizeof *pairs);
    Types__V1__LabelPair ***pptrs = calloc(n ? n : 1, sizeof *pptrs);
    Types__V1__Point **pts = calloc(n ? n : 1, sizeof *pts);
    Types__V1__Point ***ptp = calloc(n ? n : 1, sizeof *ptp);
    int rc = KILN_OK;
    if (!sm || !sp || !pairs || !pptrs || !pts || !ptp) rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
    for (size_t i = 0; rc == KILN_OK && i < n; i++) {
        const kq_series *s = &r->series[i];
        pts[i] = calloc(s->n ? s->n : 1, sizeof **pts);
        ptp[i] = calloc(s->n ? s->n : 1, sizeof **ptp);
        if (!pts[i] || !ptp[i] || pb_labels(&s->labels, &pairs[i], &pptrs[i]) != 0) {
            rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
            break;
        }
        for (size_t k = 0; k < s->n; k++) {
            Types__V1__Point init = TYPES__V1__POINT__INIT;
            pts[i][k] = init;
            pts[i][k].value = s->pts[k].v;
            pts[i][k].timestamp = s->pts[k].ts_ms;
            ptp[i][k] = &pts[i][k];
        }
        Types__V1__Series init = TYPES__V1__SERIES__INIT;
        sm[i] = init;
        sm[i].n_labels = s->labels.n;
        sm[i].labels = pptrs[i];
        sm[i].n_points = s->n;
        sm[i].points = ptp[i];
        sp[i] = &sm[i];
    }
    if (rc == KILN_OK) {
        Querier__V1__SelectSeriesResponse m = QUERIER__V1__SELECT_SERIES_RESPONSE__INIT;
        m.n_series = n;
        m.series = sp;
        rc = pack(&m.base, o, err);
    }
    for (size_t i = 0; i < n; i++) {
        if (pairs) free(pairs[i]);
        if (pptrs) free(pptrs[i]);
        if (pts) free(pts[i]);
        if (ptp) free(ptp[i]);
    }
    free(sm);
    free(sp);
    free(pairs);
    free(pptrs);
    free(pts);
    free(ptp);
    return rc;
}

/* SelectMergeStacktracesResponse{pprof: PprofProfile{profile: <pprof>}} */
static int enc_pprof_field(const kq_result *r, int json, kq_buf *o, kiln_err *err)
{
    if (json) {
        kiln_query_buf_puts(o, "{\"pprof\":{\"profile\":");
        kiln_query_pprof_json(r->prof, o);
        kiln_query_buf_puts(o, "}}");
        return KILN_OK;
    }
    uint8_t *b;
    size_t n;
    int rc = kiln_pprof_encode(r->prof, 0, &b, &n, err);
    if (rc != KILN_OK) return rc;
    Querier__V1__PprofProfile pp = QUERIER__V1__PPROF_PROFILE__INIT;
    pp.has_profile = 1;
    pp.profile.data = b;
    pp.profile.len = n;
    Querier__V1__SelectMergeStacktracesResponse resp = QUERIER__V1__SELECT_MERGE_STACKTRACES_RESPONSE__INIT;
    resp.pprof = &pp;
    rc = pack(&resp.base, o, err);
    free(b);
    return rc;
}

/* SelectMergeStacktracesResponse{tree: <bytes>} or {dot: <text>} */
static int enc_text_field(const kq_result *r, int json, kq_buf *o, kiln_err *err)
{
    int dot = r->text_format == KQ_FMT_DOT;
    if (json) {
        kiln_query_buf_puts(o, dot ? "{\"dot\":" : "{\"tree\":\"");
        if (dot) kiln_query_buf_jstr(o, r->text.p ? r->text.p : "", r->text.n);
        else kiln_query_buf_base64(o, r->text.p, r->text.n);
        kiln_query_buf_puts(o, dot ? "}" : "\"}");
        return KILN_OK;
    }
    Querier__V1__SelectMergeStacktracesResponse resp = QUERIER__V1__SELECT_MERGE_STACKTRACES_RESPONSE__INIT;
    char *text = NULL;
    if (dot) {
        if (!(text = malloc(r->text.n + 1))) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
        if (r->text.n) memcpy(text, r->text.p, r->text.n);
        text[r->text.n] = 0;
        resp.dot = text;
    } else {
        resp.has_tree = 1;
        resp.tree.data = (uint8_t *)r->text.p;
        resp.tree.len = r->text.n;
    }
    int rc = pack(&resp.base, o, err);
    free(text);
    return rc;
}

int kiln_query_encode(const kq_result *r, int json, kq_buf *o, kiln_err *err)
{
    int rc = KILN_OK;
    switch (r->method) {
    case KQ_M_PROFILE_TYPES: rc = enc_profile_types(r, json, o, err); break;
    case KQ_M_LABEL_NAMES:
    case KQ_M_LABEL_VALUES: rc = enc_names(r, json, o, err); break;
    case KQ_M_SERIES: rc = enc_series_labels(r, json, o, err); break;
    case KQ_M_SELECT_MERGE_STACKTRACES:
    case KQ_M_SELECT_MERGE_SPAN_PROFILE:
    case KQ_M_DIFF:
        if (r->pprof_field) rc = enc_pprof_field(r, json, o, err);
        else if (r->text_format) rc = enc_text_field(r, json, o, err);
        else if (json) enc_flame_json(&r->flame, o);
        else rc = enc_flame_proto(&r->flame, r->method, o, err);
        break;
    case KQ_M_SELECT_MERGE_PROFILE:
        if (json) {
            if (r->prof) kiln_query_pprof_json(r->prof, o);
            else kiln_query_buf_puts(o, "{}");
        } else if (r->prof) {
            uint8_t *b;
            size_t n;
            if ((rc = kiln_pprof_encode(r->prof, 0, &b, &n, err)) == KILN_OK) {
                kiln_query_buf_put(o, b, n);
                free(b);
            }
        }
        break;
    case KQ_M_SELECT_SERIES: rc = enc_select_series(r, json, o, err); break;
    case KQ_M_GET_PROFILE_STATS:
        if (json) {
            kiln_query_buf_putc(o, '{');
            if (r->stats_any)
                kiln_query_buf_printf(o,
                                      "\"dataIngested\":true,\"oldestProfileTime\":\"%" PRId64
                                      "\",\"newestProfileTime\":\"%" PRId64 "\"",
                                      r->stats_oldest, r->stats_newest);
            kiln_query_buf_putc(o, '}');
        } else {
            Types__V1__GetProfileStatsResponse m = TYPES__V1__GET_PROFILE_STATS_RESPONSE__INIT;
            m.data_ingested = r->stats_any;
            m.oldest_profile_time = r->stats_oldest;
            m.newest_profile_time = r->stats_newest;
            rc = pack(&m.base, o, err);
        }
        break;
    default: rc = kiln_err_set(err, KILN_EINVAL, "unknown method");
    }
    if (rc == KILN_OK && o->oom) rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
    return rc;
}
