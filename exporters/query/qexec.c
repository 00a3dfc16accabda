/* exporters/query/qexec.c — running queries over snapshots of the store.
 *
 * Every query reads, for each tenant of the request, the sources
 * (visible blocks and head views) overlapping its time range, selects the
 * series with kiln_block_select (the selector's matchers plus
 * __profile_type__ = the type id), and reads only those series' samples.
 *
 * Stacks: per source, sample values are first summed per block stack id
 * into a dense array (so 400 million samples cost 400 million additions,
 * not 400 million tree walks), the stacks with a value are prefetched in
 * few reads, then each is resolved once into the merged tree.
 *
 * Times: requests carry Unix ms; [start, end] is inclusive as in
 * Pyroscope, so the ns range read is [start ms, end ms + 1 ms).
 *
 * Errors: bad requests are KILN_EINVAL (invalid_argument); a block that
 * vanished during the query (compaction) is KILN_EAGAIN (unavailable:
 * retry) after the tenant's listing is marked stale.
 *
 * Memory: results are malloc'ed for the caller (see each function); work
 * arrays are freed before returning.
 */
#define _GNU_SOURCE
#include "query.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000LL
#define MAX_POINTS 100000

void kiln_query_req_free(kq_req *r)
{
    if (!r) return;
    free(r->ptype);
    free(r->selector);
    kiln_query_strv_free(r->matchers, r->n_matchers);
    free(r->name);
    kiln_query_strv_free(r->label_names, r->n_label_names);
    kiln_query_strv_free(r->group_by, r->n_group_by);
    kiln_query_strv_free(r->call_site, r->n_call_site);
    kiln_query_strv_free(r->spans, r->n_spans);
    if (r->left) {
        kiln_query_req_free(r->left);
        free(r->left);
    }
    if (r->right) {
        kiln_query_req_free(r->right);
        free(r->right);
    }
    memset(r, 0, sizeof *r);
}

int kiln_query_strv_add(char ***v, size_t *n, const char *s, size_t len)
{
    char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv) return KILN_ENOMEM;
    *v = nv;
    if (!(nv[*n] = strndup(s, len))) return KILN_ENOMEM;
    (*n)++;
    return KILN_OK;
}

int kiln_query_max_nodes(const kq_limits *lim, const kq_req *r, int64_t *out, kiln_err *err)
{
    int64_t v = r->has_max_nodes ? r->max_nodes : 0;
    if (v < 0)
        return kiln_err_set(err, KILN_EINVAL, "max_nodes must be positive, got %" PRId64, v);
    if (v == 0) v = lim->max_nodes_default;
    if (lim->max_nodes_max > 0 && v > lim->max_nodes_max)
        return kiln_err_set(err, KILN_EINVAL, "max_nodes (%" PRId64 ") exceeds the limit (%" PRId64 ")",
                            v, lim->max_nodes_max);
    *out = v;
    return KILN_OK;
}

static void fmt_dur(int64_t ns, char *buf, size_t cap)
{
    int64_t s = ns / 1000000000LL;
    if (s % 3600 == 0) snprintf(buf, cap, "%" PRId64 "h", s / 3600);
    else if (s % 60 == 0) snprintf(buf, cap, "%" PRId64 "m", s / 60);
    else snprintf(buf, cap, "%" PRId64 "s", s);
}

/* The ns range of a request, checked against max_query_length. */
static int time_range(const kq_exec *x, const kq_req *r, int64_t *from, int64_t *to, kiln_err *err)
{
    if (r->end_ms < r->start_ms)
        return kiln_err_set(err, KILN_EINVAL,
                            "invalid time range: end (%" PRId64 ") is before start (%" PRId64 ")",
                            r->end_ms, r->start_ms);
    if (r->start_ms < INT64_MIN / MS + 1 || r->end_ms > INT64_MAX / MS - 1)
        return kiln_err_set(err, KILN_EINVAL, "time range out of bounds");
    int64_t len = (r->end_ms - r->start_ms);
    if (x->lim->max_query_length_ns > 0 && len > x->lim->max_query_length_ns / MS) {
        char a[32], b[32];
        fmt_dur(len * MS, a, sizeof a);
        fmt_dur(x->lim->max_query_length_ns, b, sizeof b);
        return kiln_err_set(err, KILN_EINVAL,
                            "the query time range exceeds the limit (max_query_length, actual: %s, "
                            "limit: %s)",
                            a, b);
    }
    *from = r->start_ms * MS;
    *to = r->end_ms * MS + MS;
    return KILN_OK;
}

/* The matchers of a Select* request: its selector + __profile_type__. */
static int select_matchers(const kq_req *r, kq_selector *sel, kq_ptype *pt, kiln_err *err)
{
    memset(sel, 0, sizeof *sel);
    memset(pt, 0, sizeof *pt);
    if (!r->ptype || !*r->ptype)
        return kiln_err_set(err, KILN_EINVAL, "profile_typeID is required");
    int rc = kiln_query_ptype_parse(r->ptype, pt, err);
    if (rc == KILN_OK && r->selector)
        rc = kiln_query_selector_parse(r->selector, strlen(r->selector), sel, err);
    if (rc == KILN_OK) rc = kiln_query_selector_add(sel, KILN_LABEL_PROFILE_TYPE, KILN_MATCH_EQ, pt->id, err);
    if (rc != KILN_OK) {
        kiln_query_selector_free(sel);
        kiln_query_ptype_free(pt);
    }
    return rc;
}

static int select_ids(kiln_block *b, const kq_selector *sel, int64_t from, int64_t to, uint32_t **ids,
                      size_t *n, kiln_err *err)
{
    kiln_block_matcher bm[KQ_SELECTOR_MAX_MATCHERS + 1];
    kiln_query_selector_block(sel, bm);
    return kiln_block_select(b, bm, sel->n, from, to, ids, n, err);
}

/* A read error during a query: a block removed by compaction since the
 * listing becomes a retriable error and marks the listing stale. */
static int read_failed(kq_exec *x, const char *tenant, int rc, kiln_err *err)
{
    if (rc == KILN_ENOTFOUND) {
        kiln_query_store_invalidate(x->store, tenant);
        kiln_err_prefix(err, "a block changed during the query (retry)");
        err->code = KILN_EAGAIN;
        err->retriable = 1;
        return KILN_EAGAIN;
    }
    return rc;
}

/* ---- stacks -------------------------------------------------------------------------------- */

typedef struct spanset {
    uint64_t *v;
    size_t n;
} spanset;

static int span_has(const spanset *s, uint64_t id)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->v[mid] == id) return 1;
        if (s->v[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int parse_spans(const kq_req *r, spanset *s, kiln_err *err)
{
    memset(s, 0, sizeof *s);
    if (!r->n_spans) return KILN_OK;
    s->v = malloc(r->n_spans * sizeof *s->v);
    if (!s->v) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->n_spans; i++) {
        const char *h = r->spans[i];
        size_t l = strlen(h);
        uint64_t v = 0;
        if (l == 0 || l > 16) goto bad;
        for (size_t k = 0; k < l; k++) {
            char c = h[k];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) goto bad;
            v = v << 4 | (uint64_t)d;
        }
        s->v[s->n++] = v;
        continue;
    bad:
        free(s->v);
        s->v = NULL;
        return kiln_err_set(err, KILN_EINVAL, "span_selector: \"%.40s\" is not a 16-hex-digit span id", h);
    }
    if (s->n > 1) qsort(s->v, s->n, sizeof *s->v, cmp_u64);
    return KILN_OK;
}

/* Sums the selected series' samples of one source per stack id, then
 * resolves every stack with a value into column col of t. */
static int tree_source(kiln_block *b, const uint32_t *ids, size_t nids, int64_t from, int64_t to,
                       const spanset *spans, kq_tree *t, int col, kiln_err *err)
{
    const kiln_block_meta *m = kiln_block_get_meta(b);
    size_t cap = (size_t)m->n_stacks + 1;
    int64_t *agg = calloc(cap, sizeof *agg);
    if (!agg) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    int rc = KILN_OK;
    for (size_t i = 0; i < nids && rc == KILN_OK; i++) {
        kiln_block_samples s;
        if ((rc = kiln_block_read_samples(b, ids[i], from, to, 1, &s, err)) != KILN_OK) break;
        for (size_t k = 0; k < s.n_samples; k++) {
            uint32_t st = s.stack[k];
            if (spans && spans->n && (!s.span || !span_has(spans, s.span[k]))) continue;
            if (st >= cap) {
                /* a head grew since its view was made */
                size_t nc = cap;
                while (nc <= st) nc *= 2;
                int64_t *na = realloc(agg, nc * sizeof *na);
                if (!na) {
                    rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
                    break;
                }
                memset(na + cap, 0, (nc - cap) * sizeof *na);
                agg = na;
                cap = nc;
            }
            agg[st] = (int64_t)((uint64_t)agg[st] + (uint64_t)s.value[k]);
        }
        kiln_block_samples_free(&s);
    }
    size_t nst = 0;
    uint32_t *stacks = NULL;
    if (rc == KILN_OK) {
        for (size_t i = 0; i < cap; i++) nst += agg[i] != 0;
        stacks = malloc((nst ? nst : 1) * sizeof *stacks);
        if (!stacks) rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    if (rc == KILN_OK) {
        size_t w = 0;
        for (size_t i = 0; i < cap; i++)
            if (agg[i]) stacks[w++] = (uint32_t)i;
        rc = kiln_block_prefetch_stacks(b, stacks, nst, err);
    }
    kq_resolver rs;
    if (rc == KILN_OK && nst) rc = kiln_query_resolver_init(&rs, t, b, err);
    if (rc == KILN_OK && nst) {
        for (size_t i = 0; i < nst && rc == KILN_OK; i++) {
            uint32_t node;
            if ((rc = kiln_query_resolve(&rs, stacks[i], &node, err)) != KILN_OK) break;
            t->self[col][node] = (int64_t)((uint64_t)t->self[col][node] + (uint64_t)agg[stacks[i]]);
            t->samples++;
        }
        kiln_query_resolver_free(&rs);
        t->finished = 0;
    }
    free(stacks);
    free(agg);
    return rc;
}

int kiln_query_exec_tree(kq_exec *x, const kq_req *r, kq_tree *t, int col, kiln_err *err)
{
    kq_selector sel;
    kq_ptype pt;
    int64_t from, to;
    int rc = time_range(x, r, &from, &to, err);
    if (rc != KILN_OK) return rc;
    if ((rc = select_matchers(r, &sel, &pt, err)) != KILN_OK) return rc;
    spanset spans;
    if ((rc = parse_spans(r, &spans, err)) != KILN_OK) goto out;
    for (size_t ti = 0; ti < x->n_tenants && rc == KILN_OK; ti++) {
        kq_snap snap;
        if ((rc = kiln_query_store_acquire(x->store, x->tenants[ti], from, to, &snap, err)) != KILN_OK)
            break;
        for (size_t i = 0; i < snap.n && rc == KILN_OK; i++) {
            uint32_t *ids;
            size_t n;
            if ((rc = select_ids(snap.v[i], &sel, from, to, &ids, &n, err)) != KILN_OK) break;
            if (n) rc = tree_source(snap.v[i], ids, n, from, to, r->n_spans ? &spans : NULL, t, col, err);
            free(ids);
            if (rc != KILN_OK) rc = read_failed(x, x->tenants[ti], rc, err);
        }
        kiln_query_store_release(&snap);
    }
    free(spans.v);
out:
    kiln_query_selector_free(&sel);
    kiln_query_ptype_free(&pt);
    return rc;
}

int kiln_query_exec_pprof(kq_exec *x, const kq_req *r, kiln_arena *a, kiln_pprof **out,
                          kiln_err *err)
{
    *out = NULL;
    kq_selector sel;
    kq_ptype pt;
    int64_t from, to;
    int rc = time_range(x, r, &from, &to, err);
    if (rc != KILN_OK) return rc;
    if ((rc = select_matchers(r, &sel, &pt, err)) != KILN_OK) return rc;
    kiln_pprof **parts = NULL;
    size_t n_parts = 0;
    for (size_t ti = 0; ti < x->n_tenants && rc == KILN_OK; ti++) {
        kq_snap snap;
        if ((rc = kiln_query_store_acquire(x->store, x->tenants[ti], from, to, &snap, err)) != KILN_OK)
            break;
        for (size_t i = 0; i < snap.n && rc == KILN_OK; i++) {
            uint32_t *ids;
            size_t n;
            if ((rc = select_ids(snap.v[i], &sel, from, to, &ids, &n, err)) != KILN_OK) break;
            kiln_pprof *p = NULL;
            if (n) rc = kiln_block_to_pprof(snap.v[i], ids, n, from, to, a, &p, err);
            free(ids);
            if (rc != KILN_OK) {
                rc = read_failed(x, x->tenants[ti], rc, err);
                break;
            }
            if (!p || p->n_sample == 0) continue;
            kiln_pprof **np = realloc(parts, (n_parts + 1) * sizeof *np);
            if (!np) {
                rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
                break;
            }
            parts = np;
            parts[n_parts++] = p;
        }
        kiln_query_store_release(&snap);
    }
    if (rc == KILN_OK && n_parts == 1) *out = parts[0];
    else if (rc == KILN_OK && n_parts > 1) rc = kiln_pprof_merge(a, parts, n_parts, out, err);
    free(parts);
    kiln_query_selector_free(&sel);
    kiln_query_ptype_free(&pt);
    return rc;
}

/* ---- series ------------------------------------------------------------------------------------ */

void kiln_query_series_free(kq_series *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        kiln_labels_free(&v[i].labels);
        free(v[i].pts);
    }
    free(v);
}

typedef struct group {
    kiln_labels labels;
    char *key;
    double *sum;
    uint32_t *cnt;
} group;

typedef struct groups {
    group *v;
    size_t n, cap, nb;
} groups;

/* The group of a series (created when new). */
static group *group_of(groups *g, kiln_block *b, uint32_t sid, char **by, size_t nby)
{
    kq_buf key = {0};
    for (size_t i = 0; i < nby; i++) {
        const char *v = kiln_block_series_label(b, sid, by[i]);
        kiln_query_buf_putc(&key, v ? '1' : '0');
        if (v) kiln_query_buf_put(&key, v, strlen(v) + 1);
    }
    kiln_query_buf_putc(&key, 0);
    if (key.oom) return NULL;
    for (size_t i = 0; i < g->n; i++)
        if (!memcmp(g->v[i].key, key.p, key.n)) {
            kiln_query_buf_free(&key);
            return &g->v[i];
        }
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 16;
        group *nv = realloc(g->v, nc * sizeof *nv);
        if (!nv) {
            kiln_query_buf_free(&key);
            return NULL;
        }
        g->v = nv;
        g->cap = nc;
    }
    group *e = &g->v[g->n];
    memset(e, 0, sizeof *e);
    e->key = key.p;
    e->sum = calloc(g->nb, sizeof *e->sum);
    e->cnt = calloc(g->nb, sizeof *e->cnt);
    if (!e->sum || !e->cnt) {
        free(e->sum);
        free(e->cnt);
        free(e->key);
        return NULL;
    }
    for (size_t i = 0; i < nby; i++) {
        const char *v = kiln_block_series_label(b, sid, by[i]);
        if (v && kiln_labels_set(&e->labels, by[i], v) != KILN_OK) {
            kiln_labels_free(&e->labels);
            free(e->sum);
            free(e->cnt);
            free(e->key);
            return NULL;
        }
    }
    g->n++;
    return e;
}

static int cmp_series_labels(const void *a, const void *b)
{
    const kq_series *x = a, *y = b;
    char bx[4096], by[4096];
    kiln_labels_format(&x->labels, bx, sizeof bx);
    kiln_labels_format(&y->labels, by, sizeof by);
    return strcmp(bx, by);
}

static int cmp_series_sum(const void *a, const void *b)
{
    const kq_series *x = a, *y = b;
    if (x->sum != y->sum) return x->sum > y->sum ? -1 : 1;
    return cmp_series_labels(a, b);
}

int kiln_query_exec_select_series(kq_exec *x, const kq_req *r, kq_series **out, size_t *n_out,
                                  kiln_err *err)
{
    *out = NULL;
    *n_out = 0;
    if (!(r->step > 0) || !isfinite(r->step))
        return kiln_err_set(err, KILN_EINVAL, "step must be a positive number of seconds");
    /* rounded to whole ms (no libm: plugins link only what libkiln gives them) */
    double stepms = r->step * 1000.0 + 0.5;
    int64_t step = stepms >= 9.2e18 ? INT64_MAX : (int64_t)stepms;
    if (step < 1) step = 1;
    kq_selector sel;
    kq_ptype pt;
    int64_t from, to;
    int rc = time_range(x, r, &from, &to, err);
    if (rc != KILN_OK) return rc;
    uint64_t nb = (uint64_t)(r->end_ms - r->start_ms) / (uint64_t)step + 2;
    if (nb > MAX_POINTS)
        return kiln_err_set(err, KILN_EINVAL,
                            "step too small for the range: %" PRIu64 " points (at most %d)", nb,
                            MAX_POINTS);
    if ((rc = select_matchers(r, &sel, &pt, err)) != KILN_OK) return rc;
    groups g = {NULL, 0, 0, (size_t)nb};
    for (size_t ti = 0; ti < x->n_tenants && rc == KILN_OK; ti++) {
        kq_snap snap;
        if ((rc = kiln_query_store_acquire(x->store, x->tenants[ti], from, to, &snap, err)) != KILN_OK)
            break;
        for (size_t i = 0; i < snap.n && rc == KILN_OK; i++) {
            uint32_t *ids;
            size_t n;
            if ((rc = select_ids(snap.v[i], &sel, from, to, &ids, &n, err)) != KILN_OK) break;
            for (size_t k = 0; k < n && rc == KILN_OK; k++) {
                group *gr = group_of(&g, snap.v[i], ids[k], r->group_by, r->n_group_by);
                if (!gr) {
                    rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
                    break;
                }
                kiln_block_samples s;
                if ((rc = kiln_block_read_samples(snap.v[i], ids[k], from, to, 0, &s, err)) != KILN_OK) {
                    rc = read_failed(x, x->tenants[ti], rc, err);
                    break;
                }
                for (size_t p = 0; p < s.n_profiles; p++) {
                    int64_t t = s.time_ns[p] / MS;
                    if (s.time_ns[p] < 0 && s.time_ns[p] % MS) t--;
                    int64_t d = t - r->start_ms;
                    uint64_t bk = d <= 0 ? 0 : ((uint64_t)d + (uint64_t)step - 1) / (uint64_t)step;
                    if (bk >= nb) continue;
                    gr->sum[bk] += (double)s.total[p];
                    gr->cnt[bk]++;
                }
                kiln_block_samples_free(&s);
            }
            free(ids);
        }
        kiln_query_store_release(&snap);
    }
    kq_series *res = NULL;
    if (rc == KILN_OK && g.n) {
        res = calloc(g.n, sizeof *res);
        if (!res) rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    size_t nres = 0;
    for (size_t i = 0; rc == KILN_OK && i < g.n; i++) {
        size_t np = 0;
        for (size_t k = 0; k < g.nb; k++) np += g.v[i].cnt[k] != 0;
        kq_series *s = &res[nres];
        s->pts = malloc((np ? np : 1) * sizeof *s->pts);
        if (!s->pts) {
            rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
            break;
        }
        for (size_t k = 0; k < g.nb; k++) {
            if (!g.v[i].cnt[k]) continue;
            double v = g.v[i].sum[k];
            if (r->aggregation == KQ_AGG_AVERAGE) v /= g.v[i].cnt[k];
            s->pts[s->n++] = (kq_point){r->start_ms + (int64_t)k * step, v};
            s->sum += v;
        }
        s->labels = g.v[i].labels;
        memset(&g.v[i].labels, 0, sizeof g.v[i].labels);
        nres++;
    }
    for (size_t i = 0; i < g.n; i++) {
        kiln_labels_free(&g.v[i].labels);
        free(g.v[i].key);
        free(g.v[i].sum);
        free(g.v[i].cnt);
    }
    free(g.v);
    if (rc != KILN_OK) {
        kiln_query_series_free(res, nres);
    } else if (nres) {
        if (r->has_limit && r->limit > 0 && (size_t)r->limit < nres) {
            qsort(res, nres, sizeof *res, cmp_series_sum);
            for (size_t i = (size_t)r->limit; i < nres; i++) {
                kiln_labels_free(&res[i].labels);
                free(res[i].pts);
            }
            nres = (size_t)r->limit;
        }
        if (nres > 1) qsort(res, nres, sizeof *res, cmp_series_labels);
        *out = res;
        *n_out = nres;
    }
    kiln_query_selector_free(&sel);
    kiln_query_ptype_free(&pt);
    return rc;
}

int kiln_query_exec_timeline(kq_exec *x, const kq_req *r, int64_t start_s, int64_t step_s, size_t n,
                             int64_t *buckets, kiln_err *err)
{
    memset(buckets, 0, n * sizeof *buckets);
    kq_selector sel;
    kq_ptype pt;
    int64_t from, to;
    int rc = time_range(x, r, &from, &to, err);
    if (rc != KILN_OK) return rc;
    if ((rc = select_matchers(r, &sel, &pt, err)) != KILN_OK) return rc;
    for (size_t ti = 0; ti < x->n_tenants && rc == KILN_OK; ti++) {
        kq_snap snap;
        if ((rc = kiln_query_store_acquire(x->store, x->tenants[ti], from, to, &snap, err)) != KILN_OK)
            break;
        for (size_t i = 0; i < snap.n && rc == KILN_OK; i++) {
            uint32_t *ids;
            size_t nid;
            if ((rc = select_ids(snap.v[i], &sel, from, to, &ids, &nid, err)) != KILN_OK) break;
            for (size_t k = 0; k < nid && rc == KILN_OK; k++) {
                kiln_block_samples s;
                if ((rc = kiln_block_read_samples(snap.v[i], ids[k], from, to, 0, &s, err)) != KILN_OK) {
                    rc = read_failed(x, x->tenants[ti], rc, err);
                    break;
                }
                for (size_t p = 0; p < s.n_profiles; p++) {
                    int64_t sec = s.time_ns[p] / 1000000000LL;
                    if (sec < start_s) continue;
                    uint64_t bk = (uint64_t)(sec - start_s) / (uint64_t)step_s;
                    if (bk < n) buckets[bk] = (int64_t)((uint64_t)buckets[bk] + (uint64_t)s.total[p]);
                }
                kiln_block_samples_free(&s);
            }
            free(ids);
        }
        kiln_query_store_release(&snap);
    }
    kiln_query_selector_free(&sel);
    kiln_query_ptype_free(&pt);
    return rc;
}

/* ---- labels, series, profile types -------------------------------------------------------------------- */

typedef struct strset {
    char **v;
    size_t n, cap;
} strset;

static int set_add(strset *s, const char *v)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        char **nv = realloc(s->v, nc * sizeof *nv);
        if (!nv) return -1;
        s->v = nv;
        s->cap = nc;
    }
    if (!(s->v[s->n] = strdup(v))) return -1;
    s->n++;
    /* keep it from growing without bound with duplicates: dedupe now and then */
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void set_unique(strset *s)
{
    if (!s->n) return;
    qsort(s->v, s->n, sizeof *s->v, cmp_str);
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (w && !strcmp(s->v[w - 1], s->v[i])) {
            free(s->v[i]);
            continue;
        }
        s->v[w++] = s->v[i];
    }
    s->n = w;
}

/* The matchers' selectors parsed (one kq_selector per matcher string). */
static int parse_matchers(const kq_req *r, kq_selector **sels, kiln_err *err)
{
    *sels = NULL;
    if (!r->n_matchers) return KILN_OK;
    *sels = calloc(r->n_matchers, sizeof **sels);
    if (!*sels) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->n_matchers; i++) {
        int rc = kiln_query_selector_parse(r->matchers[i], strlen(r->matchers[i]), &(*sels)[i], err);
        if (rc != KILN_OK) {
            for (size_t k = 0; k <= i; k++) kiln_query_selector_free(&(*sels)[k]);
            free(*sels);
            *sels = NULL;
            return rc;
        }
    }
    return KILN_OK;
}

static void free_matchers(kq_selector *sels, size_t n)
{
    for (size_t i = 0; sels && i < n; i++) kiln_query_selector_free(&sels[i]);
    free(sels);
}

/* The series of a source matching any selector (all when none), sorted. */
static int match_any(kiln_block *b, kq_selector *sels, size_t nsel, int64_t from, int64_t to,
                     uint32_t **ids, size_t *n, kiln_err *err)
{
    if (!nsel) {
        kq_selector none = {0};
        return select_ids(b, &none, from, to, ids, n, err);
    }
    size_t ns = kiln_block_series_count(b);
    uint8_t *hit = calloc(ns ? ns : 1, 1);
    if (!hit) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    int rc = KILN_OK;
    for (size_t i = 0; i < nsel && rc == KILN_OK; i++) {
        uint32_t *v;
        size_t k;
        if ((rc = select_ids(b, &sels[i], from, to, &v, &k, err)) != KILN_OK) break;
        for (size_t j = 0; j < k; j++)
            if (v[j] < ns) hit[v[j]] = 1;
        free(v);
    }
    size_t c = 0;
    for (size_t i = 0; i < ns; i++) c += hit[i];
    *ids = malloc((c ? c : 1) * sizeof **ids);
    if (rc == KILN_OK && !*ids) rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
    *n = 0;
    if (rc == KILN_OK)
        for (size_t i = 0; i < ns; i++)
            if (hit[i]) (*ids)[(*n)++] = (uint32_t)i;
    free(hit);
    return rc;
}

/* The ns range of a label request: start/end 0 mean "everything". */
static void label_range(const kq_req *r, int64_t *from, int64_t *to)
{
    *from = r->start_ms > 0 && r->start_ms < INT64_MAX / MS ? r->start_ms * MS : INT64_MIN;
    *to = r->end_ms > 0 && r->end_ms < INT64_MAX / MS - 1 ? r->end_ms * MS + MS : INT64_MAX;
}

int kiln_query_exec_labels(kq_exec *x, const kq_req *r, int what, char ***out, size_t *n,
                           kiln_err *err)
{
    *out = NULL;
    *n = 0;
    if (what == KQ_LABEL_VALUES && (!r->name || !*r->name))
        return kiln_err_set(err, KILN_EINVAL, "name (the label name) is required");
    const char *lname = what == KQ_PROFILE_TYPES ? KILN_LABEL_PROFILE_TYPE : r->name;
    kq_selector *sels;
    int rc = parse_matchers(r, &sels, err);
    if (rc != KILN_OK) return rc;
    int64_t from, to;
    label_range(r, &from, &to);
    strset set = {0};
    for (size_t ti = 0; ti < x->n_tenants && rc == KILN_OK; ti++) {
        kq_snap snap;
        if ((rc = kiln_query_store_acquire(x->store, x->tenants[ti], from, to, &snap, err)) != KILN_OK)
            break;
        for (size_t i = 0; i < snap.n && rc == KILN_OK; i++) {
            kiln_block *b = snap.v[i];
            const kiln_block_meta *m = kiln_block_get_meta(b);
            int whole = !r->n_matchers && from <= m->min_time_ns && to > m->max_time_ns &&
                        m->level != 0; /* heads grow: always check series times */
            if (whole) {
                const char **v;
                size_t k;
                rc = what == KQ_LABEL_NAMES ? kiln_block_label_names(b, &v, &k, err)
                                            : kiln_block_label_values(b, lname, &v, &k, err);
                for (size_t j = 0; rc == KILN_OK && j < k; j++)
                    if (set_add(&set, v[j]) != 0) rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
                free(v);
                continue;
            }
            uint32_t *ids;
            size_t k;
            if ((rc = match_any(b, sels, r->n_matchers, from, to, &ids, &k, err)) != KILN_OK) break;
            for (size_t j = 0; j < k && rc == KILN_OK; j++) {
                kiln_block_series_info si;
                if (kiln_block_series(b, ids[j], &si) != KILN_OK) continue;
                for (size_t q = 0; q < si.n_labels && rc == KILN_OK; q++) {
                    const char *v = what == KQ_LABEL_NAMES ? si.names[q]
                                    : !strcmp(si.names[q], lname) ? si.values[q] : NULL;
                    if (v && set_add(&set, v) != 0) rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
                }
                if (set.n > 65536) set_unique(&set);
            }
            free(ids);
        }
        kiln_query_store_release(&snap);
    }
    free_matchers(sels, r->n_matchers);
    if (rc != KILN_OK) {
        kiln_query_strv_free(set.v, set.n);
        return rc;
    }
    set_unique(&set);
    *out = set.v;
    *n = set.n;
    return KILN_OK;
}

typedef struct keyed {
    const char *key;
    kiln_labels ls;
} keyed;

static int cmp_keyed(const void *a, const void *b)
{
    return strcmp(((const keyed *)a)->key, ((const keyed *)b)->key);
}

int kiln_query_exec_series_labels(kq_exec *x, const kq_req *r, kiln_labels **out, size_t *n_out,
                                  kiln_err *err)
{
    *out = NULL;
    *n_out = 0;
    kq_selector *sels;
    int rc = parse_matchers(r, &sels, err);
    if (rc != KILN_OK) return rc;
    int64_t from, to;
    label_range(r, &from, &to);
    strset keys = {0};
    kiln_labels *res = NULL;
    size_t n = 0, cap = 0;
    for (size_t ti = 0; ti < x->n_tenants && rc == KILN_OK; ti++) {
        kq_snap snap;
        if ((rc = kiln_query_store_acquire(x->store, x->tenants[ti], from, to, &snap, err)) != KILN_OK)
            break;
        for (size_t i = 0; i < snap.n && rc == KILN_OK; i++) {
            kiln_block *b = snap.v[i];
            uint32_t *ids;
            size_t k;
            if ((rc = match_any(b, sels, r->n_matchers, from, to, &ids, &k, err)) != KILN_OK) break;
            for (size_t j = 0; j < k && rc == KILN_OK; j++) {
                kiln_block_series_info si;
                if (kiln_block_series(b, ids[j], &si) != KILN_OK) continue;
                kiln_labels ls = KILN_LABELS_INIT;
                for (size_t q = 0; q < si.n_labels && rc == KILN_OK; q++) {
                    int want = !r->n_label_names;
                    for (size_t z = 0; z < r->n_label_names && !want; z++)
                        want = !strcmp(r->label_names[z], si.names[q]);
                    if (want && kiln_labels_set(&ls, si.names[q], si.values[q]) != KILN_OK)
                        rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
                }
                char key[8192];
                size_t kl = kiln_labels_format(&ls, key, sizeof key);
                if (rc != KILN_OK || kl >= sizeof key) {
                    kiln_labels_free(&ls);
                    continue;
                }
                if (n == cap) {
                    cap = cap ? cap * 2 : 64;
                    kiln_labels *nv = realloc(res, cap * sizeof *nv);
                    if (!nv) {
                        kiln_labels_free(&ls);
                        rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
                        break;
                    }
                    res = nv;
                }
                if (set_add(&keys, key) != 0) {
                    kiln_labels_free(&ls);
                    rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
                    break;
                }
                res[n++] = ls;
            }
            free(ids);
        }
        kiln_query_store_release(&snap);
    }
    free_matchers(sels, r->n_matchers);
    if (rc == KILN_OK && n) {
        /* sort by the formatted label set and drop duplicates (the same
         * series in several blocks, or label sets cut down to label_names) */
        keyed *kv = malloc(n * sizeof *kv);
        if (!kv) {
            rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
        } else {
            for (size_t i = 0; i < n; i++) kv[i] = (keyed){keys.v[i], res[i]};
            qsort(kv, n, sizeof *kv, cmp_keyed);
            size_t w = 0;
            for (size_t i = 0; i < n; i++) {
                if (w && !strcmp(kv[w - 1].key, kv[i].key)) {
                    kiln_labels_free(&kv[i].ls);
                    continue;
                }
                kv[w++] = kv[i];
            }
            for (size_t i = 0; i < w; i++) res[i] = kv[i].ls;
            n = w;
            free(kv);
        }
    }
    kiln_query_strv_free(keys.v, keys.n);
    if (rc != KILN_OK) {
        for (size_t i = 0; i < n; i++) kiln_labels_free(&res[i]);
        free(res);
        return rc;
    }
    *out = res;
    *n_out = n;
    return KILN_OK;
}

int kiln_query_exec_stats(kq_exec *x, int *any, int64_t *oldest_ms, int64_t *newest_ms, kiln_err *err)
{
    *any = 0;
    *oldest_ms = *newest_ms = 0;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    int rc = KILN_OK;
    for (size_t ti = 0; ti < x->n_tenants && rc == KILN_OK; ti++) {
        kq_snap snap;
        if ((rc = kiln_query_store_acquire(x->store, x->tenants[ti], INT64_MIN, INT64_MAX, &snap, err)) !=
            KILN_OK)
            break;
        for (size_t i = 0; i < snap.n; i++) {
            const kiln_block_meta *m = kiln_block_get_meta(snap.v[i]);
            if (!m->n_profiles) continue;
            if (m->min_time_ns < lo) lo = m->min_time_ns;
            if (m->max_time_ns > hi) hi = m->max_time_ns;
            *any = 1;
        }
        kiln_query_store_release(&snap);
    }
    if (*any) {
        *oldest_ms = lo / MS;
        *newest_ms = hi / MS;
    }
    return rc;
}
