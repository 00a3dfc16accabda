/* exporters/query/qstore.c — the store as queries see it, per tenant:
 *
 *   blocks  the tenant's visible blocks in the object store, listed at most
 *           every sync_interval (or at once after a query found one gone),
 *           opened once (their index read) and kept open while they stay
 *           visible, so their symbol caches serve later queries;
 *   heads   the WAL segments under <wal_dir>/<tenant>/ whose block is not
 *           stored yet, replayed read-only and tailed before each query
 *           (kiln_wal_heads_refresh), so a profile is queryable as soon as
 *           the blocks exporter acknowledged it; a segment is dropped the
 *           moment a visible block covers it, so nothing is counted twice.
 *           When a segment vanishes that the listing does not cover yet
 *           (uploaded and deleted between two listings), the blocks are
 *           listed again at once.
 *
 * Locking: per tenant, `sync_mu` lets one thread refresh at a time; `rw`
 * is held for reading by every query using the tenant's sources (from
 * acquire to release) and for writing only while the refreshed listing,
 * blocks and heads are swapped in (blocks are listed and opened before,
 * without it). If queries hold it for long, a refresh gives up after
 * 100 ms and the query runs on the previous state. The tenant table is
 * guarded by the store's `mu`; tenants live until the store is freed.
 *
 * Memory: the store owns the object store, every tenant, listing, opened
 * block, WAL head and head view.
 */
#include "query.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct kq_tenant {
    char *name;
    pthread_mutex_t sync_mu;
    pthread_rwlock_t rw;
    /* guarded by rw */
    kiln_blocks_list list;
    kiln_block **blocks; /* [list.n]; NULL when hidden or unreadable */
    kiln_wal_heads heads;
    kiln_block **views;  /* [heads.n] */
    /* guarded by sync_mu */
    int listed;
    int64_t listed_mono;
    atomic_int force_list;
    struct kq_tenant *next;
} kq_tenant;

struct kq_store {
    kiln_objstore *os;
    char *wal_dir;
    int64_t sync_ns;
    pthread_mutex_t mu;
    kq_tenant *tenants;
    atomic_uint_fast64_t lists, opens, open_failures, wal_refreshes;
};

int kiln_query_store_new(kiln_objstore *os, const kq_store_opts *o, kq_store **out, kiln_err *err)
{
    kq_store *s = calloc(1, sizeof *s);
    if (!s) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    s->os = os;
    if (o && o->wal_dir && *o->wal_dir && !(s->wal_dir = strdup(o->wal_dir))) {
        free(s);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    s->sync_ns = o ? o->sync_interval_ns : 0;
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return KILN_OK;
}

static void close_views(kq_tenant *t)
{
    for (size_t i = 0; i < t->heads.n; i++)
        if (t->views && t->views[i]) kiln_block_close(t->views[i]);
    free(t->views);
    t->views = NULL;
}

static void close_blocks(kiln_block **b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b && b[i]) kiln_block_close(b[i]);
    free(b);
}

void kiln_query_store_free(kq_store *s)
{
    if (!s) return;
    kq_tenant *t = s->tenants;
    while (t) {
        kq_tenant *nx = t->next;
        close_views(t);
        kiln_wal_heads_free(&t->heads);
        close_blocks(t->blocks, t->list.n);
        kiln_blocks_list_free(&t->list);
        pthread_mutex_destroy(&t->sync_mu);
        pthread_rwlock_destroy(&t->rw);
        free(t->name);
        free(t);
        t = nx;
    }
    pthread_mutex_destroy(&s->mu);
    kiln_objstore_close(s->os);
    free(s->wal_dir);
    free(s);
}

void kiln_query_store_stats(kq_store *s, kq_store_stats *o)
{
    o->lists = atomic_load(&s->lists);
    o->opens = atomic_load(&s->opens);
    o->open_failures = atomic_load(&s->open_failures);
    o->wal_refreshes = atomic_load(&s->wal_refreshes);
}

static kq_tenant *tenant_get(kq_store *s, const char *name)
{
    pthread_mutex_lock(&s->mu);
    kq_tenant *t;
    for (t = s->tenants; t; t = t->next)
        if (!strcmp(t->name, name)) break;
    if (!t && (t = calloc(1, sizeof *t))) {
        if (!(t->name = strdup(name))) {
            free(t);
            t = NULL;
        } else {
            pthread_mutex_init(&t->sync_mu, NULL);
            pthread_rwlock_init(&t->rw, NULL);
            t->next = s->tenants;
            s->tenants = t;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return t;
}

void kiln_query_store_invalidate(kq_store *s, const char *tenant)
{
    kq_tenant *t = tenant_get(s, tenant);
    if (t) atomic_store(&t->force_list, 1);
}

/* Lists the tenant's blocks and opens the visible ones, reusing blocks the
 * tenant has open already (read under the read lock by the caller's
 * caller: only this thread changes them, under sync_mu). */
static int list_and_open(kq_store *s, kq_tenant *t, kiln_blocks_list *nl, kiln_block ***nb,
                         kiln_err *err)
{
    int rc = kiln_blocks_list_tenant(s->os, t->name, nl, NULL, NULL, err);
    if (rc != KILN_OK) return rc;
    atomic_fetch_add(&s->lists, 1);
    *nb = calloc(nl->n ? nl->n : 1, sizeof **nb);
    if (!*nb) {
        kiln_blocks_list_free(nl);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < nl->n; i++) {
        if (!nl->visible[i]) continue;
        int found = 0;
        for (size_t k = 0; k < t->list.n && !found; k++)
            if (t->blocks && t->blocks[k] && !strcmp(t->list.v[k].id, nl->v[i].id)) {
                (*nb)[i] = t->blocks[k];
                found = 1;
            }
        if (found) continue;
        kiln_err e;
        if (kiln_block_open(s->os, &nl->v[i], &(*nb)[i], &e) == KILN_OK) {
            atomic_fetch_add(&s->opens, 1);
        } else {
            /* left out of queries; counted (and reported by `kiln blocks verify`) */
            (*nb)[i] = NULL;
            atomic_fetch_add(&s->open_failures, 1);
        }
    }
    return KILN_OK;
}

/* Swaps a new listing in (write lock held): blocks of the old listing that
 * the new one does not reuse are closed. */
static void swap_list(kq_tenant *t, kiln_blocks_list *nl, kiln_block **nb)
{
    for (size_t k = 0; k < t->list.n; k++) {
        if (!t->blocks || !t->blocks[k]) continue;
        int reused = 0;
        for (size_t i = 0; i < nl->n && !reused; i++) reused = nb[i] == t->blocks[k];
        if (!reused) kiln_block_close(t->blocks[k]);
    }
    free(t->blocks);
    kiln_blocks_list_free(&t->list);
    t->list = *nl;
    t->blocks = nb;
    memset(nl, 0, sizeof *nl);
}

/* Tails the WAL and remakes the head views (write lock held). Sets
 * *vanished when a segment disappeared that the listing does not cover. */
static int refresh_heads(kq_store *s, kq_tenant *t, int *vanished, kiln_err *err)
{
    *vanished = 0;
    if (!s->wal_dir) return KILN_OK;
    size_t n0 = t->heads.n;
    kiln_block_id *before = malloc((n0 ? n0 : 1) * sizeof *before);
    if (!before) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n0; i++) memcpy(before[i], kiln_head_id(t->heads.v[i].head), sizeof before[i]);
    close_views(t);
    int rc = kiln_wal_heads_refresh(s->wal_dir, t->name, &t->list, &t->heads, err);
    atomic_fetch_add(&s->wal_refreshes, 1);
    if (rc == KILN_OK) {
        for (size_t i = 0; i < n0 && !*vanished; i++) {
            int still = 0;
            for (size_t k = 0; k < t->heads.n && !still; k++)
                still = !strcmp(kiln_head_id(t->heads.v[k].head), before[i]);
            if (!still && !kiln_blocks_list_covers(&t->list, before[i])) *vanished = 1;
        }
        t->views = calloc(t->heads.n ? t->heads.n : 1, sizeof *t->views);
        if (!t->views) rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
        for (size_t i = 0; rc == KILN_OK && i < t->heads.n; i++)
            rc = kiln_head_open_view(t->heads.v[i].head, &t->views[i], err);
    }
    free(before);
    return rc;
}

static int timed_wrlock(pthread_rwlock_t *rw, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    return pthread_rwlock_timedwrlock(rw, &ts);
}

static int refresh(kq_store *s, kq_tenant *t, kiln_err *err)
{
    int rc = KILN_OK;
    pthread_mutex_lock(&t->sync_mu);
    for (int round = 0; round < 2; round++) {
        int64_t now = kiln_now_mono_ns();
        int need = !t->listed || atomic_exchange(&t->force_list, 0) || now - t->listed_mono >= s->sync_ns;
        kiln_blocks_list nl = {0};
        kiln_block **nb = NULL;
        if (need) {
            if ((rc = list_and_open(s, t, &nl, &nb, err)) != KILN_OK) break;
            t->listed = 1;
            t->listed_mono = now;
        }
        if (timed_wrlock(&t->rw, 100) != 0) {
            /* long queries are running: they keep the previous state, and so
             * does this one; blocks opened for the new listing are closed */
            if (need) {
                for (size_t i = 0; i < nl.n; i++) {
                    int reused = 0;
                    for (size_t k = 0; k < t->list.n && !reused; k++)
                        reused = t->blocks && nb[i] == t->blocks[k];
                    if (nb[i] && !reused) kiln_block_close(nb[i]);
                }
                free(nb);
                kiln_blocks_list_free(&nl);
                atomic_store(&t->force_list, 1);
            }
            break;
        }
        if (need) swap_list(t, &nl, nb);
        int vanished = 0;
        rc = refresh_heads(s, t, &vanished, err);
        pthread_rwlock_unlock(&t->rw);
        if (rc != KILN_OK || !vanished) break;
        atomic_store(&t->force_list, 1); /* and go again once */
    }
    pthread_mutex_unlock(&t->sync_mu);
    return rc;
}

int kiln_query_store_acquire(kq_store *s, const char *tenant, int64_t from_ns, int64_t to_ns,
                             kq_snap *out, kiln_err *err)
{
    memset(out, 0, sizeof *out);
    kq_tenant *t = tenant_get(s, tenant);
    if (!t) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    int rc = refresh(s, t, err);
    if (rc != KILN_OK) {
        kiln_err_prefix(err, "tenant %s", tenant);
        return rc;
    }
    pthread_rwlock_rdlock(&t->rw);
    size_t cap = t->list.n + t->heads.n;
    out->v = malloc((cap ? cap : 1) * sizeof *out->v);
    if (!out->v) {
        pthread_rwlock_unlock(&t->rw);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < t->list.n; i++) {
        const kiln_block_meta *m = &t->list.v[i];
        if (!t->list.visible[i] || !t->blocks[i]) continue;
        if (m->max_time_ns < from_ns || m->min_time_ns >= to_ns) continue;
        out->v[out->n++] = t->blocks[i];
    }
    for (size_t i = 0; t->views && i < t->heads.n; i++) {
        /* a head keeps growing: its view's times are a lower bound of its
         * max time, so heads are always included (series times decide) */
        if (t->views[i]) out->v[out->n++] = t->views[i];
    }
    out->tenant = t;
    return KILN_OK;
}

void kiln_query_store_release(kq_snap *snap)
{
    if (snap->tenant) pthread_rwlock_unlock(&((kq_tenant *)snap->tenant)->rw);
    free(snap->v);
    memset(snap, 0, sizeof *snap);
}
