/* processors/tenant_route/troute_config.c — the parsed routing table of the
 * `tenant_route` processor: tenant_from, routes (tenants, label matchers,
 * exporters), default_exporters and the per-tenant limit overrides, built
 * from the config with file:line:col errors, the exporter ids resolved to
 * route_mask bits, and the lookups consume uses (first matching route,
 * limits of a tenant).
 *
 * Label matchers: a value without regex metacharacters is compared
 * exactly; any other value is a POSIX extended regex (regcomp with
 * REG_EXTENDED), fully anchored as "^(value)$".
 *
 * Memory: the table owns its strings (malloc'ed copies), arrays and
 * compiled regexes; kiln_troute_table_free releases them. Node pointers in
 * the table point into the config tree and are only used for error
 * positions while building and resolving.
 */
#include "tenant_route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ---------------------------------------------------------------- */

static char *dupstr(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

static int oom(kiln_err *err) { return kiln_err_set(err, KILN_ENOMEM, "tenant_route: out of memory"); }

/* The items of a scalar-or-sequence node: *items, *n (a scalar is one item). */
static void as_list(const kiln_node *n, kiln_node *const **items, size_t *count, const kiln_node **one)
{
    if (n && n->kind == KILN_NODE_SEQ) {
        *items = n->items;
        *count = n->n;
    } else if (n && n->kind == KILN_NODE_SCALAR) {
        *one = n;
        *items = (kiln_node *const *)one;
        *count = 1;
    } else {
        *items = NULL;
        *count = 0;
    }
}

/* ---- exporter lists ---------------------------------------------------------------- */

static void exporters_free(kiln_troute_exporters *e)
{
    for (size_t i = 0; i < e->n; i++) free(e->ids[i]);
    free(e->ids);
    free(e->nodes);
    memset(e, 0, sizeof *e);
}

static int exporters_parse(const kiln_node *n, int required, kiln_troute_exporters *e, kiln_err *err)
{
    memset(e, 0, sizeof *e);
    if (!n || n->kind == KILN_NODE_NULL) {
        if (required) return kiln_node_err(err, n, "needs at least one exporter id");
        return KILN_OK;
    }
    if (n->kind != KILN_NODE_SEQ && n->kind != KILN_NODE_SCALAR)
        return kiln_node_err(err, n, "expected a list of exporter ids, got a mapping");
    kiln_node *const *items;
    size_t count;
    const kiln_node *one = NULL;
    as_list(n, &items, &count, &one);
    if (count == 0 && required) return kiln_node_err(err, n, "needs at least one exporter id");
    if (count > 64) return kiln_node_err(err, n, "at most 64 exporters");
    e->ids = calloc(count ? count : 1, sizeof *e->ids);
    e->nodes = calloc(count ? count : 1, sizeof *e->nodes);
    if (!e->ids || !e->nodes) {
        exporters_free(e);
        return oom(err);
    }
    for (size_t i = 0; i < count; i++) {
        const kiln_node *it = items[i];
        if (it->kind != KILN_NODE_SCALAR || !it->scalar[0]) {
            exporters_free(e);
            return kiln_node_err(err, it, "expected an exporter id such as \"debug\" or \"remote_write/a\"");
        }
        e->ids[i] = dupstr(it->scalar);
        e->nodes[i] = it;
        e->n = i + 1;
        if (!e->ids[i]) {
            exporters_free(e);
            return oom(err);
        }
    }
    return KILN_OK;
}

static int exporters_resolve(kiln_troute_exporters *e, const char *const *ids, size_t n, kiln_err *err)
{
    e->mask = 0;
    for (size_t i = 0; i < e->n; i++) {
        size_t k = 0;
        while (k < n && strcmp(ids[k], e->ids[i]) != 0) k++;
        if (k == n || k >= 64) {
            char have[384];
            size_t w = 0;
            have[0] = 0;
            for (size_t j = 0; j < n && w < sizeof have; j++)
                w += (size_t)snprintf(have + w, sizeof have - w, "%s%s", j ? ", " : "", ids[j]);
            if (e->nodes[i])
                return kiln_node_err(err, e->nodes[i],
                                     "exporter \"%s\" is not in this pipeline (its exporters: [%s])",
                                     e->ids[i], have);
            return kiln_err_set(err, KILN_EINVAL,
                                "exporter \"%s\" is not in this pipeline (its exporters: [%s])",
                                e->ids[i], have);
        }
        e->mask |= 1ULL << k;
    }
    return KILN_OK;
}

/* ---- matchers ------------------------------------------------------------------------ */

static int has_meta(const char *s)
{
    return strpbrk(s, ".[]()*+?{}|^$\\") != NULL;
}

static int matcher_parse(const char *name, const kiln_node *v, kiln_troute_matcher *m, kiln_err *err)
{
    memset(m, 0, sizeof *m);
    if (!name[0]) return kiln_node_err(err, v, "a label name must not be empty");
    if (!v || (v->kind != KILN_NODE_SCALAR && v->kind != KILN_NODE_NULL))
        return kiln_node_err(err, v, "expected a value or a regex for label \"%s\"", name);
    const char *val = v->kind == KILN_NODE_SCALAR ? v->scalar : "";
    m->name = dupstr(name);
    m->value = dupstr(val);
    if (!m->name || !m->value) {
        free(m->name);
        free(m->value);
        return oom(err);
    }
    if (!has_meta(val)) return KILN_OK;
    size_t n = strlen(val);
    char *pat = malloc(n + 5);
    if (!pat) {
        free(m->name);
        free(m->value);
        return oom(err);
    }
    snprintf(pat, n + 5, "^(%s)$", val);
    int rc = regcomp(&m->re, pat, REG_EXTENDED | REG_NOSUB);
    free(pat);
    if (rc != 0) {
        char why[160];
        regerror(rc, &m->re, why, sizeof why);
        free(m->name);
        free(m->value);
        return kiln_node_err(err, v, "label \"%s\": invalid regex \"%s\" (POSIX extended): %s", name,
                             val, why);
    }
    m->is_regex = 1;
    return KILN_OK;
}

static void matcher_free(kiln_troute_matcher *m)
{
    if (m->is_regex) regfree(&m->re);
    free(m->name);
    free(m->value);
}

/* ---- routes ----------------------------------------------------------------------------- */

static void route_free(kiln_troute_route *r)
{
    for (size_t i = 0; i < r->n_tenants; i++) free(r->tenants[i]);
    free(r->tenants);
    for (size_t i = 0; i < r->n_match; i++) matcher_free(&r->match[i]);
    free(r->match);
    exporters_free(&r->exp);
    memset(r, 0, sizeof *r);
}

static int route_parse(const kiln_node *n, kiln_troute_route *r, kiln_err *err)
{
    memset(r, 0, sizeof *r);
    r->node = n;
    if (!n || n->kind != KILN_NODE_MAP)
        return kiln_node_err(err, n, "a route is a mapping with tenants, match and exporters");
    for (size_t i = 0; i < n->n; i++) {
        const char *k = n->keys[i];
        if (strcmp(k, "tenants") && strcmp(k, "match") && strcmp(k, "exporters"))
            return kiln_node_err(err, n->items[i],
                                 "unknown field \"%s\" in a route; valid fields: tenants, match, exporters", k);
    }
    int rc = KILN_OK;
    const kiln_node *tn = kiln_node_get(n, "tenants");
    if (tn && tn->kind != KILN_NODE_NULL) {
        if (tn->kind == KILN_NODE_MAP) return kiln_node_err(err, tn, "expected a list of tenant IDs");
        kiln_node *const *items;
        size_t count;
        const kiln_node *one = NULL;
        as_list(tn, &items, &count, &one);
        if (count == 0) return kiln_node_err(err, tn, "an empty tenants list matches nothing; leave it out to match every tenant");
        r->tenants = calloc(count, sizeof *r->tenants);
        if (!r->tenants) return oom(err);
        for (size_t i = 0; i < count; i++) {
            const kiln_node *it = items[i];
            if (it->kind != KILN_NODE_SCALAR) {
                rc = kiln_node_err(err, it, "expected a tenant ID");
                goto fail;
            }
            kiln_err e2;
            if (kiln_troute_tenant_valid(it->scalar, &e2) != KILN_OK) {
                rc = kiln_node_err(err, it, "%s", e2.msg);
                goto fail;
            }
            r->tenants[i] = dupstr(it->scalar);
            r->n_tenants = i + 1;
            if (!r->tenants[i]) {
                rc = oom(err);
                goto fail;
            }
        }
    }
    const kiln_node *mn = kiln_node_get(n, "match");
    if (mn && mn->kind != KILN_NODE_NULL) {
        if (mn->kind != KILN_NODE_MAP) {
            rc = kiln_node_err(err, mn, "expected a mapping of label name to value or regex");
            goto fail;
        }
        r->match = calloc(mn->n ? mn->n : 1, sizeof *r->match);
        if (!r->match) {
            rc = oom(err);
            goto fail;
        }
        for (size_t i = 0; i < mn->n; i++) {
            rc = matcher_parse(mn->keys[i], mn->items[i], &r->match[i], err);
            if (rc != KILN_OK) goto fail;
            r->n_match = i + 1;
        }
    }
    const kiln_node *en = kiln_node_get(n, "exporters");
    if (!en) {
        rc = kiln_node_err(err, n, "a route needs exporters");
        goto fail;
    }
    rc = exporters_parse(en, 1, &r->exp, err);
    if (rc != KILN_OK) goto fail;
    return KILN_OK;
fail:
    route_free(r);
    return rc;
}

/* ---- overrides ------------------------------------------------------------------------------ */

typedef struct limit_def {
    const char *name;
    int bytes; /* parsed as a byte size ("4MiB") rather than an integer */
    size_t off;
} limit_def;

static const limit_def limit_defs[] = {
    {"max_label_names_per_series", 0, offsetof(kiln_troute_limits, max_label_names_per_series)},
    {"max_label_name_length", 0, offsetof(kiln_troute_limits, max_label_name_length)},
    {"max_label_value_length", 0, offsetof(kiln_troute_limits, max_label_value_length)},
    {"max_series_per_tenant", 0, offsetof(kiln_troute_limits, max_series_per_tenant)},
    {"max_profile_size", 1, offsetof(kiln_troute_limits, max_profile_size)},
    {"max_profile_uncompressed_size", 1, offsetof(kiln_troute_limits, max_profile_uncompressed_size)},
    {"max_stack_depth", 0, offsetof(kiln_troute_limits, max_stack_depth)},
    {NULL, 0, 0}};

static int override_parse(const char *tenant, const kiln_node *n, const kiln_troute_limits *def,
                          kiln_troute_override *o, kiln_err *err)
{
    kiln_err e2;
    if (kiln_troute_tenant_valid(tenant, &e2) != KILN_OK) return kiln_node_err(err, n, "%s", e2.msg);
    if (!n || (n->kind != KILN_NODE_MAP && n->kind != KILN_NODE_NULL))
        return kiln_node_err(err, n, "expected a mapping of limits for tenant '%s'", tenant);
    o->lim = *def;
    for (size_t i = 0; n->kind == KILN_NODE_MAP && i < n->n; i++) {
        const limit_def *d = limit_defs;
        while (d->name && strcmp(d->name, n->keys[i]) != 0) d++;
        if (!d->name)
            return kiln_node_err(err, n->items[i],
                                 "unknown limit \"%s\"; valid limits: max_label_names_per_series, "
                                 "max_label_name_length, max_label_value_length, max_series_per_tenant, "
                                 "max_profile_size, max_profile_uncompressed_size, max_stack_depth",
                                 n->keys[i]);
        const kiln_node *v = n->items[i];
        if (v->kind != KILN_NODE_SCALAR)
            return kiln_node_err(err, v, "expected %s", d->bytes ? "a byte size such as 4MiB" : "an integer");
        int64_t x;
        int rc = d->bytes ? kiln_parse_bytes(v->scalar, &x, &e2) : kiln_parse_int(v->scalar, &x, &e2);
        if (rc != KILN_OK) return kiln_node_err(err, v, "%s", e2.msg);
        if (x < 0) return kiln_node_err(err, v, "must be >= 0 (0 turns the limit off)");
        *(int64_t *)((char *)&o->lim + d->off) = x;
    }
    o->tenant = dupstr(tenant);
    return o->tenant ? KILN_OK : oom(err);
}

static int cmp_override(const void *a, const void *b)
{
    return strcmp(((const kiln_troute_override *)a)->tenant, ((const kiln_troute_override *)b)->tenant);
}

/* ---- the table --------------------------------------------------------------------------------- */

void kiln_troute_table_free(kiln_troute_table *t)
{
    for (size_t i = 0; i < t->n_routes; i++) route_free(&t->routes[i]);
    free(t->routes);
    exporters_free(&t->def);
    for (size_t i = 0; i < t->n_overrides; i++) free(t->overrides[i].tenant);
    free(t->overrides);
    memset(t, 0, sizeof *t);
}

static const kiln_node *field(const kiln_node *node, const char *key)
{
    const kiln_node *n = kiln_node_get(node, key);
    return n ? n : node;
}

static int field_err(kiln_err *err, const kiln_node *node, const char *key, const char *msg)
{
    const kiln_node *n = field(node, key);
    if (n) return kiln_node_err(err, n, "%s", msg);
    return kiln_err_set(err, KILN_EINVAL, "%s: %s", key, msg);
}

static void note_limits(kiln_troute_table *t, const kiln_troute_limits *l)
{
    if (l->max_series_per_tenant > 0) t->track_series = 1;
    if (l->max_stack_depth > 0) t->decode = 1;
    if (l->max_profile_uncompressed_size > 0) t->inflate = 1;
}

static int build_from(const kiln_troute_cfg *cfg, const kiln_node *node, kiln_troute_table *t,
                      kiln_err *err)
{
    const kiln_node *fn = kiln_node_get(node, "tenant_from");
    int explicit_from = fn && fn->kind != KILN_NODE_NULL;
    int seen[3] = {0, 0, 0};
    if (cfg->tenant_from.n == 0) return field_err(err, node, "tenant_from", "tenant_from: needs at least one of header, label, default");
    for (size_t i = 0; i < cfg->tenant_from.n; i++) {
        const char *w = cfg->tenant_from.v[i];
        const kiln_node *at = fn && fn->kind == KILN_NODE_SEQ && i < fn->n ? fn->items[i] : field(node, "tenant_from");
        int k = !strcmp(w, "header") ? KILN_TROUTE_FROM_HEADER
                : !strcmp(w, "label") ? KILN_TROUTE_FROM_LABEL
                : !strcmp(w, "default") ? KILN_TROUTE_FROM_DEFAULT : -1;
        if (k < 0) {
            if (at) return kiln_node_err(err, at, "unknown tenant source \"%s\"; use header, label or default", w);
            return kiln_err_set(err, KILN_EINVAL, "tenant_from: unknown tenant source \"%s\"", w);
        }
        if (seen[k]) {
            if (at) return kiln_node_err(err, at, "tenant source \"%s\" listed twice", w);
            return kiln_err_set(err, KILN_EINVAL, "tenant_from: \"%s\" listed twice", w);
        }
        seen[k] = 1;
        if (k == KILN_TROUTE_FROM_LABEL && !(cfg->tenant_label && cfg->tenant_label[0])) {
            /* the default list names `label`: skip it when no label is set */
            if (!explicit_from) continue;
            if (at) return kiln_node_err(err, at, "tenant source \"label\" needs tenant_label");
            return kiln_err_set(err, KILN_EINVAL, "tenant_from: \"label\" needs tenant_label");
        }
        t->from[t->n_from++] = k;
    }
    if (cfg->tenant_label && !cfg->tenant_label[0])
        return field_err(err, node, "tenant_label", "tenant_label: must not be empty");
    if (cfg->remove_tenant_label && !(cfg->tenant_label && cfg->tenant_label[0]))
        return field_err(err, node, "remove_tenant_label", "remove_tenant_label: needs tenant_label");
    if (!cfg->default_tenant) return field_err(err, node, "default_tenant", "default_tenant: must be set");
    kiln_err e2;
    if (kiln_troute_tenant_valid(cfg->default_tenant, &e2) != KILN_OK) {
        char m[KILN_ERR_MSG_MAX];
        snprintf(m, sizeof m, "default_tenant: %.480s", e2.msg);
        return field_err(err, node, "default_tenant", m);
    }
    return KILN_OK;
}

int kiln_troute_table_build(const kiln_troute_cfg *cfg, const kiln_node *node, kiln_troute_table *t,
                            kiln_err *err)
{
    memset(t, 0, sizeof *t);
    int rc = build_from(cfg, node, t, err);
    if (rc != KILN_OK) goto fail;
    const kiln_node *rn = cfg->routes;
    if (rn && rn->kind != KILN_NODE_NULL) {
        if (rn->kind != KILN_NODE_SEQ) {
            rc = kiln_node_err(err, rn, "expected a list of routes");
            goto fail;
        }
        t->routes = calloc(rn->n ? rn->n : 1, sizeof *t->routes);
        if (!t->routes) {
            rc = oom(err);
            goto fail;
        }
        for (size_t i = 0; i < rn->n; i++) {
            rc = route_parse(rn->items[i], &t->routes[i], err);
            if (rc != KILN_OK) goto fail;
            t->n_routes = i + 1;
        }
    }
    rc = exporters_parse(cfg->default_exporters, 0, &t->def, err);
    if (rc != KILN_OK) goto fail;
    note_limits(t, &cfg->limits);
    const kiln_node *on = cfg->overrides;
    if (on && on->kind != KILN_NODE_NULL) {
        if (on->kind != KILN_NODE_MAP) {
            rc = kiln_node_err(err, on, "expected a mapping of tenant ID to limits");
            goto fail;
        }
        t->overrides = calloc(on->n ? on->n : 1, sizeof *t->overrides);
        if (!t->overrides) {
            rc = oom(err);
            goto fail;
        }
        for (size_t i = 0; i < on->n; i++) {
            rc = override_parse(on->keys[i], on->items[i], &cfg->limits, &t->overrides[i], err);
            if (rc != KILN_OK) goto fail;
            t->n_overrides = i + 1;
            note_limits(t, &t->overrides[i].lim);
        }
        if (t->n_overrides > 1) qsort(t->overrides, t->n_overrides, sizeof *t->overrides, cmp_override);
    }
    return KILN_OK;
fail:
    kiln_troute_table_free(t);
    return rc;
}

int kiln_troute_table_resolve(kiln_troute_table *t, const char *const *ids, size_t n, kiln_err *err)
{
    /* a list naming every exporter of the pipeline is mask 0 ("all"): the
     * core's fan-out then shares the batch instead of copying a subset per
     * exporter */
    uint64_t all = n >= 64 ? ~0ULL : (1ULL << n) - 1;
    for (size_t i = 0; i <= t->n_routes; i++) {
        kiln_troute_exporters *e = i < t->n_routes ? &t->routes[i].exp : &t->def;
        int rc = exporters_resolve(e, ids, n, err);
        if (rc != KILN_OK) return rc;
        if (e->mask == all) e->mask = 0;
    }
    return KILN_OK;
}

const kiln_troute_limits *kiln_troute_limits_of(const kiln_troute_table *t,
                                               const kiln_troute_limits *defaults, const char *tenant)
{
    size_t lo = 0, hi = t->n_overrides;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(tenant, t->overrides[mid].tenant);
        if (c == 0) return &t->overrides[mid].lim;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return defaults;
}

int kiln_troute_match(const kiln_troute_table *t, const char *tenant, const kiln_labels *ls)
{
    for (size_t i = 0; i < t->n_routes; i++) {
        const kiln_troute_route *r = &t->routes[i];
        if (r->n_tenants) {
            size_t k = 0;
            while (k < r->n_tenants && strcmp(r->tenants[k], tenant) != 0) k++;
            if (k == r->n_tenants) continue;
        }
        size_t m = 0;
        for (; m < r->n_match; m++) {
            const kiln_troute_matcher *mt = &r->match[m];
            const char *v = kiln_labels_get(ls, mt->name);
            if (!v) v = "";
            if (mt->is_regex ? regexec(&mt->re, v, 0, NULL, 0) != 0 : strcmp(v, mt->value) != 0) break;
        }
        if (m == r->n_match) return (int)i;
    }
    return -1;
}
