/* pipeline/metrics.c — see metrics.h. */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

enum { M_COUNTER, M_GAUGE, M_GAUGE_FN };
/* a M_GAUGE_FN whose `is_counter` is set renders as a counter */

typedef struct metric {
    struct metric *next;
    int type;
    char *name, *help, *labels;
    kiln_counter c;
    kiln_gauge g;
    int64_t (*fn)(void *);
    void *arg;
    const void *owner;
    int is_counter;
} metric;

struct kiln_metrics {
    pthread_mutex_t mu;
    metric *head, *tail;
    int64_t start_unix;
};

kiln_metrics *kiln_metrics_new(void)
{
    kiln_metrics *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    pthread_mutex_init(&m->mu, NULL);
    m->start_unix = (int64_t)time(NULL);
    return m;
}

void kiln_metrics_free(kiln_metrics *m)
{
    if (!m) return;
    metric *x = m->head;
    while (x) {
        metric *n = x->next;
        free(x->name);
        free(x->help);
        free(x->labels);
        free(x);
        x = n;
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static int same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Finds or appends; called with the lock held. */
static metric *lookup(kiln_metrics *m, int type, const char *name, const char *help,
                      const char *labels, int create)
{
    for (metric *x = m->head; x; x = x->next)
        if (x->type == type && strcmp(x->name, name) == 0 && same(x->labels, labels)) return x;
    if (!create) return NULL;
    metric *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->type = type;
    x->name = strdup(name);
    x->help = strdup(help ? help : "");
    x->labels = strdup(labels ? labels : "");
    if (!x->name || !x->help || !x->labels) {
        free(x->name);
        free(x->help);
        free(x->labels);
        free(x);
        return NULL;
    }
    /* keep metrics of one name together: insert after the last of that name */
    metric *after = NULL;
    for (metric *y = m->head; y; y = y->next)
        if (strcmp(y->name, name) == 0) after = y;
    if (after) {
        x->next = after->next;
        after->next = x;
        if (m->tail == after) m->tail = x;
    } else if (m->tail) {
        m->tail->next = x;
        m->tail = x;
    } else {
        m->head = m->tail = x;
    }
    return x;
}

kiln_counter *kiln_metrics_counter(kiln_metrics *m, const char *name, const char *help,
                                   const char *labels)
{
    pthread_mutex_lock(&m->mu);
    metric *x = lookup(m, M_COUNTER, name, help, labels, 1);
    pthread_mutex_unlock(&m->mu);
    return x ? &x->c : NULL;
}

kiln_gauge *kiln_metrics_gauge(kiln_metrics *m, const char *name, const char *help,
                               const char *labels)
{
    pthread_mutex_lock(&m->mu);
    metric *x = lookup(m, M_GAUGE, name, help, labels, 1);
    pthread_mutex_unlock(&m->mu);
    return x ? &x->g : NULL;
}

static int register_fn(kiln_metrics *m, const char *name, const char *help, const char *labels,
                       int64_t (*fn)(void *), void *arg, const void *owner, int is_counter)
{
    pthread_mutex_lock(&m->mu);
    metric *x = lookup(m, M_GAUGE_FN, name, help, labels, 1);
    if (x) {
        x->is_counter = is_counter;
        x->fn = fn;
        x->arg = arg;
        x->owner = owner;
    }
    pthread_mutex_unlock(&m->mu);
    return x ? KILN_OK : KILN_ENOMEM;
}

int kiln_metrics_gauge_fn(kiln_metrics *m, const char *name, const char *help, const char *labels,
                          int64_t (*fn)(void *), void *arg, const void *owner)
{
    return register_fn(m, name, help, labels, fn, arg, owner, 0);
}

int kiln_metrics_counter_fn(kiln_metrics *m, const char *name, const char *help, const char *labels,
                            int64_t (*fn)(void *), void *arg, const void *owner)
{
    return register_fn(m, name, help, labels, fn, arg, owner, 1);
}

void kiln_metrics_drop_owner(kiln_metrics *m, const void *owner)
{
    pthread_mutex_lock(&m->mu);
    for (metric *x = m->head; x; x = x->next)
        if (x->type == M_GAUGE_FN && x->owner == owner) {
            x->fn = NULL;
            x->arg = NULL;
            x->owner = NULL;
        }
    pthread_mutex_unlock(&m->mu);
}

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (w < 0) return;
        if (b->p && b->n + (size_t)w < b->cap) {
            b->n += (size_t)w;
            return;
        }
        size_t nc = b->cap ? b->cap * 2 : 4096;
        while (nc < b->n + (size_t)w + 1) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) return;
        b->p = np;
        b->cap = nc;
    }
}

static void series(sbuf *b, const char *name, const char *labels, const char *value)
{
    if (labels && *labels)
        sb_printf(b, "%s{%s} %s\n", name, labels, value);
    else
        sb_printf(b, "%s %s\n", name, value);
}

static void process_metrics(kiln_metrics *m, sbuf *b)
{
    long rss_pages = 0, size_pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &size_pages, &rss_pages) != 2) rss_pages = 0;
        fclose(f);
    }
    long page = sysconf(_SC_PAGESIZE);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    sb_printf(b, "# HELP kiln_process_resident_memory_bytes Resident memory of the kiln process.\n"
                 "# TYPE kiln_process_resident_memory_bytes gauge\n"
                 "kiln_process_resident_memory_bytes %ld\n",
              rss_pages * page);
    sb_printf(b, "# HELP kiln_process_max_resident_memory_bytes Peak resident memory.\n"
                 "# TYPE kiln_process_max_resident_memory_bytes gauge\n"
                 "kiln_process_max_resident_memory_bytes %ld\n",
              ru.ru_maxrss * 1024L);
    sb_printf(b, "# HELP kiln_process_cpu_seconds_total User and system CPU time.\n"
                 "# TYPE kiln_process_cpu_seconds_total counter\n"
                 "kiln_process_cpu_seconds_total %.3f\n",
              cpu);
    sb_printf(b, "# HELP kiln_process_start_time_seconds Start time, Unix seconds.\n"
                 "# TYPE kiln_process_start_time_seconds gauge\n"
                 "kiln_process_start_time_seconds %lld\n",
              (long long)m->start_unix);
}

char *kiln_metrics_render(kiln_metrics *m, size_t *len)
{
    sbuf b = {0};
    pthread_mutex_lock(&m->mu);
    const char *last = NULL;
    for (metric *x = m->head; x; x = x->next) {
        if (x->type == M_GAUGE_FN && !x->fn) continue;
        if (!last || strcmp(last, x->name) != 0) {
            sb_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", x->name, x->help, x->name,
                      x->type == M_COUNTER || x->is_counter ? "counter" : "gauge");
            last = x->name;
        }
        char v[32];
        if (x->type == M_COUNTER)
            snprintf(v, sizeof v, "%llu", (unsigned long long)atomic_load(&x->c.v));
        else if (x->type == M_GAUGE)
            snprintf(v, sizeof v, "%lld", (long long)atomic_load(&x->g.v));
        else
            snprintf(v, sizeof v, "%lld", (long long)x->fn(x->arg));
        series(&b, x->name, x->labels, v);
    }
    pthread_mutex_unlock(&m->mu);
    process_metrics(m, &b);
    if (!b.p) sb_printf(&b, "%s", "");
    *len = b.n;
    return b.p;
}

int64_t kiln_metrics_value(kiln_metrics *m, const char *name, const char *labels)
{
    int64_t v = -1;
    pthread_mutex_lock(&m->mu);
    for (metric *x = m->head; x; x = x->next) {
        if (strcmp(x->name, name) != 0 || !same(x->labels, labels)) continue;
        if (x->type == M_COUNTER) v = (int64_t)atomic_load(&x->c.v);
        else if (x->type == M_GAUGE) v = atomic_load(&x->g.v);
        else if (x->fn) v = x->fn(x->arg);
        break;
    }
    pthread_mutex_unlock(&m->mu);
    return v;
}
