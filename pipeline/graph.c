/* pipeline/graph.c — builds the component graph of one config, starts it
 * and tears it down.
 *
 * Receivers and exporters get one instance each, shared by every pipeline
 * that names them; processors get one instance per pipeline (as in the
 * OpenTelemetry Collector). Exporters also take the core's sending_queue
 * and retry_on_failure settings, which the core strips from their config
 * before the plugin's own field table sees it.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "log.h"

static const kiln_cfg_field exporter_core_fields[] = {
    {"sending_queue.num_consumers", KILN_CFG_INT, "2", offsetof(exporter_settings, num_consumers),
     "threads calling this exporter concurrently", 0, 1, 256, NULL},
    {"sending_queue.queue_size", KILN_CFG_INT, "1000", offsetof(exporter_settings, queue_size),
     "batches waiting for this exporter before receivers answer 429", 0, 1, 1e9, NULL},
    {"retry_on_failure.enabled", KILN_CFG_BOOL, "true", offsetof(exporter_settings, retry_enabled),
     "retry a retriable export failure with exponential backoff", 0, 0, 0, NULL},
    {"retry_on_failure.initial_interval", KILN_CFG_DURATION, "200ms",
     offsetof(exporter_settings, initial_interval), "first wait before a retry", 0, 1e6, 3.6e12, NULL},
    {"retry_on_failure.max_interval", KILN_CFG_DURATION, "5s", offsetof(exporter_settings, max_interval),
     "longest wait between retries", 0, 1e6, 3.6e12, NULL},
    {"retry_on_failure.max_elapsed_time", KILN_CFG_DURATION, "30s",
     offsetof(exporter_settings, max_elapsed_time),
     "give up (and fail the batch back to its sender) after this long; senders wait meanwhile", 0, 0,
     3.6e12, NULL},
    {NULL, 0, NULL, 0, NULL, 0, 0, 0, NULL}};

const kiln_cfg_field *kiln_exporter_core_fields(void) { return exporter_core_fields; }

static int is_core_exporter_key(const char *k)
{
    return strcmp(k, "sending_queue") == 0 || strcmp(k, "retry_on_failure") == 0;
}

/* A shallow MAP node holding the entries of `src` for which keep(key)==want.
 * Shares keys and children with src; free with free_split. */
static kiln_node *split_node(const kiln_node *src, int want)
{
    kiln_node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    if (src) *n = *src;
    n->kind = KILN_NODE_MAP;
    n->n = 0;
    n->keys = NULL;
    n->items = NULL;
    if (!src || src->kind != KILN_NODE_MAP) return n;
    n->keys = calloc(src->n ? src->n : 1, sizeof *n->keys);
    n->items = calloc(src->n ? src->n : 1, sizeof *n->items);
    if (!n->keys || !n->items) {
        free(n->keys);
        free(n->items);
        free(n);
        return NULL;
    }
    for (size_t i = 0; i < src->n; i++)
        if (is_core_exporter_key(src->keys[i]) == want) {
            n->keys[n->n] = src->keys[i];
            n->items[n->n] = src->items[i];
            n->n++;
        }
    return n;
}

static void free_split(kiln_node *n)
{
    if (!n) return;
    free(n->keys);
    free(n->items);
    free(n);
}

/* Applies a component's config: plugin fields (and for exporters the core
 * settings), then the plugin's validate callback. */
static int apply_config(const kiln_plugin *pl, const kiln_config_component *cc, void **cfg_out,
                        exporter_settings *set, kiln_err *err)
{
    const kiln_node *node = cc->decl ? cc->decl : cc->node;
    kiln_node *pnode = NULL, *cnode = NULL;
    if (cc->kind == KILN_KIND_EXPORTER && node && node->kind == KILN_NODE_MAP) {
        pnode = split_node(node, 0);
        cnode = split_node(node, 1);
        if (!pnode || !cnode) {
            free_split(pnode);
            free_split(cnode);
            return kiln_err_set(err, KILN_ENOMEM, "out of memory");
        }
        node = pnode;
    }
    int rc = KILN_OK;
    void *cfg = calloc(1, pl->cfg_size ? pl->cfg_size : 1);
    if (!cfg) {
        rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
        goto out;
    }
    if (pl->fields) {
        rc = kiln_cfg_apply(pl->fields, node, cfg, err);
        if (rc != KILN_OK) goto out;
    }
    if (cc->kind == KILN_KIND_EXPORTER) {
        exporter_settings tmp;
        memset(&tmp, 0, sizeof tmp);
        rc = kiln_cfg_apply(exporter_core_fields, cnode, &tmp, err);
        if (rc != KILN_OK) goto out;
        if (set) *set = tmp;
    }
    if (pl->validate) {
        rc = pl->validate(cfg, cc->node, err);
        if (rc != KILN_OK) {
            if (cc->node && !strstr(err->msg, cc->node->file ? cc->node->file : "\x01"))
                kiln_err_prefix(err, "%s:%d:%d: %s", cc->node->file, cc->node->line, cc->node->col,
                                cc->node->path);
            goto out;
        }
    }
out:
    free_split(pnode);
    free_split(cnode);
    if (rc != KILN_OK) {
        if (cfg) {
            if (pl->fields) kiln_cfg_free(pl->fields, cfg);
            free(cfg);
        }
        return rc;
    }
    *cfg_out = cfg;
    return KILN_OK;
}

static component *new_component(kiln_graph *g, const kiln_config_component *cc, const kiln_plugin *pl,
                                pipeline *owner)
{
    component *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->g = g;
    c->kind = cc->kind;
    c->conf = cc;
    c->plugin = pl;
    c->pipe = owner;
    c->id = strdup(cc->id);
    char lb[300];
    if (owner)
        snprintf(lb, sizeof lb, "%s=\"%s\",pipeline=\"%s\"", kiln_kind_name(cc->kind), cc->id, owner->id);
    else
        snprintf(lb, sizeof lb, "%s=\"%s\"", kiln_kind_name(cc->kind), cc->id);
    c->label = strdup(lb);
    char ln[300];
    snprintf(ln, sizeof ln, "%s/%s", kiln_kind_name(cc->kind), cc->id);
    c->logname = strdup(ln);
    c->host.vt = &kiln_core_host_vtbl;
    c->host.core = c;
    c->host.id = c->id;
    c->host.kind = kiln_kind_name(cc->kind);
    c->host.log_level = g->cfg->log_level;
    if (!c->id || !c->label || !c->logname) {
        free(c->id);
        free(c->label);
        free(c->logname);
        free(c);
        return NULL;
    }
    return c;
}

static int add_comp(kiln_graph *g, component *c)
{
    component **nv = realloc(g->comps, (g->n_comps + 1) * sizeof *nv);
    if (!nv) return KILN_ENOMEM;
    g->comps = nv;
    g->comps[g->n_comps++] = c;
    return KILN_OK;
}

static component *find_comp(kiln_graph *g, kiln_kind kind, const char *id)
{
    for (size_t i = 0; i < g->n_comps; i++)
        if (g->comps[i]->kind == kind && !g->comps[i]->pipe && strcmp(g->comps[i]->id, id) == 0)
            return g->comps[i];
    return NULL;
}

static int64_t queue_len_fn(void *arg) { return kiln_exporter_queue_len(arg); }
static int64_t queue_cap_fn(void *arg) { return ((component *)arg)->ex->set.queue_size; }

static void register_metrics(kiln_graph *g, component *c)
{
    kiln_metrics *m = g->core->metrics;
    if (c->kind == KILN_KIND_RECEIVER) {
        c->recv_profiles = kiln_metrics_counter(m, "kiln_receiver_received_profiles_total",
                                                "Profiles received.", c->label);
        c->recv_bytes = kiln_metrics_counter(m, "kiln_receiver_received_bytes_total",
                                             "Bytes of profiles received.", c->label);
        c->acc_profiles = kiln_metrics_counter(m, "kiln_receiver_accepted_profiles_total",
                                               "Profiles every exporter took.", c->label);
        c->acc_bytes = kiln_metrics_counter(m, "kiln_receiver_accepted_bytes_total",
                                            "Bytes of accepted profiles.", c->label);
        c->ref_profiles = kiln_metrics_counter(m, "kiln_receiver_refused_profiles_total",
                                               "Profiles refused back to their sender.", c->label);
        c->ref_bytes = kiln_metrics_counter(m, "kiln_receiver_refused_bytes_total",
                                            "Bytes of refused profiles.", c->label);
    } else if (c->kind == KILN_KIND_EXPORTER) {
        exporter_rt *x = c->ex;
        x->sent_profiles = kiln_metrics_counter(m, "kiln_exporter_sent_profiles_total",
                                                "Profiles exported.", c->label);
        x->sent_bytes = kiln_metrics_counter(m, "kiln_exporter_sent_bytes_total",
                                             "Bytes of profiles exported.", c->label);
        x->failed_profiles = kiln_metrics_counter(m, "kiln_exporter_failed_profiles_total",
                                                  "Profiles whose export failed for good.", c->label);
        x->retries = kiln_metrics_counter(m, "kiln_exporter_retries_total", "Export retries.", c->label);
        kiln_metrics_gauge_fn(m, "kiln_exporter_queue_size", "Batches queued for the exporter.",
                              c->label, queue_len_fn, c, g);
        kiln_metrics_gauge_fn(m, "kiln_exporter_queue_capacity", "Queue capacity in batches.",
                              c->label, queue_cap_fn, c, g);
    }
}

/* ---- telemetry endpoints ---------------------------------------------------- */

static void h_metrics(kiln_http_req *r, void *arg)
{
    kiln_graph *g = arg;
    size_t len;
    char *text = kiln_metrics_render(g->core->metrics, &len);
    kiln_http_req_reply(r, text ? 200 : 503, "text/plain; version=0.0.4", text ? text : "", text ? len : 0);
    free(text);
}

static void h_healthz(kiln_http_req *r, void *arg) { kiln_http_req_reply(r, 200, "text/plain", "ok\n", 3); }

static void h_ready(kiln_http_req *r, void *arg)
{
    kiln_graph *g = arg;
    int ok = g->started && !atomic_load(&g->draining);
    kiln_http_req_reply(r, ok ? 200 : 503, "text/plain", ok ? "ready\n" : "not ready\n", ok ? 6 : 10);
}

static int64_t payload_decodes(void *arg) { return (int64_t)atomic_load(&((kiln_core *)arg)->stats.decodes); }
static int64_t payload_inflates(void *arg) { return (int64_t)atomic_load(&((kiln_core *)arg)->stats.inflates); }
static int64_t payload_encodes(void *arg) { return (int64_t)atomic_load(&((kiln_core *)arg)->stats.encodes); }

static int telemetry_routes(kiln_graph *g, kiln_err *err)
{
    const char *addr = g->cfg->metrics_address;
    if (!addr || !*addr) return KILN_OK;
    int rc = kiln_http_route(g->http, addr, "GET", "/metrics", NULL, h_metrics, g, err);
    if (rc == KILN_OK) rc = kiln_http_route(g->http, addr, "GET", "/healthz", NULL, h_healthz, g, err);
    if (rc == KILN_OK) rc = kiln_http_route(g->http, addr, "GET", "/ready", NULL, h_ready, g, err);
    if (rc != KILN_OK) kiln_err_prefix(err, "service.telemetry.metrics.address");
    kiln_metrics *m = g->core->metrics;
    kiln_metrics_counter_fn(m, "kiln_payload_decodes_total", "Payloads fully decoded into the model.",
                            NULL, payload_decodes, g->core, g->core);
    kiln_metrics_counter_fn(m, "kiln_payload_inflates_total", "Payloads gunzipped.", NULL,
                            payload_inflates, g->core, g->core);
    kiln_metrics_counter_fn(m, "kiln_payload_encodes_total", "Models encoded back to pprof.", NULL,
                            payload_encodes, g->core, g->core);
    g->mem_gauge = kiln_metrics_gauge(m, "kiln_memory_inflight_bytes",
                                      "Bytes of payloads accepted and not yet exported.", NULL);
    kiln_gauge_set(kiln_metrics_gauge(m, "kiln_memory_limit_bytes", "service.memory_limit.", NULL),
                   g->memory_limit);
    return rc;
}

/* ---- build -------------------------------------------------------------------- */

static int create_instance(kiln_graph *g, component *c, kiln_err *err)
{
    exporter_settings set;
    memset(&set, 0, sizeof set);
    int rc = apply_config(c->plugin, c->conf, &c->cfg, &set, err);
    if (rc != KILN_OK) return rc;
    if (c->kind == KILN_KIND_EXPORTER) {
        c->ex = calloc(1, sizeof *c->ex);
        if (!c->ex) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
        c->ex->set = set;
        pthread_mutex_init(&c->ex->mu, NULL);
        pthread_cond_init(&c->ex->cv, NULL);
    }
    register_metrics(g, c);
    rc = c->plugin->create(&c->host, c->cfg, &c->state, err);
    if (rc != KILN_OK) {
        if (!err->msg[0]) kiln_err_set(err, rc, "create failed");
        kiln_err_prefix(err, "%s %s", kiln_kind_name(c->kind), c->id);
        c->state = NULL;
        return rc;
    }
    c->started = 0;
    return KILN_OK;
}

int kiln_graph_build(kiln_core *core, kiln_config *cfg, int create, kiln_graph **out, kiln_err *err)
{
    /* 1. every defined component: plugin found, config valid */
    for (size_t i = 0; i < cfg->n_components; i++) {
        const kiln_config_component *cc = &cfg->components[i];
        if (cc->kind == KILN_KIND_EXTENSION) continue;
        const kiln_plugin *pl;
        int rc = kiln_loader_get(core->loader, cc->kind, cc->type, &pl, err);
        if (rc != KILN_OK) {
            if (cc->node)
                kiln_err_prefix(err, "%s:%d:%d: %s", cc->node->file, cc->node->line, cc->node->col,
                                cc->node->path);
            else
                kiln_err_prefix(err, "%ss.%s", kiln_kind_name(cc->kind), cc->id);
            return rc;
        }
        void *tmp = NULL;
        rc = apply_config(pl, cc, &tmp, NULL, err);
        if (rc != KILN_OK) return rc;
        if (pl->fields) kiln_cfg_free(pl->fields, tmp);
        free(tmp);
    }
    if (!create) return KILN_OK;

    kiln_graph *g = calloc(1, sizeof *g);
    if (!g) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    g->core = core;
    g->cfg = cfg;
    pthread_mutex_init(&g->reg_mu, NULL);
    g->memory_limit = cfg->memory_limit;
    g->http = kiln_http_new(core->base);
    g->pipes = calloc(cfg->n_pipelines ? cfg->n_pipelines : 1, sizeof *g->pipes);
    if (!g->http || !g->pipes) {
        kiln_graph_destroy(g, 0);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    g->workers = kiln_workers_new((size_t)(cfg->workers > 0 ? cfg->workers : 0));
    if (!g->workers) {
        kiln_graph_destroy(g, 0);
        return kiln_err_set(err, KILN_ERR, "cannot start worker threads");
    }
    int rc = telemetry_routes(g, err);
    if (rc != KILN_OK) goto fail;

    /* 2. shared instances: exporters, then receivers */
    for (int pass = 0; pass < 2; pass++) {
        kiln_kind want = pass == 0 ? KILN_KIND_EXPORTER : KILN_KIND_RECEIVER;
        for (size_t i = 0; i < cfg->n_components; i++) {
            const kiln_config_component *cc = &cfg->components[i];
            if (cc->kind != (int)want || !cc->used) continue;
            const kiln_plugin *pl;
            rc = kiln_loader_get(core->loader, cc->kind, cc->type, &pl, err);
            if (rc != KILN_OK) goto fail;
            component *c = new_component(g, cc, pl, NULL);
            if (!c || add_comp(g, c) != KILN_OK) {
                rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
                goto fail;
            }
        }
    }
    /* 3. pipelines with their own processor instances */
    for (size_t i = 0; i < cfg->n_pipelines; i++) {
        const kiln_config_pipeline *cp = &cfg->pipelines[i];
        pipeline *p = &g->pipes[g->n_pipes++];
        p->id = strdup(cp->id);
        p->procs = calloc(cp->n_processors ? cp->n_processors : 1, sizeof *p->procs);
        p->exps = calloc(cp->n_exporters ? cp->n_exporters : 1, sizeof *p->exps);
        if (!p->id || !p->procs || !p->exps) {
            rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
            goto fail;
        }
        for (size_t j = 0; j < cp->n_processors; j++) {
            const kiln_config_component *cc = kiln_config_find(cfg, KILN_KIND_PROCESSOR, cp->processors[j]);
            const kiln_plugin *pl;
            rc = kiln_loader_get(core->loader, cc->kind, cc->type, &pl, err);
            if (rc != KILN_OK) goto fail;
            component *c = new_component(g, cc, pl, p);
            if (!c || add_comp(g, c) != KILN_OK) {
                rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
                goto fail;
            }
            p->procs[p->n_procs++] = c;
        }
        if (cp->n_exporters > 64) {
            rc = kiln_err_set(err, KILN_EINVAL, "service.pipelines.%s: %zu exporters; at most 64", cp->id,
                              cp->n_exporters);
            goto fail;
        }
        p->exp_ids = calloc(cp->n_exporters ? cp->n_exporters : 1, sizeof *p->exp_ids);
        if (!p->exp_ids) {
            rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
            goto fail;
        }
        for (size_t j = 0; j < cp->n_exporters; j++) {
            p->exps[p->n_exps] = find_comp(g, KILN_KIND_EXPORTER, cp->exporters[j]);
            p->exp_ids[p->n_exps] = p->exps[p->n_exps]->id;
            p->n_exps++;
        }
        for (size_t j = 0; j < cp->n_receivers; j++) {
            component *r = find_comp(g, KILN_KIND_RECEIVER, cp->receivers[j]);
            pipeline **nf = realloc(r->feeds, (r->n_feeds + 1) * sizeof *nf);
            if (!nf) {
                rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
                goto fail;
            }
            r->feeds = nf;
            r->feeds[r->n_feeds++] = p;
        }
    }
    /* 4. create: exporters, processors, receivers (so routes exist before start) */
    for (int pass = 0; pass < 3; pass++) {
        kiln_kind want = pass == 0 ? KILN_KIND_EXPORTER : pass == 1 ? KILN_KIND_PROCESSOR : KILN_KIND_RECEIVER;
        for (size_t i = 0; i < g->n_comps; i++) {
            if (g->comps[i]->kind != want) continue;
            rc = create_instance(g, g->comps[i], err);
            if (rc != KILN_OK) goto fail;
        }
    }
    *out = g;
    return KILN_OK;
fail:
    g->cfg = NULL; /* the caller still owns cfg on failure */
    kiln_graph_destroy(g, 0);
    return rc;
}

int kiln_graph_start(kiln_graph *g, kiln_err *err)
{
    int rc;
    for (int pass = 0; pass < 3; pass++) {
        kiln_kind want = pass == 0 ? KILN_KIND_EXPORTER : pass == 1 ? KILN_KIND_PROCESSOR : KILN_KIND_RECEIVER;
        if (want == KILN_KIND_RECEIVER) {
            rc = kiln_http_start(g->http, err);
            if (rc != KILN_OK) return rc;
        }
        for (size_t i = 0; i < g->n_comps; i++) {
            component *c = g->comps[i];
            if (c->kind != want) continue;
            if (c->kind == KILN_KIND_EXPORTER) {
                rc = kiln_exporter_rt_start(c, err);
                if (rc != KILN_OK) return rc;
            }
            if (c->plugin->start) {
                rc = c->plugin->start(c->state, err);
                if (rc != KILN_OK) {
                    kiln_err_prefix(err, "%s %s: start", kiln_kind_name(c->kind), c->id);
                    return rc;
                }
            }
            c->started = 1;
        }
    }
    g->started = 1;
    return KILN_OK;
}

void kiln_graph_stop_intake(kiln_graph *g)
{
    atomic_store(&g->draining, 1);
    kiln_http_stop_accepting(g->http);
    int64_t soon = kiln_now_mono_ns();
    for (size_t i = 0; i < g->n_comps; i++) {
        component *c = g->comps[i];
        if (c->kind == KILN_KIND_RECEIVER && c->started && c->plugin->shutdown) {
            c->plugin->shutdown(c->state, soon);
            c->started = 0;
        }
    }
}

int kiln_graph_idle(kiln_graph *g)
{
    return atomic_load(&g->inflight_batches) == 0 && (!g->http || kiln_http_pending(g->http) == 0);
}

void kiln_graph_destroy(kiln_graph *g, int64_t deadline)
{
    if (!g) return;
    /* pipeline tasks first (they queue to exporters), then exporters drain */
    if (g->workers) kiln_workers_free(g->workers);
    g->workers = NULL;
    for (size_t i = 0; i < g->n_comps; i++) {
        component *c = g->comps[i];
        if (c->kind == KILN_KIND_EXPORTER && c->ex && c->ex->n_threads) kiln_exporter_rt_stop(c);
    }
    /* answers of deliveries completed just now */
    if (g->core) kiln_core_run_loop_calls(g->core);
    for (int pass = 0; pass < 3; pass++) {
        kiln_kind want = pass == 0 ? KILN_KIND_RECEIVER : pass == 1 ? KILN_KIND_PROCESSOR : KILN_KIND_EXPORTER;
        for (size_t i = 0; i < g->n_comps; i++) {
            component *c = g->comps[i];
            if (c->kind != want || !c->state) continue;
            if (c->started && c->plugin->shutdown) c->plugin->shutdown(c->state, deadline);
            c->plugin->destroy(c->state);
            c->state = NULL;
        }
    }
    if (g->core) kiln_metrics_drop_owner(g->core->metrics, g);
    for (size_t i = 0; i < g->n_comps; i++) {
        component *c = g->comps[i];
        if (c->cfg && c->plugin->fields) kiln_cfg_free(c->plugin->fields, c->cfg);
        free(c->cfg);
        if (c->ex) {
            pthread_mutex_destroy(&c->ex->mu);
            pthread_cond_destroy(&c->ex->cv);
            free(c->ex->threads);
            free(c->ex);
        }
        free(c->feeds);
        free(c->id);
        free(c->label);
        free(c->logname);
        free(c);
    }
    free(g->comps);
    for (size_t i = 0; i < g->n_pipes; i++) {
        free(g->pipes[i].id);
        free(g->pipes[i].procs);
        free(g->pipes[i].exps);
        free(g->pipes[i].exp_ids);
    }
    free(g->pipes);
    for (size_t i = 0; i < g->n_reg; i++) free(g->reg_names[i]);
    free(g->reg_names);
    free(g->reg_objs);
    pthread_mutex_destroy(&g->reg_mu);
    kiln_http_free(g->http);
    if (g->cfg) kiln_config_free(g->cfg);
    free(g);
}
