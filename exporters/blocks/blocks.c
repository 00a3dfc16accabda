/* exporters/blocks/blocks.c — the `blocks` exporter: keeps profiles as
 * blocks in an object store (FORMAT.md), with an in-memory head per tenant
 * written ahead to a WAL so that every acknowledged profile survives a
 * crash.
 *
 * consume(batch): decodes each profile, writes one WAL record per tenant,
 * adds the profiles to the tenant's head, and (wal_fsync batch/always)
 * fdatasyncs the segments before returning KILN_OK — the sender's 200
 * depends on it. Cutting, uploading, compaction and retention happen on the
 * exporter's own thread (blocks_flush.c).
 *
 * Memory: the state owns everything it points to; consume only reads the
 * batch (WAL bytes encoded for non-pprof payloads are freed before return).
 */
#define _GNU_SOURCE
#include "blocks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static const kiln_cfg_field bx_fields[] = {
    KILN_BLOCKS_STORAGE_FIELDS("storage.", bx_cfg, storage),
    {"wal_dir", KILN_CFG_STRING, "./data/wal", offsetof(bx_cfg, wal_dir),
     "directory of the write-ahead log (one segment per tenant head) and scratch files", 0, 0, 0,
     NULL},
    {"wal_fsync", KILN_CFG_ENUM, "batch", offsetof(bx_cfg, wal_fsync),
     "always: fdatasync after every WAL record; batch: once per batch before it is acknowledged; "
     "interval: every wal_fsync_interval (a machine crash may lose acknowledged profiles)",
     0, 0, 0, "always|batch|interval"},
    {"wal_fsync_interval", KILN_CFG_DURATION, "1s", offsetof(bx_cfg, wal_fsync_interval),
     "fsync period with wal_fsync interval", 0, 1e6, 3.6e12, NULL},
    {"block_duration", KILN_CFG_DURATION, "15m", offsetof(bx_cfg, block_duration),
     "a head is cut into a block when it is this old", 0, 1e9, 8.64e13, NULL},
    {"max_block_bytes", KILN_CFG_BYTES, "256MiB", offsetof(bx_cfg, max_block_bytes),
     "or when its memory reaches this size", 0, 1 << 20, 6.9e10, NULL},
    {"retention", KILN_CFG_DURATION, "30d", offsetof(bx_cfg, retention),
     "blocks whose newest profile is older than this are deleted; 0 keeps everything", 0, 0, 0,
     NULL},
    {"compaction.enabled", KILN_CFG_BOOL, "true", offsetof(bx_cfg, compaction_enabled),
     "merge a tenant's blocks of one time window into bigger ones (and apply retention); turn "
     "off on all but one kiln writing the same bucket",
     0, 0, 0, NULL},
    {"compaction.ranges", KILN_CFG_STRLIST, "[1h, 6h, 24h]", offsetof(bx_cfg, compaction_ranges),
     "window of each compaction level (level 2, 3, ...), ascending durations", 0, 0, 0, NULL},
    {"compaction.interval", KILN_CFG_DURATION, "1m", offsetof(bx_cfg, compaction_interval),
     "how often compaction and retention run", 0, 1e9, 8.64e13, NULL},
    {"compaction.delay", KILN_CFG_DURATION, "20m", offsetof(bx_cfg, compaction_delay),
     "a window is compacted once its end is this far in the past (longer than block_duration)", 0,
     0, 0, NULL},
    {"upload.initial_backoff", KILN_CFG_DURATION, "1s", offsetof(bx_cfg, upload_initial_backoff),
     "first wait after a failed block upload", 0, 1e6, 3.6e12, NULL},
    {"upload.max_backoff", KILN_CFG_DURATION, "5m", offsetof(bx_cfg, upload_max_backoff),
     "longest wait between upload attempts (a failed block stays in its WAL and is retried)", 0,
     1e6, 8.64e13, NULL},
    {NULL, 0, NULL, 0, NULL, 0, 0, 0, NULL}};

static int parse_ranges(const bx_cfg *c, int64_t **out, size_t *n, kiln_err *err)
{
    *out = NULL;
    *n = 0;
    if (!c->compaction_ranges.n) return KILN_OK;
    int64_t *v = calloc(c->compaction_ranges.n, sizeof *v);
    if (!v) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->compaction_ranges.n; i++) {
        kiln_err e;
        if (kiln_parse_duration(c->compaction_ranges.v[i], &v[i], &e) != KILN_OK || v[i] <= 0) {
            free(v);
            return kiln_err_set(err, KILN_EINVAL, "compaction.ranges[%zu]: \"%s\" is not a positive duration",
                                i, c->compaction_ranges.v[i]);
        }
        if (i && v[i] <= v[i - 1]) {
            free(v);
            return kiln_err_set(err, KILN_EINVAL, "compaction.ranges must be ascending");
        }
        if (v[i] % v[0]) {
            free(v);
            return kiln_err_set(err, KILN_EINVAL, "compaction.ranges[%zu] must be a multiple of the first", i);
        }
    }
    *out = v;
    *n = c->compaction_ranges.n;
    return KILN_OK;
}

static int bx_validate(const void *cfgp, const kiln_node *node, kiln_err *err)
{
    const bx_cfg *c = cfgp;
    int rc = kiln_blocks_storage_check(&c->storage, err);
    if (rc != KILN_OK) return rc;
    if (!c->wal_dir || !*c->wal_dir) return kiln_err_set(err, KILN_EINVAL, "wal_dir must not be empty");
    if (c->storage.backend == KILN_BLOCKS_BACKEND_FILESYSTEM && c->storage.fs_directory) {
        /* the WAL must not sit inside the block store: it would look like a tenant */
        char a[4096], b[4096];
        snprintf(a, sizeof a, "%s/", c->storage.fs_directory);
        snprintf(b, sizeof b, "%s/", c->wal_dir);
        if (!strncmp(a, b, strlen(a)))
            return kiln_err_set(err, KILN_EINVAL, "wal_dir %s must not be inside storage.filesystem.directory %s",
                                c->wal_dir, c->storage.fs_directory);
    }
    int64_t *r;
    size_t n;
    rc = parse_ranges(c, &r, &n, err);
    free(r);
    return rc;
}

/* ---- tenants ------------------------------------------------------------------ */

bx_tenant *kiln_bx_tenant_get(bx_state *s, const char *name, int create)
{
    pthread_mutex_lock(&s->mu);
    bx_tenant *t = NULL;
    for (size_t i = 0; i < s->n_tenants; i++)
        if (!strcmp(s->tenants[i]->name, name)) {
            t = s->tenants[i];
            break;
        }
    if (!t && create) {
        if (s->n_tenants == s->cap_tenants) {
            size_t nc = s->cap_tenants ? s->cap_tenants * 2 : 8;
            bx_tenant **nv = realloc(s->tenants, nc * sizeof *nv);
            if (!nv) goto out;
            s->tenants = nv;
            s->cap_tenants = nc;
        }
        t = calloc(1, sizeof *t);
        if (!t || !(t->name = strdup(name))) {
            free(t);
            t = NULL;
            goto out;
        }
        pthread_mutex_init(&t->mu, NULL);
        s->tenants[s->n_tenants++] = t;
        kiln_gauge_set(s->m_tenants, (int64_t)s->n_tenants);
    }
out:
    pthread_mutex_unlock(&s->mu);
    return t;
}

int kiln_bx_tenant_open_head(bx_state *s, bx_tenant *t, kiln_err *err)
{
    if (t->head) return KILN_OK;
    int64_t now = kiln_now_unix_ns();
    kiln_head *h;
    int rc = kiln_head_new(t->name, NULL, now, &h, err);
    if (rc != KILN_OK) return rc;
    kiln_wal *w;
    rc = kiln_wal_create(s->cfg->wal_dir, t->name, kiln_head_id(h), now, &w, err);
    if (rc != KILN_OK) {
        kiln_head_free(h);
        return rc;
    }
    t->head = h;
    t->wal = w;
    return KILN_OK;
}

/* ---- lifecycle ---------------------------------------------------------------------- */

static int mkdirs(const char *path)
{
    char d[4096];
    snprintf(d, sizeof d, "%s", path);
    for (char *p = d + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(d, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(d, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static void bx_destroy(void *state);

static int bx_create(kiln_host *host, const void *cfgp, void **state, kiln_err *err)
{
    const bx_cfg *c = cfgp;
    int rc = bx_validate(c, NULL, err);
    if (rc != KILN_OK) return rc;
    bx_state *s = calloc(1, sizeof *s);
    if (!s) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    s->host = host;
    s->cfg = c;
    s->lock_fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    *state = s;
    if ((rc = parse_ranges(c, &s->ranges, &s->n_ranges, err)) != KILN_OK) goto fail;
    if (mkdirs(c->wal_dir) != 0) {
        rc = kiln_err_set(err, KILN_EIO, "cannot create wal_dir %s: %s", c->wal_dir, strerror(errno));
        goto fail;
    }
    snprintf(s->tmp_dir, sizeof s->tmp_dir, "%s/.tmp", c->wal_dir);
    if (mkdirs(s->tmp_dir) != 0) {
        rc = kiln_err_set(err, KILN_EIO, "cannot create %s: %s", s->tmp_dir, strerror(errno));
        goto fail;
    }
    char lock[4200];
    snprintf(lock, sizeof lock, "%s/LOCK", c->wal_dir);
    s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        rc = kiln_err_set(err, KILN_EIO, "wal_dir %s is in use by another kiln (lock %s: %s)",
                          c->wal_dir, lock, strerror(errno));
        goto fail;
    }
    if ((rc = kiln_blocks_storage_open(&c->storage, &s->os, err)) != KILN_OK) goto fail;
    if (!(s->meta_cache = kiln_blocks_meta_cache_new())) {
        rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
        goto fail;
    }
#define C(f, n, h) s->f = host->vt->counter(host, n, h, NULL)
    C(m_profiles, "blocks_profiles_total", "Profiles written to the WAL and the head.");
    C(m_rejected, "blocks_rejected_profiles_total", "Profiles refused because they could not be decoded.");
    C(m_wal_bytes, "blocks_wal_bytes_total", "Bytes appended to WAL segments.");
    C(m_fsyncs, "blocks_wal_fsyncs_total", "WAL fdatasync calls.");
    C(m_cut, "blocks_heads_cut_total", "Heads cut into blocks.");
    C(m_uploaded, "blocks_uploaded_total", "Blocks written to the object store.");
    C(m_upload_failed, "blocks_upload_failures_total", "Block uploads that failed (retried with backoff).");
    C(m_compactions, "blocks_compactions_total", "Blocks made by compaction.");
    C(m_compaction_failed, "blocks_compaction_failures_total", "Compaction passes that failed.");
    C(m_deleted, "blocks_deleted_total", "Blocks deleted (retention, or replaced by compaction).");
    C(m_corrupt, "blocks_corrupt_total", "Blocks or WAL segments found corrupt and skipped.");
    C(m_replayed, "blocks_wal_replayed_profiles_total", "Profiles replayed from the WAL at start.");
    C(m_torn, "blocks_wal_torn_segments_total", "WAL segments whose torn tail was cut off at start.");
#undef C
    s->m_head_bytes = host->vt->gauge(host, "blocks_head_bytes", "Memory held by heads (active and pending).", NULL);
    s->m_pending = host->vt->gauge(host, "blocks_pending_uploads", "Cut heads waiting for their upload.", NULL);
    s->m_tenants = host->vt->gauge(host, "blocks_tenants", "Tenants with a head in this exporter.", NULL);
    kiln_log_info(host, "blocks: storage %s, wal %s (fsync %s), block_duration %llds",
                  kiln_objstore_describe(s->os), c->wal_dir,
                  c->wal_fsync == BX_FSYNC_ALWAYS ? "always" : c->wal_fsync == BX_FSYNC_BATCH ? "batch" : "interval",
                  (long long)(c->block_duration / 1000000000));
    return KILN_OK;
fail:
    bx_destroy(s);
    *state = NULL;
    return rc;
}

static int bx_start(void *state, kiln_err *err)
{
    bx_state *s = state;
    int rc = kiln_bx_replay(s, err);
    if (rc != KILN_OK) return rc;
    return kiln_bx_flusher_start(s, err);
}

static int bx_shutdown(void *state, int64_t deadline)
{
    bx_state *s = state;
    kiln_bx_flusher_stop(s);
    /* acknowledged data is in the WAL already; make the interval policy's
     * unsynced tail durable too */
    pthread_mutex_lock(&s->mu);
    size_t nt = s->n_tenants;
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < nt; i++) {
        pthread_mutex_lock(&s->mu);
        bx_tenant *t = s->tenants[i];
        pthread_mutex_unlock(&s->mu);
        pthread_mutex_lock(&t->mu);
        kiln_err e;
        if (t->wal) kiln_wal_sync(t->wal, &e);
        pthread_mutex_unlock(&t->mu);
    }
    return KILN_OK;
}

static void bx_destroy(void *state)
{
    bx_state *s = state;
    if (!s) return;
    kiln_bx_flusher_stop(s);
    for (size_t i = 0; i < s->n_tenants; i++) {
        bx_tenant *t = s->tenants[i];
        if (t->wal) {
            kiln_err e;
            if (s->cfg->wal_fsync == BX_FSYNC_INTERVAL) kiln_wal_sync(t->wal, &e);
            kiln_wal_unref(t->wal);
        }
        kiln_head_free(t->head);
        pthread_mutex_destroy(&t->mu);
        free(t->name);
        free(t);
    }
    free(s->tenants);
    while (s->pending) {
        bx_pending *p = s->pending;
        s->pending = p->next;
        kiln_head_free(p->head);
        free(p->tenant);
        free(p->wal_path);
        free(p);
    }
    kiln_blocks_strv_free(s->store_tenants, s->n_store_tenants);
    free(s->bad_blocks);
    kiln_blocks_meta_cache_free(s->meta_cache);
    if (s->os) kiln_objstore_close(s->os);
    if (s->lock_fd >= 0) close(s->lock_fd);
    free(s->ranges);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* ---- consume -------------------------------------------------------------------------- */

typedef struct item {
    const kiln_profile *pr;
    const kiln_pprof *p;
    const uint8_t *bytes;
    size_t len;
    uint8_t *owned; /* encoded here (non-pprof payloads) */
    int64_t time_ns; /* resolved once, so a replay gives the same time */
} item;

static int prepare(bx_state *s, const kiln_profile *pr, item *it, kiln_err *err)
{
    memset(it, 0, sizeof *it);
    it->pr = pr;
    int rc = kiln_payload_pprof(pr->payload, &it->p, err);
    if (rc != KILN_OK) {
        kiln_counter_add(s->m_rejected, 1);
        kiln_err_prefix(err, "blocks: tenant %s", pr->tenant);
        return rc;
    }
    it->time_ns = pr->time_ns ? pr->time_ns : it->p->time_nanos;
    if (!it->time_ns) it->time_ns = kiln_now_unix_ns();
    if (kiln_payload_format(pr->payload) == KILN_FMT_PPROF) {
        int gz;
        rc = kiln_payload_bytes(pr->payload, &it->bytes, &it->len, &gz, err);
        if (rc == KILN_OK) return KILN_OK;
    }
    /* other formats (or no bytes kept): the WAL holds the model as pprof */
    rc = kiln_pprof_encode(it->p, 1, &it->owned, &it->len, err);
    it->bytes = it->owned;
    return rc;
}

/* Writes and applies one tenant's items; on success *wal holds a
 * reference to the segment to sync. */
static int apply_tenant(bx_state *s, bx_tenant *t, item *v, size_t n, kiln_wal **wal,
                        int *need_cut, kiln_err *err)
{
    kiln_wal_profile *wp = calloc(n, sizeof *wp);
    if (!wp) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        wp[i] = (kiln_wal_profile){&v[i].pr->labels, v[i].time_ns, v[i].pr->duration_ns,
                                   v[i].bytes, v[i].len};
    pthread_mutex_lock(&t->mu);
    int rc = kiln_bx_tenant_open_head(s, t, err);
    uint64_t before = rc == KILN_OK ? kiln_wal_size(t->wal) : 0;
    if (rc == KILN_OK) rc = kiln_wal_append(t->wal, wp, n, err);
    if (rc == KILN_OK) {
        kiln_counter_add(s->m_wal_bytes, kiln_wal_size(t->wal) - before);
        for (size_t i = 0; i < n && rc == KILN_OK; i++)
            rc = kiln_head_append(t->head, &v[i].pr->labels, v[i].time_ns,
                                  v[i].pr->duration_ns, v[i].p, err);
        t->dirty = 1;
        *wal = kiln_wal_ref(t->wal);
        kiln_head_stats st;
        kiln_head_get_stats(t->head, &st);
        if ((int64_t)st.bytes >= s->cfg->max_block_bytes) *need_cut = 1;
    }
    pthread_mutex_unlock(&t->mu);
    free(wp);
    if (rc != KILN_OK) kiln_err_prefix(err, "blocks: tenant %s", t->name);
    return rc;
}

static int bx_consume(void *state, kiln_batch *b, kiln_err *err)
{
    bx_state *s = state;
    int rc = KILN_OK;
    item *items = calloc(b->n ? b->n : 1, sizeof *items);
    uint8_t *done = calloc(b->n ? b->n : 1, 1);
    kiln_wal **syncs = calloc(b->n ? b->n : 1, sizeof *syncs);
    size_t n = 0, ns = 0;
    int need_cut = 0;
    if (!items || !done || !syncs) {
        rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < b->n && rc == KILN_OK; i++) {
        const kiln_profile *pr = &b->v[i];
        if (pr->flags & KILN_PROFILE_DROPPED) continue;
        rc = prepare(s, pr, &items[n], err);
        if (rc == KILN_OK) n++;
        else if (items[n].owned) free(items[n].owned);
    }
    if (rc != KILN_OK) goto out;
    /* one WAL record per tenant: group items by tenant, in batch order */
    item *grp = calloc(n ? n : 1, sizeof *grp);
    if (!grp) {
        rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
        goto out;
    }
    size_t total = 0;
    for (size_t i = 0; i < n && rc == KILN_OK; i++) {
        if (done[i]) continue;
        const char *tn = items[i].pr->tenant ? items[i].pr->tenant : KILN_TENANT_DEFAULT;
        size_t g = 0;
        for (size_t j = i; j < n; j++) {
            const char *tj = items[j].pr->tenant ? items[j].pr->tenant : KILN_TENANT_DEFAULT;
            if (done[j] || strcmp(tn, tj)) continue;
            grp[g++] = items[j];
            done[j] = 1;
        }
        bx_tenant *t = kiln_bx_tenant_get(s, tn, 1);
        if (!t) {
            rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
            break;
        }
        kiln_wal *w = NULL;
        rc = apply_tenant(s, t, grp, g, &w, &need_cut, err);
        if (w) syncs[ns++] = w;
        if (rc == KILN_OK && s->cfg->wal_fsync == BX_FSYNC_ALWAYS) {
            rc = kiln_wal_sync(w, err);
            kiln_counter_add(s->m_fsyncs, 1);
        }
        total += g;
    }
    free(grp);
    /* batch: the fdatasyncs run outside the tenant locks (concurrent
     * consumers share the disk flush) and before the batch is acknowledged */
    for (size_t i = 0; i < ns; i++) {
        if (rc == KILN_OK && s->cfg->wal_fsync == BX_FSYNC_BATCH) {
            rc = kiln_wal_sync(syncs[i], err);
            kiln_counter_add(s->m_fsyncs, 1);
        }
        kiln_wal_unref(syncs[i]);
    }
    if (rc == KILN_OK) {
        kiln_counter_add(s->m_profiles, total);
        if (need_cut) {
            /* a head past max_block_bytes: the flusher cuts it right away */
            pthread_mutex_lock(&s->mu);
            s->kick = 1;
            pthread_cond_signal(&s->cv);
            pthread_mutex_unlock(&s->mu);
        }
    }
out:
    if (items)
        for (size_t i = 0; i < n; i++) free(items[i].owned);
    free(items);
    free(done);
    free(syncs);
    return rc;
}

KILN_PLUGIN_DEFINE = {
    KILN_PLUGIN_HEADER,
    .kind = KILN_KIND_EXPORTER,
    .type = "blocks",
    .doc = "Stores profiles as blocks (series index, deduplicated symbols and stacks, compressed "
           "sample columns) in a local directory or an S3 bucket, with a per-tenant head written "
           "ahead to a WAL so that every acknowledged profile survives a crash; compacts and "
           "applies retention. Read by the query exporter and `kiln blocks`.",
    .fields = bx_fields,
    .cfg_size = sizeof(bx_cfg),
    .validate = bx_validate,
    .create = bx_create,
    .start = bx_start,
    .consume = bx_consume,
    .shutdown = bx_shutdown,
    .destroy = bx_destroy,
};
