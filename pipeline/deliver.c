/* pipeline/deliver.c — the data path: admission, processors, fan-out to
 * exporter queues, and the completion that answers the sender.
 *
 *   receiver --submit--> [admission] --worker--> processors (in order)
 *            --> one queue item per exporter --exporter thread--> consume
 *            --> delivery done --loop thread--> receiver callback (200/429)
 *
 * A delivery counts outstanding parts (one per pipeline, then one per
 * exporter of that pipeline). The first error is kept; when the count
 * reaches zero the receiver's callback is scheduled on the loop thread.
 * Admission refuses (KILN_EAGAIN) when the memory budget is spent or an
 * exporter queue is full, so accepted data is never dropped for lack of
 * room later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "log.h"

typedef struct pipe_task {
    delivery *d;
    pipeline *p;
    kiln_batch *b;
} pipe_task;

static void deliver_on_loop(void *arg)
{
    delivery *d = arg;
    kiln_graph *g = d->g;
    if (d->status == KILN_OK) {
        kiln_counter_add(d->recv->acc_profiles, d->profiles);
        kiln_counter_add(d->recv->acc_bytes, d->wire_bytes);
    } else {
        kiln_counter_add(d->recv->ref_profiles, d->profiles);
        kiln_counter_add(d->recv->ref_bytes, d->wire_bytes);
    }
    if (d->cb) d->cb(d->cb_arg, d->status, &d->err);
    pthread_mutex_destroy(&d->mu);
    free(d);
    atomic_fetch_sub(&g->inflight_batches, 1);
}

/* Releases one part of the delivery with its outcome. Any thread. */
static void part_done(delivery *d, int status, const kiln_err *err)
{
    if (status != KILN_OK) {
        pthread_mutex_lock(&d->mu);
        if (d->status == KILN_OK) {
            d->status = status;
            if (err) d->err = *err;
            if (!d->err.msg[0]) kiln_err_set(&d->err, status, "pipeline failed");
            d->err.code = status;
        }
        pthread_mutex_unlock(&d->mu);
    }
    if (atomic_fetch_sub(&d->pending, 1) != 1) return;
    kiln_graph *g = d->g;
    atomic_fetch_sub(&g->inflight_bytes, (long)d->bytes);
    kiln_gauge_set(g->mem_gauge, atomic_load(&g->inflight_bytes));
    if (kiln_core_loop_call(g->core, deliver_on_loop, d) != KILN_OK) {
        /* cannot happen short of OOM; answer from here rather than hang */
        deliver_on_loop(d);
    }
}

static void count_drops(component *proc, kiln_batch *b, size_t from_live)
{
    size_t live = kiln_batch_live(b);
    if (live >= from_live) return;
    /* group by reason; reasons are static strings so pointer equality is enough */
    for (size_t i = 0; i < b->n; i++) {
        kiln_profile *p = &b->v[i];
        if (!(p->flags & KILN_PROFILE_DROPPED) || !p->drop_reason) continue;
        char labels[512];
        snprintf(labels, sizeof labels, "%s,reason=\"%s\"", proc->label, p->drop_reason);
        kiln_counter_add(kiln_metrics_counter(proc->g->core->metrics,
                                              "kiln_processor_dropped_profiles_total",
                                              "Profiles a processor dropped, by reason.", labels),
                         1);
        p->drop_reason = NULL; /* counted */
    }
}

static void exporter_enqueue(component *e, kiln_batch *b, delivery *d)
{
    exporter_rt *x = e->ex;
    exp_item *it = malloc(sizeof *it);
    if (!it) {
        kiln_err err;
        kiln_err_set(&err, KILN_ENOMEM, "exporter %s: out of memory queueing", e->id);
        part_done(d, KILN_ENOMEM, &err);
        return;
    }
    it->next = NULL;
    it->batch = kiln_batch_ref(b);
    it->d = d;
    pthread_mutex_lock(&x->mu);
    if (x->tail)
        x->tail->next = it;
    else
        x->head = it;
    x->tail = it;
    atomic_fetch_add(&x->len, 1);
    pthread_cond_signal(&x->cv);
    pthread_mutex_unlock(&x->mu);
}

/* 1 if every profile of the (compacted) batch goes to the exporter of `bit`:
 * then the exporter can share the batch instead of getting a copy. */
static int routes_all(const kiln_batch *b, uint64_t bit)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i].route_mask && !(b->v[i].route_mask & bit)) return 0;
    return 1;
}

static void run_pipeline(void *arg)
{
    pipe_task *t = arg;
    delivery *d = t->d;
    pipeline *p = t->p;
    kiln_batch *b = t->b;
    free(t);
    kiln_err err;
    kiln_err_clear(&err);
    for (size_t i = 0; i < p->n_procs; i++) {
        component *proc = p->procs[i];
        size_t before = kiln_batch_live(b);
        int rc = proc->plugin->consume ? proc->plugin->consume(proc->state, b, &err) : KILN_OK;
        if (rc != KILN_OK) {
            if (!err.msg[0]) kiln_err_set(&err, rc, "processor %s failed", proc->id);
            kiln_err_prefix(&err, "processor %s", proc->id);
            kiln_counter_add(kiln_metrics_counter(proc->g->core->metrics,
                                                  "kiln_processor_refused_profiles_total",
                                                  "Profiles refused back to the sender by a processor.",
                                                  proc->label),
                             before);
            kiln_batch_unref(b);
            part_done(d, rc, &err);
            return;
        }
        count_drops(proc, b, before);
    }
    kiln_batch_compact(b);
    /* routing: which exporters get which profiles */
    uint64_t all = p->n_exps >= 64 ? ~0ULL : ((1ULL << p->n_exps) - 1);
    int routed = 0;
    size_t unrouted = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (!b->v[i].route_mask) continue;
        routed = 1;
        if (!(b->v[i].route_mask & all)) {
            kiln_profile_drop(&b->v[i], "no_route");
            unrouted++;
        }
    }
    if (unrouted) {
        char labels[256];
        snprintf(labels, sizeof labels, "pipeline=\"%s\",reason=\"no_route\"", p->id);
        kiln_counter_add(kiln_metrics_counter(d->g->core->metrics, "kiln_pipeline_dropped_profiles_total",
                                              "Profiles a pipeline dropped after its processors.", labels),
                         unrouted);
        kiln_batch_compact(b);
    }
    if (b->n == 0 || p->n_exps == 0) {
        kiln_batch_unref(b);
        part_done(d, KILN_OK, NULL);
        return;
    }
    atomic_fetch_add(&d->pending, (int)p->n_exps);
    for (size_t i = 0; i < p->n_exps; i++) {
        kiln_batch *eb = routed && !routes_all(b, 1ULL << i) ? kiln_batch_subset(b, 1ULL << i)
                                                             : kiln_batch_ref(b);
        if (!eb) {
            kiln_err e;
            kiln_err_set(&e, KILN_ENOMEM, "out of memory routing");
            part_done(d, KILN_ENOMEM, &e);
        } else if (eb->n == 0) {
            kiln_batch_unref(eb);
            part_done(d, KILN_OK, NULL);
        } else {
            exporter_enqueue(p->exps[i], eb, d);
            kiln_batch_unref(eb);
        }
    }
    kiln_batch_unref(b);
    part_done(d, KILN_OK, NULL); /* the pipeline's own part */
}

int kiln_deliver_submit(component *recv, kiln_batch *b, kiln_submit_cb cb, void *arg, kiln_err *err)
{
    kiln_graph *g = recv->g;
    size_t bytes = 0, wire = 0, profiles = b->n;
    for (size_t i = 0; i < b->n; i++) {
        kiln_profile *p = &b->v[i];
        if (!p->tenant && kiln_profile_set_tenant(p, KILN_TENANT_DEFAULT) != KILN_OK) {
            kiln_batch_unref(b);
            return kiln_err_set(err, KILN_ENOMEM, "out of memory");
        }
        if (p->payload) {
            kiln_payload_set_stats(p->payload, &g->core->stats);
            bytes += kiln_payload_mem(p->payload);
            wire += kiln_payload_wire_size(p->payload);
        }
    }
    kiln_counter_add(recv->recv_profiles, profiles);
    kiln_counter_add(recv->recv_bytes, wire);

    const char *why = NULL;
    char whybuf[256];
    if (atomic_load(&g->draining))
        why = "kiln is shutting down";
    else if (g->memory_limit > 0 &&
             atomic_load(&g->inflight_bytes) + (long)bytes > g->memory_limit &&
             atomic_load(&g->inflight_batches) > 0) {
        snprintf(whybuf, sizeof whybuf,
                 "service.memory_limit reached (%ld bytes in flight, limit %lld)",
                 atomic_load(&g->inflight_bytes), (long long)g->memory_limit);
        why = whybuf;
    } else {
        for (size_t i = 0; i < recv->n_feeds && !why; i++)
            for (size_t j = 0; j < recv->feeds[i]->n_exps && !why; j++) {
                component *e = recv->feeds[i]->exps[j];
                if (atomic_load(&e->ex->len) >= e->ex->set.queue_size) {
                    snprintf(whybuf, sizeof whybuf, "exporter %s queue is full (%lld batches)",
                             e->id, (long long)e->ex->set.queue_size);
                    why = whybuf;
                }
            }
    }
    if (why) {
        kiln_counter_add(recv->ref_profiles, profiles);
        kiln_counter_add(recv->ref_bytes, wire);
        kiln_batch_unref(b);
        return kiln_err_set(err, KILN_EAGAIN, "%s", why);
    }

    delivery *d = calloc(1, sizeof *d);
    if (!d) {
        kiln_batch_unref(b);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&d->mu, NULL);
    d->cb = cb;
    d->cb_arg = arg;
    d->recv = recv;
    d->bytes = bytes;
    d->wire_bytes = wire;
    d->profiles = profiles;
    d->g = g;
    atomic_fetch_add(&g->inflight_bytes, (long)bytes);
    atomic_fetch_add(&g->inflight_batches, 1);
    kiln_gauge_set(g->mem_gauge, atomic_load(&g->inflight_bytes));
    /* one part per pipeline plus a guard released below */
    atomic_init(&d->pending, (int)recv->n_feeds + 1);
    for (size_t i = 0; i < recv->n_feeds; i++) {
        kiln_batch *pb = (i + 1 == recv->n_feeds) ? kiln_batch_ref(b) : kiln_batch_clone(b);
        pipe_task *t = pb ? malloc(sizeof *t) : NULL;
        if (!t) {
            if (pb) kiln_batch_unref(pb);
            kiln_err e;
            kiln_err_set(&e, KILN_ENOMEM, "out of memory");
            part_done(d, KILN_ENOMEM, &e);
            continue;
        }
        t->d = d;
        t->p = recv->feeds[i];
        t->b = pb;
        if (kiln_workers_add(g->workers, run_pipeline, t) != KILN_OK) {
            kiln_batch_unref(pb);
            free(t);
            kiln_err e;
            kiln_err_set(&e, KILN_EAGAIN, "kiln is shutting down");
            part_done(d, KILN_EAGAIN, &e);
        }
    }
    kiln_batch_unref(b);
    part_done(d, KILN_OK, NULL); /* the guard */
    return KILN_OK;
}

/* ---- exporter queues ------------------------------------------------------- */

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
    nanosleep(&ts, NULL);
}

static void export_one(component *e, exp_item *it)
{
    exporter_rt *x = e->ex;
    kiln_err err;
    kiln_err_clear(&err);
    int64_t start = kiln_now_mono_ns();
    int64_t wait = x->set.initial_interval;
    int rc;
    for (;;) {
        rc = e->plugin->consume ? e->plugin->consume(e->state, it->batch, &err) : KILN_OK;
        if (rc == KILN_OK || !x->set.retry_enabled || !err.retriable) break;
        int64_t now = kiln_now_mono_ns();
        if (now - start + wait > x->set.max_elapsed_time) break;
        pthread_mutex_lock(&x->mu);
        int stopping = x->stopping;
        pthread_mutex_unlock(&x->mu);
        if (stopping) break;
        kiln_counter_add(x->retries, 1);
        kiln_core_log(KILN_LOG_WARN, e->logname, "export failed, retrying in %lldms: %s",
                      (long long)(wait / 1000000), err.msg);
        sleep_ns(wait);
        wait *= 2;
        if (wait > x->set.max_interval) wait = x->set.max_interval;
        kiln_err_clear(&err);
    }
    size_t n = it->batch->n, bytes = 0;
    for (size_t i = 0; i < n; i++)
        if (it->batch->v[i].payload) bytes += kiln_payload_wire_size(it->batch->v[i].payload);
    if (rc == KILN_OK) {
        kiln_counter_add(x->sent_profiles, n);
        kiln_counter_add(x->sent_bytes, bytes);
    } else {
        kiln_counter_add(x->failed_profiles, n);
        if (!err.msg[0]) kiln_err_set(&err, rc, "export failed");
        kiln_err_prefix(&err, "exporter %s", e->id);
        kiln_core_log(KILN_LOG_ERROR, e->logname, "export failed profiles=%zu: %s", n, err.msg);
    }
    part_done(it->d, rc, &err);
    kiln_batch_unref(it->batch);
    free(it);
}

static void *exporter_main(void *arg)
{
    component *e = arg;
    exporter_rt *x = e->ex;
    pthread_mutex_lock(&x->mu);
    for (;;) {
        while (!x->head && !x->stopping) pthread_cond_wait(&x->cv, &x->mu);
        exp_item *it = x->head;
        if (!it) break; /* stopping and empty */
        x->head = it->next;
        if (!x->head) x->tail = NULL;
        pthread_mutex_unlock(&x->mu);
        export_one(e, it);
        atomic_fetch_sub(&x->len, 1);
        pthread_mutex_lock(&x->mu);
    }
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

int kiln_exporter_rt_start(component *c, kiln_err *err)
{
    exporter_rt *x = c->ex;
    size_t n = (size_t)(x->set.num_consumers > 0 ? x->set.num_consumers : 1);
    x->threads = calloc(n, sizeof *x->threads);
    if (!x->threads) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (pthread_create(&x->threads[i], NULL, exporter_main, c) != 0)
            return kiln_err_set(err, KILN_ERR, "exporter %s: cannot start thread", c->id);
        x->n_threads++;
    }
    return KILN_OK;
}

void kiln_exporter_rt_stop(component *c)
{
    exporter_rt *x = c->ex;
    pthread_mutex_lock(&x->mu);
    x->stopping = 1;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    for (size_t i = 0; i < x->n_threads; i++) pthread_join(x->threads[i], NULL);
    x->n_threads = 0;
}

long kiln_exporter_queue_len(component *c) { return atomic_load(&c->ex->len); }
