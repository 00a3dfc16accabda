/* receivers/pprof/ingest_labels.c — what a profile received on /ingest is
 * called and labelled, as Pyroscope names it:
 *   - for pprof bodies (createLabels/metricName in Pyroscope's
 *     pkg/og/convert/pprof): the series `__name__` comes from the sample
 *     types, after display-name substitution (sample_type_config, or the
 *     built-in defaults);
 *   - for text bodies (folded; convertMetadata in ingest_adapter.go): from
 *     the app-name suffix after the last `.`.
 * Labels are written into a kiln_labels the caller owns (kiln_labels_free).
 * Nothing else is allocated. */
#define _GNU_SOURCE /* memmem */
#include "pprofrx.h"

#include <stdio.h>
#include <string.h>

/* Pyroscope's DefaultSampleTypeMapping, display names only. */
static const struct {
    const char *type, *display;
} default_display[] = {
    {"samples", "cpu"},
    {"goroutine", "goroutines"},
    {"contentions", "mutex_count"},
    {"delay", "mutex_duration"},
};

static int str_eq(kiln_str s, const char *lit)
{
    size_t l = strlen(lit);
    return s.len == l && memcmp(s.p, lit, l) == 0;
}

static int contains(kiln_str s, const char *lit)
{
    return memmem(s.p, s.len, lit, strlen(lit)) != NULL;
}

static kiln_str display_of(kiln_str t, const kiln_pprofrx_stc *stc)
{
    if (stc && stc->present) {
        for (size_t i = 0; i < stc->n; i++) {
            if (!str_eq(t, stc->v[i].key)) continue;
            const char *d = stc->v[i].display;
            if (d && *d) return (kiln_str){d, strlen(d)};
            return t;
        }
        return t;
    }
    for (size_t i = 0; i < sizeof default_display / sizeof default_display[0]; i++)
        if (str_eq(t, default_display[i].type))
            return (kiln_str){default_display[i].display, strlen(default_display[i].display)};
    return t;
}

void kiln_pprofrx_type_name(const kiln_str *types, size_t n, const kiln_pprofrx_stc *stc,
                            char *buf, size_t cap)
{
    const char *name = NULL;
    kiln_str st = {"", 0};
    for (size_t i = 0; i < n && !name; i++)
        if (str_eq(types[i], "wall")) name = "wall";
    for (size_t i = 0; i < n && !name; i++) {
        st = display_of(types[i], stc);
        if (contains(st, "cpu"))
            name = "process_cpu";
        else if (contains(st, "alloc_") || contains(st, "inuse_") || str_eq(st, "space") ||
                 str_eq(st, "objects"))
            name = "memory";
        else if (contains(st, "mutex_"))
            name = "mutex";
        else if (contains(st, "block_"))
            name = "block";
        else if (contains(st, "goroutines"))
            name = "goroutines";
    }
    if (!cap) return;
    if (name) {
        snprintf(buf, cap, "%s", name);
        return;
    }
    /* Pyroscope returns the last (substituted) sample type name */
    size_t l = st.len < cap - 1 ? st.len : cap - 1;
    memcpy(buf, st.p, l);
    buf[l] = 0;
}

/* Pyroscope's IsLabelAllowedForIngestion: no `__` names but __session_id__. */
static int allowed(kiln_str k)
{
    if (k.len >= 2 && k.p[0] == '_' && k.p[1] == '_') return str_eq(k, "__session_id__");
    return 1;
}

static int set(kiln_labels *out, const char *n, size_t nl, const char *v, size_t vl, kiln_err *err)
{
    if (kiln_labels_setn(out, n, nl, v, vl) != KILN_OK)
        return kiln_err_set(err, KILN_ENOMEM, "out of memory building labels");
    return KILN_OK;
}

int kiln_pprofrx_build_labels(kiln_labels *out, const kiln_pprofrx_labelset *ls,
                              const char *type_name, const char *spy, kiln_err *err)
{
    int rc;
    if ((rc = set(out, KILN_LABEL_NAME, 8, type_name, strlen(type_name), err)) ||
        (rc = set(out, KILN_LABEL_DELTA, 9, "false", 5, err)) ||
        (rc = set(out, KILN_LABEL_SERVICE_NAME, 12, ls->app.p, ls->app.len, err)) ||
        (rc = set(out, KILN_LABEL_SPY, 13, spy, strlen(spy), err)))
        return rc;
    for (size_t i = 0; i < ls->n; i++) {
        const kiln_pprofrx_tag *t = &ls->tags[i];
        if (!allowed(t->key)) continue;
        if ((rc = set(out, t->key.p, t->key.len, t->val.p, t->val.len, err))) return rc;
    }
    return KILN_OK;
}

int kiln_pprofrx_build_labels_text(kiln_labels *out, const kiln_pprofrx_labelset *ls,
                                   const char *metric, kiln_str app, const char *spy,
                                   kiln_err *err)
{
    int rc;
    if ((rc = set(out, KILN_LABEL_NAME, 8, metric, strlen(metric), err)) ||
        (rc = set(out, KILN_LABEL_DELTA, 9, "false", 5, err)))
        return rc;
    if (spy && *spy && (rc = set(out, KILN_LABEL_SPY, 13, spy, strlen(spy), err))) return rc;
    int has_service = 0;
    for (size_t i = 0; i < ls->n; i++) {
        const kiln_pprofrx_tag *t = &ls->tags[i];
        if (!allowed(t->key)) continue;
        if (str_eq(t->key, "service_name")) has_service = 1;
        if ((rc = set(out, t->key.p, t->key.len, t->val.p, t->val.len, err))) return rc;
    }
    if (!has_service) return set(out, KILN_LABEL_SERVICE_NAME, 12, app.p, app.len, err);
    if (!kiln_labels_get(out, "app_name")) return set(out, "app_name", 8, app.p, app.len, err);
    return KILN_OK;
}

/* convertMetadata's table. scale: the metric is process_cpu or wall, whose
 * counts become nanoseconds when a sample rate is known. */
static const struct {
    const char *suffix, *metric, *type, *unit;
    int scale;
} suffixes[] = {
    {"cpu", "process_cpu", "samples", "count", 1},
    {"wall", "wall", "samples", "count", 1},
    {"inuse_objects", "memory", "inuse_objects", "count", 0},
    {"inuse_space", "memory", "inuse_space", "bytes", 0},
    {"alloc_objects", "memory", "alloc_objects", "count", 0},
    {"alloc_space", "memory", "alloc_space", "bytes", 0},
    {"goroutines", "goroutine", "goroutines", "count", 0},
    {"mutex_count", "mutex", "contentions", "count", 0},
    {"mutex_duration", "mutex", "delay", "nanoseconds", 0},
    {"block_count", "block", "contentions", "count", 0},
    {"block_duration", "block", "delay", "nanoseconds", 0},
    {"itimer", "process_cpu", "samples", "count", 1},
    {"alloc_in_new_tlab_objects", "memory", "alloc_in_new_tlab_objects", "count", 0},
    {"alloc_in_new_tlab_bytes", "memory", "alloc_in_new_tlab_bytes", "bytes", 0},
    {"alloc_outside_tlab_objects", "memory", "alloc_outside_tlab_objects", "count", 0},
    {"alloc_outside_tlab_bytes", "memory", "alloc_outside_tlab_bytes", "bytes", 0},
    {"lock_count", "block", "contentions", "count", 0},
    {"lock_duration", "block", "delay", "nanoseconds", 0},
    {"live", "memory", "live", "count", 0},
    {"exceptions", "exceptions", "samples", "count", 0},
    {"seconds", "wall", "samples", "count", 1},
    {"nanoseconds", "wall", "samples", "count", 1},
    {"microseconds", "wall", "samples", "count", 1},
    {"milliseconds", "wall", "samples", "count", 1},
    {"bytes", "memory", "samples", "bytes", 0},
};

int kiln_pprofrx_suffix_type_of(const char *suffix, size_t len, kiln_pprofrx_suffix_type *out,
                                kiln_err *err)
{
    kiln_str s = {suffix, len};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        if (!str_eq(s, suffixes[i].suffix)) continue;
        out->name = suffixes[i].metric;
        out->sample_type = suffixes[i].type;
        out->sample_unit = suffixes[i].unit;
        out->period_type = NULL;
        out->period_unit = NULL;
        out->scale_by_rate = suffixes[i].scale;
        return KILN_OK;
    }
    return kiln_err_set(err, KILN_EINVAL, "name: unknown profile type: %.*s",
                        (int)(len > 100 ? 100 : len), suffix);
}

void kiln_pprofrx_split_app(kiln_str app, kiln_str *base, kiln_str *suffix)
{
    const char *dot = NULL;
    for (size_t i = app.len; i > 0; i--)
        if (app.p[i - 1] == '.') {
            dot = app.p + i - 1;
            break;
        }
    if (!dot) {
        *base = app;
        suffix->p = "cpu";
        suffix->len = 3;
        return;
    }
    base->p = app.p;
    base->len = (size_t)(dot - app.p);
    suffix->p = dot + 1;
    suffix->len = app.len - base->len - 1;
}
