/* pipeline/core.c — the process-wide core: event loop, loop-call queue,
 * signals, and the stop / reload state machine.
 *
 * Stopping (SIGTERM, SIGINT) and reloading (SIGHUP) share one sequence, run
 * on the loop thread: stop intake (receivers and listeners), then poll every
 * 20 ms until no delivery is in flight or service.shutdown_timeout passed,
 * then destroy the graph (exporters drain their queues). A reload then
 * starts the new graph; a stop breaks the loop. A new config is loaded and
 * fully checked before the old graph is touched: if it is invalid, the old
 * one keeps running and the reason is logged.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/thread.h>

#include "core.h"
#include "log.h"

typedef struct lc_item {
    struct lc_item *next;
    void (*fn)(void *);
    void *arg;
} lc_item;

void kiln_core_run_loop_calls(kiln_core *c)
{
    for (;;) {
        pthread_mutex_lock(&c->lc_mu);
        lc_item *head = c->lc_head;
        c->lc_head = c->lc_tail = NULL;
        pthread_mutex_unlock(&c->lc_mu);
        if (!head) return;
        while (head) {
            lc_item *n = head->next;
            head->fn(head->arg);
            free(head);
            head = n;
        }
    }
}

static void on_loop_calls(evutil_socket_t fd, short what, void *arg) { kiln_core_run_loop_calls(arg); }

int kiln_core_loop_call(kiln_core *c, void (*fn)(void *), void *arg)
{
    lc_item *it = malloc(sizeof *it);
    if (!it) return KILN_ENOMEM;
    it->next = NULL;
    it->fn = fn;
    it->arg = arg;
    pthread_mutex_lock(&c->lc_mu);
    if (c->lc_tail)
        c->lc_tail->next = it;
    else
        c->lc_head = it;
    c->lc_tail = it;
    pthread_mutex_unlock(&c->lc_mu);
    event_active(c->lc_ev, EV_READ, 0);
    return KILN_OK;
}

int kiln_core_init(kiln_core *c, const char *plugin_dir, kiln_err *err)
{
    memset(c, 0, sizeof *c);
    if (evthread_use_pthreads() != 0) return kiln_err_set(err, KILN_ERR, "libevent: no pthreads support");
    c->base = event_base_new();
    c->metrics = kiln_metrics_new();
    c->loader = kiln_loader_new(plugin_dir);
    pthread_mutex_init(&c->lc_mu, NULL);
    if (!c->base || !c->metrics || !c->loader) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    c->lc_ev = event_new(c->base, -1, EV_PERSIST, on_loop_calls, c);
    if (!c->lc_ev) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    return KILN_OK;
}

void kiln_core_fini(kiln_core *c)
{
    if (c->graph) kiln_graph_destroy(c->graph, kiln_now_mono_ns());
    c->graph = NULL;
    if (c->pending_cfg) kiln_config_free(c->pending_cfg);
    kiln_core_run_loop_calls(c);
    if (c->stop_timer) event_free(c->stop_timer);
    if (c->sig_term) event_free(c->sig_term);
    if (c->sig_int) event_free(c->sig_int);
    if (c->sig_hup) event_free(c->sig_hup);
    if (c->lc_ev) event_free(c->lc_ev);
    if (c->base) event_base_free(c->base);
    kiln_metrics_free(c->metrics);
    kiln_loader_free(c->loader);
    pthread_mutex_destroy(&c->lc_mu);
    free(c->config_path);
    libevent_global_shutdown();
}

static void log_warnings(const kiln_config *cfg)
{
    for (size_t i = 0; i < cfg->n_warnings; i++) kiln_core_log(KILN_LOG_WARN, NULL, "config: %s", cfg->warnings[i]);
}

/* Loads and checks a config and builds its graph (not started). */
static int load_graph(kiln_core *c, kiln_graph **out, kiln_err *err)
{
    kiln_config *cfg;
    int rc = kiln_config_load(c->config_path, &cfg, err);
    if (rc != KILN_OK) return rc;
    rc = kiln_graph_build(c, cfg, 1, out, err);
    if (rc != KILN_OK) {
        kiln_config_free(cfg);
        return rc;
    }
    log_warnings(cfg);
    return KILN_OK;
}

static int start_graph(kiln_core *c, kiln_graph *g, kiln_err *err)
{
    int rc = kiln_graph_start(g, err);
    if (rc != KILN_OK) return rc;
    c->graph = g;
    kiln_core_log(KILN_LOG_INFO, NULL, "started config=%s pipelines=%zu components=%zu workers=%zu",
                  c->config_path, g->n_pipes, g->n_comps, kiln_workers_count(g->workers));
    return KILN_OK;
}

static void finish_stop(kiln_core *c)
{
    kiln_graph *g = c->graph;
    c->graph = NULL;
    if (!kiln_graph_idle(g))
        kiln_core_log(KILN_LOG_WARN, NULL,
                      "shutdown_timeout reached with %ld batches in flight; draining exporters",
                      atomic_load(&g->inflight_batches));
    kiln_graph_destroy(g, c->stop_deadline);
    if (c->stop_then_reload && c->pending_cfg) {
        kiln_config *cfg = c->pending_cfg;
        c->pending_cfg = NULL;
        c->stop_then_reload = 0;
        kiln_err err;
        kiln_err_clear(&err);
        kiln_graph *ng = NULL;
        int rc = kiln_graph_build(c, cfg, 1, &ng, &err);
        if (rc != KILN_OK) {
            kiln_config_free(cfg);
        } else {
            log_warnings(cfg);
            rc = start_graph(c, ng, &err);
            if (rc != KILN_OK) kiln_graph_destroy(ng, kiln_now_mono_ns());
        }
        if (rc != KILN_OK) {
            kiln_core_log(KILN_LOG_ERROR, NULL, "reload failed after the old config stopped: %s", err.msg);
            c->exit_code = 1;
            event_base_loopbreak(c->base);
            return;
        }
        kiln_core_log(KILN_LOG_INFO, NULL, "reloaded config=%s", c->config_path);
        return;
    }
    event_base_loopbreak(c->base);
}

static void on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
    kiln_core *c = arg;
    if (!c->graph) return;
    if (kiln_graph_idle(c->graph) || kiln_now_mono_ns() >= c->stop_deadline) {
        evtimer_del(c->stop_timer);
        finish_stop(c);
    }
}

static void begin_stop(kiln_core *c, int reload)
{
    if (!c->graph || atomic_load(&c->graph->draining)) return;
    c->stop_then_reload = reload;
    int64_t timeout = c->graph->cfg->shutdown_timeout > 0 ? c->graph->cfg->shutdown_timeout : 30000000000LL;
    c->stop_deadline = kiln_now_mono_ns() + timeout;
    kiln_graph_stop_intake(c->graph);
    struct timeval tv = {0, 20000};
    event_del(c->stop_timer);
    event_assign(c->stop_timer, c->base, -1, EV_PERSIST, on_stop_timer, c);
    evtimer_add(c->stop_timer, &tv);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    kiln_core *c = arg;
    if (sig == SIGHUP) {
        kiln_core_log(KILN_LOG_INFO, NULL, "SIGHUP: reloading config=%s", c->config_path);
        kiln_config *cfg = NULL;
        kiln_err err;
        kiln_err_clear(&err);
        int rc = kiln_config_load(c->config_path, &cfg, &err);
        if (rc == KILN_OK) rc = kiln_graph_build(c, cfg, 0, NULL, &err);
        if (rc != KILN_OK) {
            if (cfg) kiln_config_free(cfg);
            kiln_core_log(KILN_LOG_ERROR, NULL, "reload refused, keeping the running config: %s", err.msg);
            return;
        }
        if (c->pending_cfg) kiln_config_free(c->pending_cfg);
        c->pending_cfg = cfg;
        begin_stop(c, 1);
        return;
    }
    kiln_core_log(KILN_LOG_INFO, NULL, "%s: draining and stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    if (c->graph && atomic_load(&c->graph->draining)) {
        c->stop_then_reload = 0; /* a reload in progress becomes a stop */
        return;
    }
    begin_stop(c, 0);
}

int kiln_core_run(kiln_core *c, kiln_err *err)
{
    kiln_graph *g = NULL;
    int rc = load_graph(c, &g, err);
    if (rc != KILN_OK) return rc;
    rc = start_graph(c, g, err);
    if (rc != KILN_OK) {
        kiln_graph_destroy(g, kiln_now_mono_ns());
        return rc;
    }
    signal(SIGPIPE, SIG_IGN);
    c->sig_term = evsignal_new(c->base, SIGTERM, on_signal, c);
    c->sig_int = evsignal_new(c->base, SIGINT, on_signal, c);
    c->sig_hup = evsignal_new(c->base, SIGHUP, on_signal, c);
    c->stop_timer = evtimer_new(c->base, on_stop_timer, c);
    if (!c->sig_term || !c->sig_int || !c->sig_hup || !c->stop_timer)
        return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    evsignal_add(c->sig_term, NULL);
    evsignal_add(c->sig_int, NULL);
    evsignal_add(c->sig_hup, NULL);
    event_add(c->lc_ev, NULL);
    event_base_dispatch(c->base);
    kiln_core_log(KILN_LOG_INFO, NULL, "stopped");
    return c->exit_code;
}
