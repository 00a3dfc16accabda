/* exporters/debug/debug.c — the `debug` exporter: logs what it receives.
 *
 * verbosity basic:    one line per batch: profile count, samples, totals
 * verbosity normal:   one line per profile: tenant, labels, types, sample
 *                     count, the exact total of every sample type, bytes
 * verbosity detailed: normal, plus the top functions by flat value of the
 *                     default sample type (`top` lines)
 * Every level decodes the payload (the totals need it); `sampling_initial`
 * and `sampling_thereafter` thin the lines out as the Collector's debug
 * exporter does (the first N, then every Mth).
 *
 * Memory: the state owns nothing but its counters; consume only reads the
 * batch.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/kiln.h>

#include "debug_fmt.h"

enum { V_BASIC, V_NORMAL, V_DETAILED };

typedef struct debug_cfg {
    int verbosity;
    int64_t sampling_initial;
    int64_t sampling_thereafter;
    int64_t top;
} debug_cfg;

typedef struct debug_state {
    kiln_host *host;
    const debug_cfg *cfg;
    atomic_uint_fast64_t seen;
    kiln_counter *lines;
} debug_state;

static const kiln_cfg_field debug_fields[] = {
    {"verbosity", KILN_CFG_ENUM, "normal", offsetof(debug_cfg, verbosity),
     "basic: a line per batch; normal: a line per profile with totals; detailed: plus top functions",
     0, 0, 0, "basic|normal|detailed"},
    {"sampling_initial", KILN_CFG_INT, "0", offsetof(debug_cfg, sampling_initial),
     "log the first N profiles (or batches) in full; 0 logs all", 0, 0, -1, NULL},
    {"sampling_thereafter", KILN_CFG_INT, "1", offsetof(debug_cfg, sampling_thereafter),
     "after sampling_initial, log every Nth", 0, 1, -1, NULL},
    {"top", KILN_CFG_INT, "10", offsetof(debug_cfg, top),
     "functions listed per profile at verbosity detailed", 0, 0, 1000, NULL},
    {NULL, 0, NULL, 0, NULL, 0, 0, 0, NULL}};

static int debug_create(kiln_host *host, const void *cfg, void **state, kiln_err *err)
{
    debug_state *s = calloc(1, sizeof *s);
    if (!s) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    s->host = host;
    s->cfg = cfg;
    s->lines = host->vt->counter(host, "debug_lines_total", "Lines the debug exporter logged.", NULL);
    *state = s;
    return KILN_OK;
}

/* 1 if this item should be logged under the sampling settings. */
static int sampled(debug_state *s)
{
    /* as zap's sampler (which the Collector's debug exporter uses): the
     * first N, then the (N+M)th, (N+2M)th, ... counting from 1 */
    uint64_t n = atomic_fetch_add(&s->seen, 1) + 1;
    if (s->cfg->sampling_initial <= 0) return 1;
    if (n <= (uint64_t)s->cfg->sampling_initial) return 1;
    return (n - (uint64_t)s->cfg->sampling_initial) % (uint64_t)s->cfg->sampling_thereafter == 0;
}

static void log_top(debug_state *s, const kiln_pprof *p)
{
    int idx = p->default_sample_type > 0 && (size_t)p->default_sample_type < p->n_string_table
                  ? kiln_pprof_sample_index(p, p->string_table[p->default_sample_type])
                  : -1;
    if (idx < 0) idx = p->n_sample_type ? (int)p->n_sample_type - 1 : -1;
    if (idx < 0) return;
    kiln_pprof_fn_total *rows;
    size_t n;
    int64_t total;
    kiln_err err;
    if (kiln_pprof_top(p, (size_t)idx, &rows, &n, &total, &err) != KILN_OK) return;
    for (size_t i = 0; i < n && i < (size_t)s->cfg->top; i++) {
        char q[512];
        kiln_debug_quote(rows[i].name, q, sizeof q);
        kiln_log_info(s->host, "top rank=%zu flat=%" PRId64 " cum=%" PRId64 " function=%s", i + 1,
                      rows[i].flat, rows[i].cum, q);
    }
    free(rows);
}

static int log_profile(debug_state *s, const kiln_profile *pr, kiln_err *err)
{
    const kiln_pprof *p;
    int rc = kiln_payload_pprof(pr->payload, &p, err);
    if (rc != KILN_OK) return rc;
    const uint8_t *bytes;
    size_t blen = 0;
    kiln_err berr;
    if (kiln_payload_bytes(pr->payload, &bytes, &blen, NULL, &berr) != KILN_OK) blen = 0;
    char line[8192];
    size_t n = kiln_debug_format_profile(pr, p, blen, line, sizeof line);
    (void)n;
    kiln_log_info(s->host, "profile %s", line);
    kiln_counter_add(s->lines, 1);
    if (s->cfg->verbosity == V_DETAILED) log_top(s, p);
    return KILN_OK;
}

static int debug_consume(void *state, kiln_batch *b, kiln_err *err)
{
    debug_state *s = state;
    if (s->cfg->verbosity == V_BASIC) {
        kiln_debug_totals t;
        kiln_debug_totals_init(&t);
        for (size_t i = 0; i < b->n; i++) {
            const kiln_pprof *p;
            int rc = kiln_payload_pprof(b->v[i].payload, &p, err);
            if (rc != KILN_OK) return rc;
            kiln_debug_totals_add(&t, p);
        }
        if (!sampled(s)) return KILN_OK;
        char line[4096];
        kiln_debug_format_totals(&t, line, sizeof line);
        kiln_log_info(s->host, "batch profiles=%zu %s", b->n, line);
        kiln_counter_add(s->lines, 1);
        return KILN_OK;
    }
    for (size_t i = 0; i < b->n; i++) {
        if (!sampled(s)) {
            /* still decode: the exporter's job is to prove the data is usable */
            const kiln_pprof *p;
            int rc = kiln_payload_pprof(b->v[i].payload, &p, err);
            if (rc != KILN_OK) return rc;
            continue;
        }
        int rc = log_profile(s, &b->v[i], err);
        if (rc != KILN_OK) return rc;
    }
    return KILN_OK;
}

static void debug_destroy(void *state) { free(state); }

KILN_PLUGIN_DEFINE = {
    KILN_PLUGIN_HEADER,
    .kind = KILN_KIND_EXPORTER,
    .type = "debug",
    .doc = "Logs every profile it receives (tenant, labels, sample types, sample count and exact "
           "totals); for trying pipelines out and for tests.",
    .fields = debug_fields,
    .cfg_size = sizeof(debug_cfg),
    .create = debug_create,
    .consume = debug_consume,
    .destroy = debug_destroy,
};
