/* pipeline/metrics.h — the core's metric registry, rendered as Prometheus
 * text on /metrics.
 *
 * A metric is (name, labels) -> a cell. Registering the same (name, labels)
 * twice returns the same cell, so counters survive a config reload. Cells
 * are owned by the registry and never move; gauge callbacks are tagged with
 * an owner pointer and removed with kiln_metrics_drop_owner before the
 * owner is freed. Registration and rendering are thread-safe; updates are
 * atomic and lock-free.
 */
#ifndef KILN_CORE_METRICS_H
#define KILN_CORE_METRICS_H

#include <kiln/host.h>
#include <stddef.h>

typedef struct kiln_metrics kiln_metrics;

kiln_metrics *kiln_metrics_new(void);
void kiln_metrics_free(kiln_metrics *m);

/* `labels` is Prometheus label text without braces (`receiver="pprof"`) or NULL. */
kiln_counter *kiln_metrics_counter(kiln_metrics *m, const char *name, const char *help,
                                   const char *labels);
kiln_gauge *kiln_metrics_gauge(kiln_metrics *m, const char *name, const char *help,
                               const char *labels);
/* A gauge read by calling fn(arg) at render time. */
int kiln_metrics_gauge_fn(kiln_metrics *m, const char *name, const char *help, const char *labels,
                          int64_t (*fn)(void *), void *arg, const void *owner);
/* The same for a counter kept elsewhere (rendered with TYPE counter). */
int kiln_metrics_counter_fn(kiln_metrics *m, const char *name, const char *help, const char *labels,
                            int64_t (*fn)(void *), void *arg, const void *owner);
void kiln_metrics_drop_owner(kiln_metrics *m, const void *owner);

/* Renders every metric plus process metrics (RSS, CPU seconds, start time).
 * Returns a malloc'ed NUL-terminated text; *len its length. */
char *kiln_metrics_render(kiln_metrics *m, size_t *len);

/* Value of a counter or gauge by name and labels (tests). -1 if absent. */
int64_t kiln_metrics_value(kiln_metrics *m, const char *name, const char *labels);

#endif
