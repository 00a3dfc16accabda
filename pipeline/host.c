/* pipeline/host.c — the kiln_host function table the core gives each
 * component instance (see include/kiln/host.h). host->core points at the
 * component. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "log.h"

static component *C(kiln_host *h) { return (component *)h->core; }

static void h_vlog(kiln_host *h, int level, const char *fmt, va_list ap)
{
    kiln_core_vlog(level, C(h)->logname, fmt, ap);
}

static int h_http_route(kiln_host *h, const char *endpoint, const char *method, const char *path,
                        const kiln_http_route_opts *opts, kiln_http_handler fn, void *arg,
                        kiln_err *err)
{
    int rc = kiln_http_route(C(h)->g->http, endpoint, method, path, opts, fn, arg, err);
    if (rc != KILN_OK) kiln_err_prefix(err, "%s", h->id);
    return rc;
}

static int h_submit(kiln_host *h, kiln_batch *b, kiln_submit_cb cb, void *arg, kiln_err *err)
{
    component *c = C(h);
    if (c->kind != KILN_KIND_RECEIVER) {
        kiln_batch_unref(b);
        return kiln_err_set(err, KILN_EINVAL, "%s: only receivers submit", h->id);
    }
    return kiln_deliver_submit(c, b, cb, arg, err);
}

static int h_loop_call(kiln_host *h, void (*fn)(void *), void *arg)
{
    return kiln_core_loop_call(C(h)->g->core, fn, arg);
}

static int h_work(kiln_host *h, void (*fn)(void *), void *arg)
{
    return kiln_workers_add(C(h)->g->workers, fn, arg);
}

static void full_labels(component *c, const char *labels, char *buf, size_t cap)
{
    if (labels && *labels)
        snprintf(buf, cap, "%s,%s", c->label, labels);
    else
        snprintf(buf, cap, "%s", c->label);
}

static kiln_counter *h_counter(kiln_host *h, const char *name, const char *help, const char *labels)
{
    component *c = C(h);
    char full[256], lb[512];
    snprintf(full, sizeof full, "kiln_%s", name);
    full_labels(c, labels, lb, sizeof lb);
    return kiln_metrics_counter(c->g->core->metrics, full, help, lb);
}

static kiln_gauge *h_gauge(kiln_host *h, const char *name, const char *help, const char *labels)
{
    component *c = C(h);
    char full[256], lb[512];
    snprintf(full, sizeof full, "kiln_%s", name);
    full_labels(c, labels, lb, sizeof lb);
    return kiln_metrics_gauge(c->g->core->metrics, full, help, lb);
}

static void h_count_dropped(kiln_host *h, const char *reason, uint64_t n)
{
    component *c = C(h);
    char lb[512];
    snprintf(lb, sizeof lb, "%s,reason=\"%s\"", c->label, reason);
    char name[128];
    snprintf(name, sizeof name, "kiln_%s_dropped_profiles_total", kiln_kind_name(c->kind));
    kiln_counter_add(kiln_metrics_counter(c->g->core->metrics, name, "Profiles dropped, by reason.", lb),
                     n);
}

static void h_pipeline_exporters(kiln_host *h, const char *const **ids, size_t *n)
{
    component *c = C(h);
    if (c->kind != KILN_KIND_PROCESSOR || !c->pipe) {
        *ids = NULL;
        *n = 0;
        return;
    }
    *ids = c->pipe->exp_ids;
    *n = c->pipe->n_exps;
}

static int h_publish(kiln_host *h, const char *name, void *obj, kiln_err *err)
{
    kiln_graph *g = C(h)->g;
    int rc = KILN_OK;
    pthread_mutex_lock(&g->reg_mu);
    for (size_t i = 0; i < g->n_reg; i++)
        if (strcmp(g->reg_names[i], name) == 0) {
            rc = kiln_err_set(err, KILN_EINVAL, "%s: \"%s\" is already published", h->id, name);
            goto out;
        }
    char **nn = realloc(g->reg_names, (g->n_reg + 1) * sizeof *nn);
    if (nn) g->reg_names = nn;
    void **no = realloc(g->reg_objs, (g->n_reg + 1) * sizeof *no);
    if (no) g->reg_objs = no;
    char *copy = strdup(name);
    if (!nn || !no || !copy) {
        free(copy);
        rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
        goto out;
    }
    g->reg_names[g->n_reg] = copy;
    g->reg_objs[g->n_reg] = obj;
    g->n_reg++;
out:
    pthread_mutex_unlock(&g->reg_mu);
    return rc;
}

static void *h_lookup(kiln_host *h, const char *name)
{
    kiln_graph *g = C(h)->g;
    void *obj = NULL;
    pthread_mutex_lock(&g->reg_mu);
    for (size_t i = 0; i < g->n_reg && !obj; i++)
        if (strcmp(g->reg_names[i], name) == 0) obj = g->reg_objs[i];
    pthread_mutex_unlock(&g->reg_mu);
    return obj;
}

const kiln_host_vtbl kiln_core_host_vtbl = {
    .size = sizeof(kiln_host_vtbl),
    .vlog = h_vlog,
    .http_route = h_http_route,
    .http_method = kiln_http_req_method,
    .http_path = kiln_http_req_path,
    .http_query = kiln_http_req_query,
    .http_header = kiln_http_req_header,
    .http_body = kiln_http_req_body,
    .http_set_header = kiln_http_req_set_header,
    .http_reply = kiln_http_req_reply,
    .submit = h_submit,
    .loop_call = h_loop_call,
    .work = h_work,
    .counter = h_counter,
    .gauge = h_gauge,
    .count_dropped = h_count_dropped,
    .pipeline_exporters = h_pipeline_exporters,
    .publish = h_publish,
    .lookup = h_lookup,
};
