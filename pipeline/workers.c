/* pipeline/workers.c — see workers.h. */
#include "workers.h"

#include <kiln/err.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct task {
    struct task *next;
    void (*fn)(void *);
    void *arg;
} task;

struct kiln_workers {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    task *head, *tail;
    size_t queued, running;
    int stopping;
    size_t n;
    pthread_t *threads;
};

static void *worker_main(void *p)
{
    kiln_workers *w = p;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stopping) pthread_cond_wait(&w->cv, &w->mu);
        task *t = w->head;
        if (!t) break; /* stopping and drained */
        w->head = t->next;
        if (!w->head) w->tail = NULL;
        w->queued--;
        w->running++;
        pthread_mutex_unlock(&w->mu);
        t->fn(t->arg);
        free(t);
        pthread_mutex_lock(&w->mu);
        w->running--;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

kiln_workers *kiln_workers_new(size_t n)
{
    if (n == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (size_t)c : 1;
    }
    kiln_workers *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->threads = calloc(n, sizeof *w->threads);
    if (!w->threads) {
        free(w);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0) break;
        w->n++;
    }
    if (w->n == 0) {
        free(w->threads);
        free(w);
        return NULL;
    }
    return w;
}

int kiln_workers_add(kiln_workers *w, void (*fn)(void *), void *arg)
{
    task *t = malloc(sizeof *t);
    if (!t) return KILN_ENOMEM;
    t->next = NULL;
    t->fn = fn;
    t->arg = arg;
    pthread_mutex_lock(&w->mu);
    if (w->stopping) {
        pthread_mutex_unlock(&w->mu);
        free(t);
        return KILN_ECANCELED;
    }
    if (w->tail)
        w->tail->next = t;
    else
        w->head = t;
    w->tail = t;
    w->queued++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return KILN_OK;
}

void kiln_workers_free(kiln_workers *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < w->n; i++) pthread_join(w->threads[i], NULL);
    free(w->threads);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

size_t kiln_workers_count(const kiln_workers *w) { return w->n; }

size_t kiln_workers_backlog(kiln_workers *w)
{
    pthread_mutex_lock(&w->mu);
    size_t n = w->queued + w->running;
    pthread_mutex_unlock(&w->mu);
    return n;
}
