/* pipeline/core.h — the core's private types: the process-wide core, the
 * graph built from one config, its components, pipelines and deliveries.
 *
 * Ownership:
 *   kiln_core   lives for the process: event base, metric registry, plugin
 *               loader, payload statistics, loop-call queue, the running
 *               graph. Owned by main().
 *   kiln_graph  one per loaded config: component instances, pipelines,
 *               listeners, worker pool, exporter queues. Replaced as a whole
 *               on reload. Owned by the core.
 *   component   one instance of a plugin, with its kiln_host; its config
 *               struct and plugin state. Owned by the graph.
 *   delivery    one submitted batch on its way to every exporter; freed on
 *               the loop thread after the receiver's callback ran.
 */
#ifndef KILN_CORE_CORE_H
#define KILN_CORE_CORE_H

#include <event2/event.h>
#include <kiln/kiln.h>
#include <pthread.h>
#include <stdatomic.h>

#include "http_server.h"
#include "kiln_config.h"
#include "loader.h"
#include "metrics.h"
#include "workers.h"

typedef struct kiln_core kiln_core;
typedef struct kiln_graph kiln_graph;
typedef struct component component;
typedef struct pipeline pipeline;

/* Settings the core applies to every exporter (Collector exporterhelper). */
typedef struct exporter_settings {
    int queue_enabled;
    int64_t num_consumers;
    int64_t queue_size;
    int retry_enabled;
    int64_t initial_interval;
    int64_t max_interval;
    int64_t max_elapsed_time;
} exporter_settings;

typedef struct exp_item {
    struct exp_item *next;
    kiln_batch *batch;
    struct delivery *d;
} exp_item;

typedef struct exporter_rt {
    exporter_settings set;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    exp_item *head, *tail;
    atomic_long len;
    int stopping;
    pthread_t *threads;
    size_t n_threads;
    kiln_counter *sent_profiles, *sent_bytes, *failed_profiles, *retries;
} exporter_rt;

struct component {
    kiln_host host; /* host.core points back at this component */
    kiln_graph *g;
    kiln_kind kind;
    char *id;      /* "pprof/main" */
    char *label;   /* metric label text, e.g. receiver="pprof/main" */
    char *logname; /* "receiver/pprof/main": the component in log lines */
    pipeline *pipe; /* processors: the pipeline owning this instance */
    const kiln_plugin *plugin;
    const kiln_config_component *conf;
    void *cfg;
    void *state;
    int started;
    /* receivers */
    pipeline **feeds;
    size_t n_feeds;
    kiln_counter *recv_profiles, *recv_bytes, *acc_profiles, *acc_bytes, *ref_profiles, *ref_bytes;
    /* exporters */
    exporter_rt *ex;
};

struct pipeline {
    char *id;
    component **procs; /* instances owned by this pipeline */
    size_t n_procs;
    component **exps;  /* shared exporter instances */
    size_t n_exps;
    const char **exp_ids; /* exps[i]->id, for pipeline_exporters() */
};

typedef struct delivery {
    atomic_int pending;
    pthread_mutex_t mu;
    int status;
    kiln_err err;
    kiln_submit_cb cb;
    void *cb_arg;
    component *recv;
    size_t bytes;      /* memory held (admission against memory_limit) */
    size_t wire_bytes; /* bytes as received (counters) */
    size_t profiles;
    kiln_graph *g;
} delivery;

struct kiln_graph {
    kiln_core *core;
    kiln_config *cfg;
    component **comps;
    size_t n_comps;
    pipeline *pipes;
    size_t n_pipes;
    kiln_http *http;
    kiln_workers *workers;
    atomic_long inflight_bytes;
    atomic_long inflight_batches;
    int64_t memory_limit;
    atomic_int draining;
    int started;
    kiln_gauge *mem_gauge;
    /* publish/lookup registry (names owned here, objects by publishers) */
    pthread_mutex_t reg_mu;
    char **reg_names;
    void **reg_objs;
    size_t n_reg;
};

struct kiln_core {
    struct event_base *base;
    kiln_metrics *metrics;
    kiln_loader *loader;
    kiln_payload_stats stats;
    char *config_path;
    kiln_graph *graph;
    /* loop-call queue: functions other threads want run on the loop */
    pthread_mutex_t lc_mu;
    struct lc_item *lc_head, *lc_tail;
    struct event *lc_ev;
    /* shutdown / reload state machine */
    struct event *stop_timer;
    int64_t stop_deadline;
    int stop_then_reload;
    kiln_config *pending_cfg;
    int exit_code;
    struct event *sig_term, *sig_int, *sig_hup;
};

/* core.c */
int kiln_core_init(kiln_core *c, const char *plugin_dir, kiln_err *err);
void kiln_core_fini(kiln_core *c);
int kiln_core_loop_call(kiln_core *c, void (*fn)(void *), void *arg);
/* Runs the queued loop calls now (on the loop thread). */
void kiln_core_run_loop_calls(kiln_core *c);
/* Loads, checks and starts the config at c->config_path; runs the loop
 * until SIGTERM/SIGINT. Returns the process exit code. */
int kiln_core_run(kiln_core *c, kiln_err *err);

/* graph.c */
/* Loads plugins and checks every component config (kiln validate). With
 * `create`, also creates the instances and the graph. */
int kiln_graph_build(kiln_core *c, kiln_config *cfg, int create, kiln_graph **out, kiln_err *err);
int kiln_graph_start(kiln_graph *g, kiln_err *err);
/* Stops receivers and listeners from taking new work. */
void kiln_graph_stop_intake(kiln_graph *g);
/* 1 when no delivery is in flight and no request awaits its answer. */
int kiln_graph_idle(kiln_graph *g);
/* Shuts exporters down (draining their queues by `deadline`), joins
 * threads and frees everything. The config is freed too. */
void kiln_graph_destroy(kiln_graph *g, int64_t deadline);
/* The settings table the core adds to every exporter (for docs). */
const kiln_cfg_field *kiln_exporter_core_fields(void);

/* deliver.c */
int kiln_deliver_submit(component *recv, kiln_batch *b, kiln_submit_cb cb, void *arg, kiln_err *err);
int kiln_exporter_rt_start(component *c, kiln_err *err);
void kiln_exporter_rt_stop(component *c);
long kiln_exporter_queue_len(component *c);

/* host.c */
extern const kiln_host_vtbl kiln_core_host_vtbl;

#endif
