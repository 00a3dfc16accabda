/* processors/tenant_route/tenant_route.c — the `tenant_route` processor: its
 * config fields, validation, create (exporter ids resolved against the
 * pipeline) and consume.
 *
 * For each live profile of a batch, in order:
 *   1. the tenant: the first of `tenant_from` (header, label, default) that
 *      gives one; checked as dskit checks tenant IDs; the tenant label is
 *      removed if `remove_tenant_label`;
 *   2. the tenant's limits (its override, or the defaults): label limits,
 *      size limits, stack depth;
 *   3. the route: the first route whose tenants and matchers match sets
 *      route_mask to its exporters; else the default exporters, or the
 *      profile is dropped ("no_route") with `unmatched: drop`;
 * then, for the profiles still live, the per-tenant series limit.
 * Any violation fails the whole batch (nothing of it is exported; the
 * sender is told why: 400 labels/tenant, 413 size, 422 stack depth, 429
 * series limit) and counts the batch's profiles under that reason.
 *
 * Thread safety: the table is read-only after create; the series tracker
 * has its own lock; counters are atomic.
 *
 * Memory: the state owns its table, series tracker and per-route counter
 * array; the config belongs to the core.
 */
#include "tenant_route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F(name, type, def, member, doc, min, max, ev)                                              \
    {name, type, def, offsetof(kiln_troute_cfg, member), doc, 0, min, max, ev}

static const kiln_cfg_field troute_fields[] = {
    F("tenant_from", KILN_CFG_STRLIST, "[header, label, default]", tenant_from,
      "where the tenant comes from, first match wins: header (the receiver's X-Scope-OrgID unless "
      "it is \"anonymous\"), label (tenant_label), default (default_tenant)",
      0, 0, NULL),
    F("tenant_label", KILN_CFG_STRING, NULL, tenant_label,
      "series label holding the tenant for tenant_from: label", 0, 0, NULL),
    F("remove_tenant_label", KILN_CFG_BOOL, "false", remove_tenant_label,
      "remove tenant_label from the series labels", 0, 0, NULL),
    F("default_tenant", KILN_CFG_STRING, KILN_TENANT_DEFAULT, default_tenant,
      "the tenant for tenant_from: default", 0, 0, NULL),
    F("routes", KILN_CFG_NODE, NULL, routes,
      "list of {tenants: [...], match: {label: value or regex}, exporters: [...]}; the first "
      "matching route wins",
      0, 0, NULL),
    F("default_exporters", KILN_CFG_NODE, NULL, default_exporters,
      "exporters of profiles no route matches (unmatched: default); empty: all of the pipeline's",
      0, 0, NULL),
    F("unmatched", KILN_CFG_ENUM, "default", unmatched,
      "what happens to a profile no route matches: default (default_exporters) or drop (counted as "
      "no_route)",
      0, 0, "default|drop"),
    F("limits.max_label_names_per_series", KILN_CFG_INT, "30", limits.max_label_names_per_series,
      "labels per series at most (400); 0 = off", 0, -1, NULL),
    F("limits.max_label_name_length", KILN_CFG_INT, "1024", limits.max_label_name_length,
      "bytes per label name at most (400); 0 = off", 0, -1, NULL),
    F("limits.max_label_value_length", KILN_CFG_INT, "2048", limits.max_label_value_length,
      "bytes per label value at most (400); 0 = off", 0, -1, NULL),
    F("limits.max_series_per_tenant", KILN_CFG_INT, "0", limits.max_series_per_tenant,
      "series seen within series_idle_timeout per tenant at most (429); 0 = unlimited", 0, -1,
      NULL),
    F("limits.max_profile_size", KILN_CFG_BYTES, "0", limits.max_profile_size,
      "received (possibly compressed) bytes per profile at most (413); 0 = off", 0, -1, NULL),
    F("limits.max_profile_uncompressed_size", KILN_CFG_BYTES, "0",
      limits.max_profile_uncompressed_size,
      "uncompressed bytes per profile at most (413; gunzips, does not decode); 0 = off", 0, -1,
      NULL),
    F("limits.max_stack_depth", KILN_CFG_INT, "0", limits.max_stack_depth,
      "frames per stack at most (422; decodes the payload); 0 = off", 0, -1, NULL),
    F("limits.overrides", KILN_CFG_NODE, NULL, overrides,
      "per-tenant limits: {tenant: {limit: value, ...}}; unset limits are the defaults above", 0, 0,
      NULL),
    F("series_idle_timeout", KILN_CFG_DURATION, "1h", series_idle_timeout,
      "a series unseen this long no longer counts toward max_series_per_tenant", 1000000000, -1,
      NULL),
    F("max_tracked_tenants", KILN_CFG_INT, "10000", max_tracked_tenants,
      "tenants whose series are tracked at most; the least recently seen is forgotten past it", 1,
      -1, NULL),
    {NULL, 0, NULL, 0, NULL, 0, 0, 0, NULL}};

static int troute_validate(const void *vcfg, const kiln_node *node, kiln_err *err)
{
    kiln_troute_table t;
    int rc = kiln_troute_table_build(vcfg, node, &t, err);
    if (rc == KILN_OK) kiln_troute_table_free(&t);
    return rc;
}

static int64_t mono_clock(void *arg)
{
    (void)arg;
    return kiln_now_mono_ns();
}

void kiln_troute_set_clock(void *state, kiln_troute_clock_fn fn, void *arg)
{
    kiln_troute_state *s = state;
    s->now = fn ? fn : mono_clock;
    s->now_arg = arg;
}

static void troute_destroy(void *state)
{
    kiln_troute_state *s = state;
    if (!s) return;
    kiln_troute_table_free(&s->t);
    kiln_troute_series_free(s->series);
    free(s->routed);
    free(s);
}

static int troute_create(kiln_host *host, const void *vcfg, void **state, kiln_err *err)
{
    const kiln_troute_cfg *c = vcfg;
    kiln_troute_state *s = calloc(1, sizeof *s);
    if (!s) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    s->host = host;
    s->cfg = c;
    s->now = mono_clock;
    int rc = kiln_troute_table_build(c, NULL, &s->t, err);
    if (rc != KILN_OK) {
        free(s);
        return rc;
    }
    const char *const *ids = NULL;
    size_t n = 0;
    const kiln_host_vtbl *vt = host->vt;
    if (vt->size >= offsetof(kiln_host_vtbl, pipeline_exporters) + sizeof vt->pipeline_exporters &&
        vt->pipeline_exporters)
        vt->pipeline_exporters(host, &ids, &n);
    rc = kiln_troute_table_resolve(&s->t, ids, n, err);
    if (rc == KILN_OK && s->t.track_series) {
        s->series = kiln_troute_series_new((size_t)c->max_tracked_tenants, c->series_idle_timeout);
        if (!s->series) rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    s->routed = calloc(s->t.n_routes + 1, sizeof *s->routed);
    if (rc == KILN_OK && !s->routed) rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
    if (rc != KILN_OK) {
        troute_destroy(s);
        return rc;
    }
    char lb[64];
    for (int r = 0; r < KILN_TROUTE_R_COUNT; r++) {
        snprintf(lb, sizeof lb, "reason=\"%s\"", kiln_troute_reason_names[r]);
        s->rejected[r] = vt->counter(host, "tenant_route_rejected_profiles_total",
                                     "Profiles refused back to their sender, by the limit or rule they broke.",
                                     lb);
    }
    for (size_t i = 0; i <= s->t.n_routes; i++) {
        if (i < s->t.n_routes)
            snprintf(lb, sizeof lb, "route=\"%zu\"", i);
        else
            snprintf(lb, sizeof lb, "route=\"default\"");
        s->routed[i] = vt->counter(host, "tenant_route_routed_profiles_total",
                                   "Profiles routed, by route index (default: no route matched).", lb);
    }
    if (s->series)
        s->tenants = vt->gauge(host, "tenant_route_tracked_tenants",
                               "Tenants whose series are tracked for max_series_per_tenant.", NULL);
    *state = s;
    return KILN_OK;
}

/* ---- consume ---------------------------------------------------------------------------- */

typedef struct pstate {
    int route;   /* route index, n_routes for the default, -1 dropped */
    uint64_t h;  /* series hash */
    int added;   /* the series tracker added it for this batch */
} pstate;

static int reject(kiln_troute_state *s, kiln_batch *b, int reason, int rc)
{
    kiln_counter_add(s->rejected[reason], kiln_batch_live(b));
    return rc;
}

/* Step 1: the tenant of p, set on p (and the tenant label removed). */
static int choose_tenant(kiln_troute_state *s, kiln_profile *p, int *reason, kiln_err *err)
{
    const kiln_troute_cfg *c = s->cfg;
    const char *ten = NULL;
    int from = -1;
    for (size_t k = 0; k < s->t.n_from && !ten; k++) {
        switch (s->t.from[k]) {
        case KILN_TROUTE_FROM_HEADER:
            if (p->tenant && p->tenant[0] && strcmp(p->tenant, KILN_TENANT_DEFAULT) != 0) ten = p->tenant;
            break;
        case KILN_TROUTE_FROM_LABEL: {
            const char *v = kiln_labels_get(&p->labels, c->tenant_label);
            if (v && v[0]) ten = v;
            break;
        }
        default: ten = c->default_tenant; break;
        }
        if (ten) from = s->t.from[k];
    }
    char lb[200];
    if (!ten) {
        *reason = KILN_TROUTE_R_MISSING_TENANT;
        return kiln_err_set(err, KILN_EINVAL,
                            "no tenant for profile series '%s': no X-Scope-OrgID header%s%s%s",
                            kiln_troute_labels_str(&p->labels, lb, sizeof lb),
                            c->tenant_label ? " and no label \"" : "", c->tenant_label ? c->tenant_label : "",
                            c->tenant_label ? "\"" : "");
    }
    if (kiln_troute_tenant_valid(ten, err) != KILN_OK) {
        *reason = KILN_TROUTE_R_INVALID_TENANT;
        if (from == KILN_TROUTE_FROM_LABEL)
            kiln_err_prefix(err, "tenant from label \"%s\"", c->tenant_label);
        return KILN_EINVAL;
    }
    if (ten != p->tenant && (!p->tenant || strcmp(ten, p->tenant) != 0))
        if (kiln_profile_set_tenant(p, ten) != KILN_OK)
            return kiln_err_set(err, KILN_ENOMEM, "tenant_route: out of memory");
    if (c->remove_tenant_label) kiln_labels_del(&p->labels, c->tenant_label);
    return KILN_OK;
}

static int troute_consume(void *state, kiln_batch *b, kiln_err *err)
{
    kiln_troute_state *s = state;
    const kiln_troute_cfg *c = s->cfg;
    pstate small[16];
    pstate *ps = small;
    if (b->n > 16) {
        ps = malloc(b->n * sizeof *ps);
        if (!ps) return kiln_err_set(err, KILN_ENOMEM, "tenant_route: out of memory");
    }
    int rc = KILN_OK, reason = 0;
    for (size_t i = 0; i < b->n; i++) {
        kiln_profile *p = &b->v[i];
        ps[i].route = -1;
        ps[i].added = 0;
        if (p->flags & KILN_PROFILE_DROPPED) continue;
        rc = choose_tenant(s, p, &reason, err);
        if (rc != KILN_OK) goto fail;
        const kiln_troute_limits *lim = kiln_troute_limits_of(&s->t, &c->limits, p->tenant);
        rc = kiln_troute_check_labels(lim, &p->labels, &reason, err);
        if (rc != KILN_OK) goto fail;
        rc = kiln_troute_check_payload(lim, p, &reason, err);
        if (rc != KILN_OK) goto fail;
        int r = kiln_troute_match(&s->t, p->tenant, &p->labels);
        if (r >= 0) {
            p->route_mask = s->t.routes[r].exp.mask;
            ps[i].route = r;
        } else if (c->unmatched == KILN_TROUTE_UNMATCHED_DROP) {
            kiln_profile_drop(p, "no_route");
        } else {
            p->route_mask = s->t.def.mask;
            ps[i].route = (int)s->t.n_routes;
        }
    }
    if (s->series) {
        int64_t now = s->now(s->now_arg);
        for (size_t i = 0; i < b->n; i++) {
            kiln_profile *p = &b->v[i];
            if (p->flags & KILN_PROFILE_DROPPED) continue;
            const kiln_troute_limits *lim = kiln_troute_limits_of(&s->t, &c->limits, p->tenant);
            if (lim->max_series_per_tenant <= 0) continue;
            ps[i].h = kiln_labels_hash(&p->labels, 0);
            int ok = kiln_troute_series_admit(s->series, p->tenant, ps[i].h, lim->max_series_per_tenant,
                                              now, &ps[i].added);
            if (ok == 1) continue;
            for (size_t k = 0; k < i; k++)
                if (ps[k].added) kiln_troute_series_forget(s->series, b->v[k].tenant, ps[k].h);
            if (ok < 0) {
                rc = kiln_err_set(err, KILN_ENOMEM, "tenant_route: out of memory tracking series");
                goto out;
            }
            char lb[200];
            reason = KILN_TROUTE_R_SERIES;
            rc = kiln_err_set(err, KILN_ELIMIT,
                              "per-tenant series limit of %lld exceeded for tenant '%s' while adding series '%s'",
                              (long long)lim->max_series_per_tenant, p->tenant,
                              kiln_troute_labels_str(&p->labels, lb, sizeof lb));
            goto fail;
        }
        kiln_gauge_set(s->tenants, (int64_t)kiln_troute_series_tenants(s->series));
    }
    for (size_t i = 0; i < b->n; i++)
        if (ps[i].route >= 0 && !(b->v[i].flags & KILN_PROFILE_DROPPED))
            kiln_counter_add(s->routed[ps[i].route], 1);
    goto out;
fail:
    reject(s, b, reason, rc);
out:
    if (ps != small) free(ps);
    return rc;
}

KILN_PLUGIN_DEFINE = {
    KILN_PLUGIN_HEADER,
    .kind = KILN_KIND_PROCESSOR,
    .type = "tenant_route",
    .doc = "Sets each profile's tenant (header, label or default; validated as Pyroscope does), "
           "applies per-tenant limits (labels, series, size, stack depth) with clear errors to the "
           "sender, and routes profiles to a subset of the pipeline's exporters by tenant and label "
           "matchers (first matching route wins).",
    .fields = troute_fields,
    .cfg_size = sizeof(kiln_troute_cfg),
    .validate = troute_validate,
    .create = troute_create,
    .consume = troute_consume,
    .destroy = troute_destroy,
};
