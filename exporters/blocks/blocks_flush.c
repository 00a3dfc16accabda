/* exporters/blocks/blocks_flush.c — the exporter's background thread.
 *
 * Every second (or when consume reports a head past max_block_bytes) a
 * pass: cuts heads that are block_duration old or max_block_bytes big (the
 * tenant gets a fresh head and WAL segment with its next profile); uploads
 * pending heads as blocks (data objects, then meta) and deletes their WAL
 * segment once the meta is written — a failed upload stays pending, its
 * head in memory (or, past 2 x max_block_bytes of pending heads, only in
 * its WAL segment, reloaded for the next attempt) and is retried with
 * exponential backoff; fsyncs the WAL segments under wal_fsync interval;
 * and every compaction.interval runs compaction and retention for every
 * tenant it knows (its own, and those found in the store).
 *
 * Memory: pending entries are owned by the state's list; a pending head is
 * freed once its block is written.
 */
#define _GNU_SOURCE
#include "blocks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ORPHAN_GRACE_NS (24LL * 3600 * 1000000000)
#define TENANT_SCAN_NS (10LL * 60 * 1000000000)

void kiln_bx_pending_add(bx_state *s, bx_pending *p)
{
    pthread_mutex_lock(&s->mu);
    bx_pending **pp = &s->pending;
    while (*pp) pp = &(*pp)->next;
    *pp = p;
    p->next = NULL;
    size_t n = 0;
    for (bx_pending *q = s->pending; q; q = q->next) n++;
    kiln_gauge_set(s->m_pending, (int64_t)n);
    pthread_mutex_unlock(&s->mu);
}

static void fsync_parent(const char *path)
{
    char d[4096];
    snprintf(d, sizeof d, "%s", path);
    char *slash = strrchr(d, '/');
    if (!slash) return;
    *slash = 0;
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        if (fsync(fd) != 0) { /* nothing more to do: the next start replays the segment */ }
        close(fd);
    }
}

/* Cuts tenant t's head when it is old or big enough (or force). */
static void maybe_cut(bx_state *s, bx_tenant *t, int force, int64_t now_unix)
{
    bx_pending *p = NULL;
    pthread_mutex_lock(&t->mu);
    if (s->cfg->wal_fsync == BX_FSYNC_INTERVAL && t->dirty && t->wal) {
        kiln_err e;
        if (kiln_wal_sync(t->wal, &e) != KILN_OK) kiln_log_error(s->host, "blocks: %s", e.msg);
        kiln_counter_add(s->m_fsyncs, 1);
        t->dirty = 0;
    }
    if (t->head) {
        kiln_head_stats st;
        kiln_head_get_stats(t->head, &st);
        int64_t age = now_unix - kiln_head_created_ns(t->head);
        if (force || age >= s->cfg->block_duration || (int64_t)st.bytes >= s->cfg->max_block_bytes) {
            p = calloc(1, sizeof *p);
            if (p) {
                p->tenant = strdup(t->name);
                p->wal_path = strdup(kiln_wal_file(t->wal));
                if (!p->tenant || !p->wal_path) {
                    free(p->tenant);
                    free(p->wal_path);
                    free(p);
                    p = NULL;
                }
            }
            if (p) {
                if (s->cfg->wal_fsync == BX_FSYNC_INTERVAL) {
                    kiln_err e;
                    kiln_wal_sync(t->wal, &e);
                }
                memcpy(p->id, kiln_head_id(t->head), sizeof p->id);
                p->head = t->head;
                p->bytes = st.bytes;
                t->head = NULL;
                kiln_wal_unref(t->wal);
                t->wal = NULL;
                kiln_log_debug(s->host, "blocks: cut head %s of tenant %s (%llu profiles, %zu bytes)",
                               p->id, p->tenant, (unsigned long long)st.n_profiles, st.bytes);
            }
        }
    }
    pthread_mutex_unlock(&t->mu);
    if (p) {
        kiln_counter_add(s->m_cut, 1);
        kiln_bx_pending_add(s, p);
    }
}

static void remove_pending(bx_state *s, bx_pending *p)
{
    pthread_mutex_lock(&s->mu);
    for (bx_pending **pp = &s->pending; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    size_t n = 0;
    for (bx_pending *q = s->pending; q; q = q->next) n++;
    kiln_gauge_set(s->m_pending, (int64_t)n);
    pthread_mutex_unlock(&s->mu);
    kiln_head_free(p->head);
    free(p->tenant);
    free(p->wal_path);
    free(p);
}

/* Writes one pending head; 1 if it is done (uploaded or empty). */
static int upload(bx_state *s, bx_pending *p)
{
    kiln_err err;
    kiln_err_clear(&err);
    int rc = KILN_OK;
    if (!p->head) {
        kiln_wal_header hdr;
        kiln_wal_replay_result res;
        rc = kiln_bx_load_segment(s, p->wal_path, &p->head, &hdr, &res, &err);
    }
    kiln_block_meta m;
    memset(&m, 0, sizeof m);
    int empty = 0;
    if (rc == KILN_OK) rc = kiln_head_write_block(p->head, s->os, s->tmp_dir, &m, &empty, &err);
    if (rc != KILN_OK) {
        p->attempts++;
        int64_t back = s->cfg->upload_initial_backoff;
        for (int i = 1; i < p->attempts && back < s->cfg->upload_max_backoff; i++) back *= 2;
        if (back > s->cfg->upload_max_backoff) back = s->cfg->upload_max_backoff;
        p->next_try_mono = kiln_now_mono_ns() + back;
        kiln_counter_add(s->m_upload_failed, 1);
        kiln_log_error(s->host,
                       "blocks: upload of block %s (tenant %s) failed (attempt %d, next in %llds; "
                       "the data stays in %s): %s",
                       p->id, p->tenant, p->attempts, (long long)(back / 1000000000), p->wal_path,
                       err.msg);
        return 0;
    }
    if (!empty) {
        kiln_counter_add(s->m_uploaded, 1);
        kiln_log_info(s->host, "blocks: wrote block %s of tenant %s: %llu series, %llu profiles, "
                               "%llu samples, %llu bytes",
                      m.id, p->tenant, (unsigned long long)m.n_series,
                      (unsigned long long)m.n_profiles, (unsigned long long)m.n_samples,
                      (unsigned long long)(m.files[0].size + m.files[1].size + m.files[2].size));
    }
    kiln_block_meta_free(&m);
    /* the meta is written: the segment's data is in the store */
    if (unlink(p->wal_path) != 0 && errno != ENOENT)
        kiln_log_warn(s->host, "blocks: cannot remove %s: %s", p->wal_path, strerror(errno));
    fsync_parent(p->wal_path);
    return 1;
}

static void evict(bx_state *s)
{
    size_t total = 0;
    pthread_mutex_lock(&s->mu);
    for (bx_pending *p = s->pending; p; p = p->next) {
        if (!p->head) continue;
        total += p->bytes;
        if (total > (size_t)s->cfg->max_block_bytes * 2 && p != s->pending) {
            kiln_log_warn(s->host, "blocks: pending head %s of tenant %s leaves memory; it stays in %s",
                          p->id, p->tenant, p->wal_path);
            kiln_head_free(p->head);
            p->head = NULL;
            total -= p->bytes;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

static int stopping(bx_state *s)
{
    pthread_mutex_lock(&s->mu);
    int v = s->stop;
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* The pending list is changed only by this thread (and by the replay and
 * destroy, which run when it does not), so entries stay valid unlocked. */
static void uploads(bx_state *s, int force)
{
    int64_t now = kiln_now_mono_ns();
    pthread_mutex_lock(&s->mu);
    size_t n = 0, k = 0;
    for (bx_pending *q = s->pending; q; q = q->next) n++;
    bx_pending **due = calloc(n ? n : 1, sizeof *due);
    for (bx_pending *q = s->pending; due && q; q = q->next)
        if (force || q->next_try_mono <= now) due[k++] = q;
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < k && !stopping(s); i++)
        if (upload(s, due[i])) remove_pending(s, due[i]);
    free(due);
    evict(s);
}

static void compaction(bx_state *s, int64_t now_mono)
{
    if (!s->cfg->compaction_enabled) return;
    kiln_err err;
    if (!s->last_tenant_scan_mono || now_mono - s->last_tenant_scan_mono >= TENANT_SCAN_NS) {
        char **v;
        size_t n;
        if (kiln_blocks_tenants(s->os, &v, &n, &err) == KILN_OK) {
            kiln_blocks_strv_free(s->store_tenants, s->n_store_tenants);
            s->store_tenants = v;
            s->n_store_tenants = n;
        } else {
            kiln_log_warn(s->host, "blocks: cannot list tenants: %s", err.msg);
        }
        s->last_tenant_scan_mono = now_mono;
    }
    /* tenants: the store's, plus our own not yet there */
    size_t nt;
    pthread_mutex_lock(&s->mu);
    nt = s->n_tenants;
    char **local = calloc(nt ? nt : 1, sizeof *local);
    for (size_t i = 0; local && i < nt; i++) local[i] = strdup(s->tenants[i]->name);
    pthread_mutex_unlock(&s->mu);
    if (!local) return;
    int64_t now = kiln_now_unix_ns();
    kiln_compact_opts o = {s->ranges, s->n_ranges, now, s->cfg->compaction_delay, s->tmp_dir, 4,
                           s->bad_blocks, s->n_bad_blocks, s->meta_cache};
    for (size_t i = 0; i < s->n_store_tenants + nt && !stopping(s); i++) {
        const char *t = i < s->n_store_tenants ? s->store_tenants[i] : local[i - s->n_store_tenants];
        if (!t) continue;
        int dup = 0;
        for (size_t j = 0; i >= s->n_store_tenants && j < s->n_store_tenants; j++)
            if (!strcmp(s->store_tenants[j], t)) dup = 1;
        if (dup) continue;
        kiln_compact_result r;
        if (kiln_blocks_compact(s->os, t, &o, &r, &err) != KILN_OK) {
            kiln_counter_add(s->m_compaction_failed, 1);
            kiln_log_error(s->host, "blocks: compaction of tenant %s failed: %s", t, err.msg);
            if (r.bad_block[0]) {
                kiln_block_id *nb = realloc(s->bad_blocks, (s->n_bad_blocks + 1) * sizeof *nb);
                if (nb) {
                    s->bad_blocks = nb;
                    memcpy(s->bad_blocks[s->n_bad_blocks++], r.bad_block, sizeof *nb);
                    o.skip = s->bad_blocks;
                    o.n_skip = s->n_bad_blocks;
                }
                kiln_counter_add(s->m_corrupt, 1);
                kiln_log_error(s->host, "blocks: block %s of tenant %s is damaged (kiln blocks verify); "
                                        "compaction leaves it alone from now on", r.bad_block, t);
            }
        }
        kiln_counter_add(s->m_compactions, (uint64_t)r.jobs);
        kiln_counter_add(s->m_deleted, (uint64_t)r.sources_deleted);
        if (r.jobs) kiln_log_info(s->host, "blocks: tenant %s: compacted %d block(s), replacing %d", t, r.jobs, r.sources_deleted);
        int deleted = 0;
        if (kiln_blocks_retention(s->os, t, now, s->cfg->retention, ORPHAN_GRACE_NS, s->meta_cache,
                                  &deleted, &err) != KILN_OK)
            kiln_log_error(s->host, "blocks: retention of tenant %s failed: %s", t, err.msg);
        kiln_counter_add(s->m_deleted, (uint64_t)deleted);
        if (deleted) kiln_log_info(s->host, "blocks: tenant %s: deleted %d block(s) (retention or superseded)", t, deleted);
    }
    for (size_t i = 0; i < nt; i++) free(local[i]);
    free(local);
}

/* The tenants (never freed before destroy); the array may move when
 * consume adds one, so it is copied under the lock. Caller frees *out. */
static size_t tenants_snapshot(bx_state *s, bx_tenant ***out)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->n_tenants;
    *out = malloc((n ? n : 1) * sizeof **out);
    if (*out && n) memcpy(*out, s->tenants, n * sizeof **out);
    else if (!*out) n = 0;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void update_gauges(bx_state *s)
{
    int64_t bytes = 0;
    pthread_mutex_lock(&s->mu);
    for (bx_pending *q = s->pending; q; q = q->next)
        if (q->head) bytes += (int64_t)q->bytes;
    pthread_mutex_unlock(&s->mu);
    bx_tenant **ts;
    size_t nt = tenants_snapshot(s, &ts);
    for (size_t i = 0; i < nt; i++) {
        bx_tenant *t = ts[i];
        pthread_mutex_lock(&t->mu);
        if (t->head) {
            kiln_head_stats st;
            kiln_head_get_stats(t->head, &st);
            bytes += (int64_t)st.bytes;
        }
        pthread_mutex_unlock(&t->mu);
    }
    free(ts);
    kiln_gauge_set(s->m_head_bytes, bytes);
}

void kiln_bx_flush_pass(bx_state *s, int force_cut)
{
    int64_t now = kiln_now_unix_ns();
    bx_tenant **ts;
    size_t nt = tenants_snapshot(s, &ts);
    for (size_t i = 0; i < nt; i++) maybe_cut(s, ts[i], force_cut, now);
    free(ts);
    uploads(s, force_cut);
    int64_t mono = kiln_now_mono_ns();
    if (force_cut || !s->last_compact_mono || mono - s->last_compact_mono >= s->cfg->compaction_interval) {
        s->last_compact_mono = mono;
        compaction(s, mono);
    }
    update_gauges(s);
}

static void *flusher(void *arg)
{
    bx_state *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        int64_t wait = 1000000000;
        if (s->cfg->wal_fsync == BX_FSYNC_INTERVAL && s->cfg->wal_fsync_interval < wait)
            wait = s->cfg->wal_fsync_interval;
        if (!s->kick) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t ns = ts.tv_nsec + wait;
            ts.tv_sec += ns / 1000000000;
            ts.tv_nsec = ns % 1000000000;
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        }
        s->kick = 0;
        if (s->stop) break;
        pthread_mutex_unlock(&s->mu);
        kiln_bx_flush_pass(s, 0);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int kiln_bx_flusher_start(bx_state *s, kiln_err *err)
{
    if (s->started) return KILN_OK;
    s->stop = 0;
    if (pthread_create(&s->thread, NULL, flusher, s) != 0)
        return kiln_err_set(err, KILN_ERR, "cannot start the blocks flusher thread");
    s->started = 1;
    return KILN_OK;
}

void kiln_bx_flusher_stop(bx_state *s)
{
    if (!s->started) return;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    s->started = 0;
}
