/* kiln/host.h — what the core offers a component instance.
 *
 * Each component instance gets its own kiln_host at create. Every service
 * goes through the function table `vt`, so a plugin test can hand the
 * plugin a mock core (tests/mock_host.c) and the plugin never depends on
 * symbols of the daemon. The inline wrappers below are the API to call.
 *
 * Threads: HTTP handlers, submit callbacks and loop_call functions run on
 * the network loop thread; consume runs on a worker thread; work() runs fn
 * on a worker thread. Only the calls marked "any thread" may be made from
 * elsewhere.
 */
#ifndef KILN_HOST_H
#define KILN_HOST_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <kiln/err.h>
#include <kiln/profile.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { KILN_LOG_ERROR = 0, KILN_LOG_WARN = 1, KILN_LOG_INFO = 2, KILN_LOG_DEBUG = 3 };

/* A monotonically increasing counter, updated from any thread. */
typedef struct kiln_counter {
    atomic_uint_fast64_t v;
} kiln_counter;

/* A value that goes up and down, set from any thread. */
typedef struct kiln_gauge {
    atomic_int_fast64_t v;
} kiln_gauge;

static inline void kiln_counter_add(kiln_counter *c, uint64_t d)
{
    if (c) atomic_fetch_add_explicit(&c->v, d, memory_order_relaxed);
}
static inline void kiln_gauge_set(kiln_gauge *g, int64_t v)
{
    if (g) atomic_store_explicit(&g->v, v, memory_order_relaxed);
}
static inline void kiln_gauge_add(kiln_gauge *g, int64_t d)
{
    if (g) atomic_fetch_add_explicit(&g->v, d, memory_order_relaxed);
}

/* ---- HTTP ---------------------------------------------------------------- */

typedef struct kiln_http_req kiln_http_req; /* one incoming request; opaque */

/* Called on the loop thread for each request to a registered path. The
 * handler must eventually call kiln_http_reply exactly once (it may do so
 * later, from a submit callback); the request stays valid until then. */
typedef void (*kiln_http_handler)(kiln_http_req *req, void *arg);

typedef struct kiln_http_route_opts {
    int64_t max_body_bytes;  /* over this the core answers 413 itself; 0: 64 MiB */
    int prefix;              /* 1: the path matches as a prefix */
} kiln_http_route_opts;

/* ---- submitting data ------------------------------------------------------ */

/* Completion of a submitted batch, called once on the loop thread: status
 * KILN_OK when every exporter of every pipeline took the data; otherwise the
 * error (retriable: the sender should retry). */
typedef void (*kiln_submit_cb)(void *arg, int status, const kiln_err *err);

typedef struct kiln_host kiln_host;

typedef struct kiln_host_vtbl {
    uint32_t size; /* sizeof(kiln_host_vtbl) of the core; check before using new slots */

    /* any thread */
    void (*vlog)(kiln_host *h, int level, const char *fmt, va_list ap);

    /* Registers a route on the shared listener for `endpoint` ("host:port",
     * ":4040"); components naming the same endpoint share one server.
     * Fails if the path is already taken on that endpoint. Call from create. */
    int (*http_route)(kiln_host *h, const char *endpoint, const char *method, const char *path,
                      const kiln_http_route_opts *opts, kiln_http_handler fn, void *arg,
                      kiln_err *err);
    const char *(*http_method)(kiln_http_req *r);
    const char *(*http_path)(kiln_http_req *r);
    /* The decoded value of query parameter `name`, or NULL. Valid until reply. */
    const char *(*http_query)(kiln_http_req *r, const char *name);
    /* Header value (case-insensitive name), or NULL. Valid until reply. */
    const char *(*http_header)(kiln_http_req *r, const char *name);
    /* The body as one contiguous buffer owned by the request (valid until
     * reply), or taken: with `take` the caller owns *data (free()). */
    int (*http_body)(kiln_http_req *r, int take, uint8_t **data, size_t *len);
    void (*http_set_header)(kiln_http_req *r, const char *name, const char *value);
    /* Sends the answer and releases the request. */
    void (*http_reply)(kiln_http_req *r, int status, const char *content_type, const void *body,
                       size_t len);

    /* Hands a batch to every pipeline this receiver feeds. Always takes the
     * caller's reference to `b`. Returns KILN_OK (cb will be called once,
     * on the loop thread) or an error at once (cb is not called):
     * KILN_EAGAIN when the pipelines cannot take more now. */
    int (*submit)(kiln_host *h, kiln_batch *b, kiln_submit_cb cb, void *cb_arg, kiln_err *err);

    /* Runs fn(arg) on the loop thread / on a worker thread. Any thread. */
    int (*loop_call)(kiln_host *h, void (*fn)(void *), void *arg);
    int (*work)(kiln_host *h, void (*fn)(void *), void *arg);

    /* Component metrics, shown on /metrics as
     * `kiln_<name>{<kind>="<id>"[,<labels>]}`. `labels` is "k=\"v\"" text or
     * NULL. The core owns the returned object. Call from create. */
    kiln_counter *(*counter)(kiln_host *h, const char *name, const char *help, const char *labels);
    kiln_gauge *(*gauge)(kiln_host *h, const char *name, const char *help, const char *labels);

    /* Counts profiles a processor or exporter dropped, by reason. Any thread. */
    void (*count_dropped)(kiln_host *h, const char *reason, uint64_t profiles);

    /* Processors: the ids of the exporters of the pipeline this instance
     * belongs to, in pipeline order (bit i of kiln_profile.route_mask is
     * ids[i]). The array is owned by the core and valid until destroy.
     * Other kinds get n = 0. At most 64 exporters per pipeline. */
    void (*pipeline_exporters)(kiln_host *h, const char *const **ids, size_t *n);

    /* A registry of named objects that components of one running config
     * share (e.g. the blocks exporter publishes its heads so the query
     * exporter can read data not yet in a block). publish from create;
     * lookup from start or later (every create has run by then). The core
     * does not own or free `obj`; the publisher keeps it valid until its
     * destroy, which runs after every start/consume of the config ended.
     * publish fails (KILN_EINVAL) if the name is taken. */
    int (*publish)(kiln_host *h, const char *name, void *obj, kiln_err *err);
    void *(*lookup)(kiln_host *h, const char *name);
} kiln_host_vtbl;

struct kiln_host {
    const kiln_host_vtbl *vt;
    void *core;         /* the core's (or the mock's) private state */
    const char *id;     /* component id, "pprof/main" */
    const char *kind;   /* "receiver", "processor", "exporter" */
    int log_level;      /* KILN_LOG_*: messages above it are skipped */
};

/* ---- wrappers -------------------------------------------------------------- */

static inline int kiln_log_enabled(const kiln_host *h, int level) { return level <= h->log_level; }

static inline __attribute__((format(printf, 3, 4))) void
kiln_log(kiln_host *h, int level, const char *fmt, ...)
{
    if (level > h->log_level) return;
    va_list ap;
    va_start(ap, fmt);
    h->vt->vlog(h, level, fmt, ap);
    va_end(ap);
}

#define kiln_log_error(h, ...) kiln_log((h), KILN_LOG_ERROR, __VA_ARGS__)
#define kiln_log_warn(h, ...) kiln_log((h), KILN_LOG_WARN, __VA_ARGS__)
#define kiln_log_info(h, ...) kiln_log((h), KILN_LOG_INFO, __VA_ARGS__)
#define kiln_log_debug(h, ...)                                                                     \
    do {                                                                                           \
        if (kiln_log_enabled((h), KILN_LOG_DEBUG)) kiln_log((h), KILN_LOG_DEBUG, __VA_ARGS__);     \
    } while (0)

static inline int kiln_submit(kiln_host *h, kiln_batch *b, kiln_submit_cb cb, void *arg,
                              kiln_err *err)
{
    return h->vt->submit(h, b, cb, arg, err);
}

#ifdef __cplusplus
}
#endif
#endif
