/* exporters/blocks/blocks.h — the blocks exporter's state, shared by its
 * files: blocks.c (config, lifecycle, consume), blocks_flush.c (the
 * background thread: cutting heads, uploads with backoff, WAL fsync on an
 * interval, compaction and retention) and blocks_replay.c (the WAL replay
 * at start).
 *
 * Locking: `mu` guards the tenant table and the pending list; each tenant's
 * `mu` guards its head and WAL segment. Nobody holds two at once.
 *
 * Memory: the state owns the tenants (freed at destroy), their heads and
 * WAL references, the pending entries and the object store.
 */
#ifndef KILN_EXPORTER_BLOCKS_H
#define KILN_EXPORTER_BLOCKS_H

#include <pthread.h>

#include <kiln/blocks.h>
#include <kiln/kiln.h>

enum { BX_FSYNC_ALWAYS = 0, BX_FSYNC_BATCH = 1, BX_FSYNC_INTERVAL = 2 };

typedef struct bx_cfg {
    kiln_blocks_storage storage;
    char *wal_dir;
    int wal_fsync;
    int64_t wal_fsync_interval;
    int64_t block_duration;
    int64_t max_block_bytes;
    int64_t retention;
    int compaction_enabled;
    kiln_strlist compaction_ranges;
    int64_t compaction_interval;
    int64_t compaction_delay;
    int64_t upload_initial_backoff;
    int64_t upload_max_backoff;
} bx_cfg;

typedef struct bx_tenant {
    char *name;
    pthread_mutex_t mu;
    kiln_head *head; /* NULL until the first profile after a cut */
    kiln_wal *wal;
    int dirty;       /* appended since the last interval fsync */
} bx_tenant;

/* A head that was cut and waits for its upload. */
typedef struct bx_pending {
    struct bx_pending *next;
    char *tenant;
    kiln_block_id id;
    char *wal_path;
    kiln_head *head; /* NULL when evicted from memory: rebuilt from the WAL */
    size_t bytes;
    int attempts;
    int64_t next_try_mono;
} bx_pending;

typedef struct bx_state {
    kiln_host *host;
    const bx_cfg *cfg;
    kiln_objstore *os;
    char tmp_dir[4096];
    int lock_fd;
    int64_t *ranges;
    size_t n_ranges;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    bx_tenant **tenants;
    size_t n_tenants, cap_tenants;
    bx_pending *pending;
    int stop, started, kick;
    pthread_t thread;
    int64_t last_compact_mono, last_tenant_scan_mono;
    char **store_tenants; /* tenants seen in the store (for compaction) */
    size_t n_store_tenants;
    kiln_blocks_meta_cache *meta_cache;
    kiln_block_id *bad_blocks; /* damaged blocks compaction leaves alone */
    size_t n_bad_blocks;

    kiln_counter *m_profiles, *m_wal_bytes, *m_fsyncs, *m_cut, *m_uploaded, *m_upload_failed,
        *m_compactions, *m_compaction_failed, *m_deleted, *m_corrupt, *m_replayed, *m_torn,
        *m_rejected;
    kiln_gauge *m_head_bytes, *m_pending, *m_tenants;
} bx_state;

/* blocks.c */
bx_tenant *kiln_bx_tenant_get(bx_state *s, const char *name, int create);
/* Makes the tenant's head and WAL segment if it has none (tenant locked). */
int kiln_bx_tenant_open_head(bx_state *s, bx_tenant *t, kiln_err *err);

/* blocks_flush.c */
int kiln_bx_flusher_start(bx_state *s, kiln_err *err);
void kiln_bx_flusher_stop(bx_state *s);
/* Appends a cut head to the pending list (takes it). */
void kiln_bx_pending_add(bx_state *s, bx_pending *p);
/* One pass of the flusher's work, synchronously (tests). */
void kiln_bx_flush_pass(bx_state *s, int force_cut);

/* blocks_replay.c */
int kiln_bx_replay(bx_state *s, kiln_err *err);
/* Replays one segment into a new head (rebuilding an evicted pending head). */
int kiln_bx_load_segment(bx_state *s, const char *path, kiln_head **out, kiln_wal_header *hdr,
                         kiln_wal_replay_result *res, kiln_err *err);

#endif
