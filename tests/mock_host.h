/* tests/mock_host.h — a mock core for plugin tests.
 *
 * Gives a plugin a kiln_host whose services record what the plugin does:
 * HTTP routes it registers (and a way to send them requests), batches it
 * submits, log lines, metrics. Submit completes at once, synchronously,
 * with the status set by mock_host_set_submit (default KILN_OK).
 * Everything is single-threaded: loop_call and work run fn at once.
 */
#ifndef KILN_MOCK_HOST_H
#define KILN_MOCK_HOST_H

#include <kiln/kiln.h>

typedef struct mock_host mock_host;

mock_host *mock_host_new(const char *id, const char *kind);
void mock_host_free(mock_host *m);
kiln_host *mock_host_host(mock_host *m);

/* What submit does: `immediate` is returned at once (KILN_EAGAIN to test
 * refusals; the batch is released); otherwise the callback gets `deferred`. */
void mock_host_set_submit(mock_host *m, int immediate, int deferred);

/* The exporter ids pipeline_exporters() reports (processor tests). */
void mock_host_set_exporters(mock_host *m, const char *const *ids, size_t n);

/* Batches submitted so far (the mock keeps one reference to each). */
size_t mock_host_nbatches(const mock_host *m);
kiln_batch *mock_host_batch(const mock_host *m, size_t i);

/* Everything logged, one line per call. */
const char *mock_host_log(const mock_host *m);

/* The sum of the counters registered with `name`, whatever their labels
 * (0 if none); and the one with exactly `labels` ("code=\"200\""). */
uint64_t mock_host_counter(const mock_host *m, const char *name);
uint64_t mock_host_counter_labels(const mock_host *m, const char *name, const char *labels);
uint64_t mock_host_dropped(const mock_host *m);

typedef struct mock_http_reply {
    int replied;
    int status;
    char content_type[128];
    char *body; /* NUL-terminated copy, malloc'ed; free with mock_http_reply_free */
    size_t len;
    char headers[1024]; /* "Name: value\n" per header the plugin set */
} mock_http_reply;

/* Sends a request to the route registered for the path of `target`
 * ("/ingest?name=x&from=1"). `headers` is a NULL-ended list of name, value
 * pairs (may be NULL). Returns 0, or -1 if no route matches. */
int mock_http_request(mock_host *m, const char *method, const char *target, const char **headers,
                      const void *body, size_t len, mock_http_reply *out);
void mock_http_reply_free(mock_http_reply *r);

/* A plugin instance on a mock core, made as the runtime makes one: the YAML
 * text (file name "t.yaml") through the plugin's field table, validate when
 * the plugin has one, then create. */
typedef struct mock_plugin {
    const kiln_plugin *pl;
    mock_host *m;    /* the core it runs on: owned */
    kiln_node *root; /* the parsed YAML (kept: validate errors cite it): owned */
    void *cfg;       /* the applied config: owned */
    void *st;        /* the plugin's state */
} mock_plugin;

/* Makes `pl` from `yaml` on core `m`, which mp takes over (also when this
 * fails). Returns KILN_OK, or the failing step's status with err saying
 * why ("t.yaml:2:6: ..."); on failure everything is released and *mp zeroed. */
int mock_plugin_make(mock_plugin *mp, const kiln_plugin *pl, mock_host *m, const char *yaml, kiln_err *err);

/* Destroys the state (no shutdown: call pl->shutdown first when the test
 * started it) and frees the config, the YAML and the core. A zeroed mp is a
 * no-op. */
void mock_plugin_drop(mock_plugin *mp);

#endif
