/* Plugin test: the blocks exporter against the mock core — consume writes
 * the WAL and the head, a flush pass cuts and uploads blocks whose
 * per-function totals equal the input's; a "crash" (destroy without a
 * flush) and a restart replay every acknowledged profile exactly once;
 * segments already uploaded are not replayed again; a torn WAL tail is cut
 * off; failed uploads are retried; bad payloads are refused.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blocks.h"
#include "kiln_config.h"
#include "mock_host.h"
#include "unit/test_block_util.h"

extern const kiln_plugin kiln_plugin_descriptor;
#define PL kiln_plugin_descriptor

typedef struct inst {
    mock_plugin p; /* owns the core, config and state */
    mock_host *m;  /* p.m */
    bx_state *s;   /* p.st */
} inst;

static int make(inst *in, const bt_store *st, const char *extra)
{
    char yaml[2048];
    char storage[600] = "";
    if (!extra || !strstr(extra, "storage:"))
        snprintf(storage, sizeof storage, "storage: {backend: filesystem, filesystem: {directory: %s}}\n",
                 st->data);
    snprintf(yaml, sizeof yaml,
             "%s"
             "wal_dir: %s\n"
             "upload: {initial_backoff: 1ms}\n"
             "retention: 0s\n%s",
             storage, st->wal, extra ? extra : "");
    kiln_err err;
    memset(in, 0, sizeof *in);
    if (mock_plugin_make(&in->p, &PL, mock_host_new("exporter/blocks", "exporter"), yaml, &err) != KILN_OK) {
        fprintf(stderr, "blocks exporter: %s\n", err.msg);
        return -1;
    }
    in->m = in->p.m;
    in->s = in->p.st;
    /* start replays the WAL; the flusher thread is not wanted here: the
     * tests run flush passes themselves */
    if (kiln_bx_replay(in->s, &err) != KILN_OK) {
        fprintf(stderr, "replay: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static void drop(inst *in)
{
    mock_plugin_drop(&in->p);
    memset(in, 0, sizeof *in);
}

static kiln_batch *batch_of(const char *file, const char *tenant, const char *svc, int n, int64_t t0)
{
    size_t len;
    uint8_t *data = test_read_corpus(file, &len);
    if (!data) return NULL;
    kiln_batch *b = kiln_batch_new((size_t)n);
    for (int i = 0; i < n; i++) {
        kiln_profile *p = kiln_batch_add(b);
        kiln_profile_set_tenant(p, tenant);
        kiln_labels_set(&p->labels, "service_name", svc);
        kiln_labels_set(&p->labels, "__name__", "process_cpu");
        p->time_ns = t0 + (int64_t)i * 15000000000LL;
        p->payload = kiln_payload_from_bytes(KILN_FMT_PPROF, data, len, 1, NULL, NULL);
    }
    free(data);
    return b;
}

/* Sum over the tenant's visible blocks: profiles of series __type__=type,
 * and the per-function totals compared with `mult` x the corpus file's. */
static void check_store(const bt_store *st, const char *tenant, const char *file, const char *type,
                        int64_t want_profiles, int line)
{
    kiln_blocks_list l;
    if (bt_list(st->os, tenant, &l) != 0) {
        test_fail(__FILE__, line, "cannot list %s", tenant);
        return;
    }
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *orig = bt_load(a, file);
    int64_t profiles = 0;
    /* merge all visible blocks' samples into one pprof via their tops */
    kiln_pprof **parts = calloc(l.n + 1, sizeof *parts);
    size_t np = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (!l.visible[i]) continue;
        kiln_err err;
        if (kiln_block_verify(st->os, &l.v[i], &err) != KILN_OK) test_fail(__FILE__, line, "verify: %s", err.msg);
        kiln_block *b;
        if (kiln_block_open(st->os, &l.v[i], &b, &err) != KILN_OK) {
            test_fail(__FILE__, line, "open: %s", err.msg);
            continue;
        }
        uint32_t *ids;
        size_t n = bt_select_eq(b, KILN_LABEL_TYPE, type, &ids);
        for (size_t k = 0; k < n; k++) {
            kiln_block_series_info si;
            kiln_block_series(b, ids[k], &si);
            profiles += (int64_t)si.n_profiles;
        }
        if (n && kiln_block_to_pprof(b, ids, n, INT64_MIN, INT64_MAX, a, &parts[np], &err) == KILN_OK) np++;
        free(ids);
        kiln_block_close(b);
    }
    if (profiles != want_profiles)
        test_fail(__FILE__, line, "tenant %s: %lld profiles of type %s, want %lld", tenant,
                  (long long)profiles, type, (long long)want_profiles);
    if (np && orig) {
        kiln_pprof *merged = parts[0];
        kiln_err err;
        if (np > 1 && kiln_pprof_merge(a, parts, np, &merged, &err) != KILN_OK)
            test_fail(__FILE__, line, "merge: %s", err.msg);
        int idx = kiln_pprof_sample_index(orig, type);
        if (bt_top_equal(orig, (size_t)idx, want_profiles, merged, 0, tenant) != 0)
            test_fail(__FILE__, line, "tenant %s: per-function totals differ", tenant);
    } else if (want_profiles) {
        test_fail(__FILE__, line, "tenant %s: no data read back", tenant);
    }
    free(parts);
    kiln_arena_destroy(a);
    kiln_blocks_list_free(&l);
}

static size_t count_wal(const bt_store *st, const char *tenant)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s/%s/*.wal 2>/dev/null | wc -l", st->wal, tenant);
    FILE *f = popen(cmd, "r");
    size_t n = 0;
    if (f) {
        if (fscanf(f, "%zu", &n) != 1) n = 0;
        pclose(f);
    }
    return n;
}

static const char *CPU = "pprof__sample.cpu.pb.gz";
static const int64_t T0 = 1700000000000000000LL;

static void t_consume_flush_roundtrip(void)
{
    bt_store st;
    CHECK(bt_open(&st) == 0);
    inst in;
    CHECK(make(&in, &st, NULL) == 0);
    kiln_err err;
    for (int i = 0; i < 3; i++) {
        kiln_batch *b = batch_of(CPU, i == 2 ? "team-b" : "team-a", "api", 4, T0 + i * 60000000000LL);
        CHECK_EQ_INT(PL.consume(in.s, b, &err), KILN_OK);
        kiln_batch_unref(b);
    }
    CHECK_EQ_INT(mock_host_counter(in.m, "blocks_profiles_total"), 12);
    CHECK_EQ_INT(mock_host_counter(in.m, "blocks_wal_fsyncs_total"), 3); /* batch: one per tenant record */
    CHECK_EQ_INT(count_wal(&st, "team-a"), 1);
    CHECK_EQ_INT(count_wal(&st, "team-b"), 1);
    kiln_bx_flush_pass(in.s, 1);
    CHECK_EQ_INT(mock_host_counter(in.m, "blocks_uploaded_total"), 2);
    CHECK_EQ_INT(count_wal(&st, "team-a"), 0); /* uploaded: the segments are gone */
    check_store(&st, "team-a", CPU, "cpu", 8, __LINE__);
    check_store(&st, "team-b", CPU, "samples", 4, __LINE__);
    /* a new head for the next profiles */
    kiln_batch *b = batch_of(CPU, "team-a", "api", 1, T0 + 3600000000000LL);
    CHECK_EQ_INT(PL.consume(in.s, b, &err), KILN_OK);
    kiln_batch_unref(b);
    CHECK_EQ_INT(count_wal(&st, "team-a"), 1);
    kiln_bx_flush_pass(in.s, 1);
    check_store(&st, "team-a", CPU, "cpu", 9, __LINE__);
    drop(&in);
    bt_cleanup(&st);
}

static void t_crash_and_replay(void)
{
    bt_store st;
    CHECK(bt_open(&st) == 0);
    inst in;
    CHECK(make(&in, &st, NULL) == 0);
    kiln_err err;
    for (int i = 0; i < 5; i++) {
        kiln_batch *b = batch_of(CPU, "anonymous", i % 2 ? "a" : "b", 2, T0 + i * 30000000000LL);
        CHECK_EQ_INT(PL.consume(in.s, b, &err), KILN_OK);
        kiln_batch_unref(b);
    }
    /* the process dies: nothing is flushed */
    drop(&in);
    CHECK_EQ_INT(count_wal(&st, "anonymous"), 1);
    kiln_blocks_list l;
    CHECK(bt_list(st.os, "anonymous", &l) == 0);
    CHECK_EQ_INT(l.n, 0);
    kiln_blocks_list_free(&l);
    /* restart: the segment is young, so it is the active head again */
    CHECK(make(&in, &st, NULL) == 0);
    CHECK_EQ_INT(mock_host_counter(in.m, "blocks_wal_replayed_profiles_total"), 10);
    kiln_batch *b = batch_of(CPU, "anonymous", "a", 1, T0 + 300000000000LL);
    CHECK_EQ_INT(PL.consume(in.s, b, &err), KILN_OK);
    kiln_batch_unref(b);
    CHECK_EQ_INT(count_wal(&st, "anonymous"), 1);
    drop(&in);
    /* again, then flush: 11 profiles, each exactly once */
    CHECK(make(&in, &st, NULL) == 0);
    CHECK_EQ_INT(mock_host_counter(in.m, "blocks_wal_replayed_profiles_total"), 11);
    kiln_bx_flush_pass(in.s, 1);
    check_store(&st, "anonymous", CPU, "cpu", 11, __LINE__);
    drop(&in);
    bt_cleanup(&st);
}

static void t_uploaded_segment_not_replayed(void)
{
    bt_store st;
    CHECK(bt_open(&st) == 0);
    inst in;
    CHECK(make(&in, &st, NULL) == 0);
    kiln_err err;
    kiln_batch *b = batch_of(CPU, "t", "svc", 3, T0);
    CHECK_EQ_INT(PL.consume(in.s, b, &err), KILN_OK);
    kiln_batch_unref(b);
    /* keep a copy of the segment: the crash comes after the meta was
     * written but before the segment was removed */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/keep && cp %s/t/*.wal %s/keep/", st.dir, st.wal, st.dir);
    CHECK(system(cmd) == 0);
    kiln_bx_flush_pass(in.s, 1);
    drop(&in);
    snprintf(cmd, sizeof cmd, "cp %s/keep/*.wal %s/t/", st.dir, st.wal);
    CHECK(system(cmd) == 0);
    CHECK_EQ_INT(count_wal(&st, "t"), 1);
    CHECK(make(&in, &st, NULL) == 0);
    CHECK_EQ_INT(count_wal(&st, "t"), 0);
    CHECK_EQ_INT(mock_host_counter(in.m, "blocks_wal_replayed_profiles_total"), 0);
    kiln_bx_flush_pass(in.s, 1);
    check_store(&st, "t", CPU, "cpu", 3, __LINE__);
    /* the same after compaction made the block a source of another one:
     * the segment is still recognised as stored */
    CHECK(system(cmd) == 0);
    kiln_blocks_list l;
    CHECK(bt_list(st.os, "t", &l) == 0);
    kiln_block_meta merged;
    memset(&merged, 0, sizeof merged);
    kiln_block_id nid;
    kiln_block_id_new(kiln_now_unix_ns(), nid, &err);
    CHECK_EQ_INT(kiln_blocks_merge(st.os, "t", l.v, l.n, nid, 2, st.tmp, &merged, &err), KILN_OK);
    CHECK_EQ_INT(kiln_blocks_delete(st.os, "t", l.v[0].id, &err), KILN_OK);
    kiln_blocks_list_free(&l);
    kiln_block_meta_free(&merged);
    drop(&in);
    CHECK(make(&in, &st, NULL) == 0);
    CHECK_EQ_INT(count_wal(&st, "t"), 0);
    kiln_bx_flush_pass(in.s, 1);
    check_store(&st, "t", CPU, "cpu", 3, __LINE__);
    drop(&in);
    bt_cleanup(&st);
}

static void t_torn_tail(void)
{
    bt_store st;
    CHECK(bt_open(&st) == 0);
    inst in;
    CHECK(make(&in, &st, NULL) == 0);
    kiln_err err;
    kiln_batch *b = batch_of(CPU, "t", "svc", 2, T0);
    CHECK_EQ_INT(PL.consume(in.s, b, &err), KILN_OK);
    kiln_batch_unref(b);
    drop(&in);
    /* a record the crash cut short: a length, a checksum and half a body */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "for f in %s/t/*.wal; do printf '\\100\\000\\000\\000\\001\\002\\003\\004abc' >> \"$f\"; done", st.wal);
    CHECK(system(cmd) == 0);
    CHECK(make(&in, &st, NULL) == 0);
    CHECK_EQ_INT(mock_host_counter(in.m, "blocks_wal_torn_segments_total"), 1);
    CHECK_EQ_INT(mock_host_counter(in.m, "blocks_wal_replayed_profiles_total"), 2);
    CHECK_CONTAINS(mock_host_log(in.m), "torn tail");
    /* appends go after the last good record */
    b = batch_of(CPU, "t", "svc", 1, T0 + 60000000000LL);
    CHECK_EQ_INT(PL.consume(in.s, b, &err), KILN_OK);
    kiln_batch_unref(b);
    drop(&in);
    CHECK(make(&in, &st, NULL) == 0);
    CHECK_EQ_INT(mock_host_counter(in.m, "blocks_wal_replayed_profiles_total"), 3);
    CHECK_EQ_INT(mock_host_counter(in.m, "blocks_wal_torn_segments_total"), 0);
    kiln_bx_flush_pass(in.s, 1);
    check_store(&st, "t", CPU, "cpu", 3, __LINE__);
    drop(&in);
    bt_cleanup(&st);
}

static void t_upload_failure_retried(void)
{
    bt_store st;
    CHECK(bt_open(&st) == 0);
    inst in;
    CHECK(make(&in, &st, NULL) == 0);
    kiln_err err;
    kiln_batch *b = batch_of(CPU, "t", "svc", 2, T0);
    CHECK_EQ_INT(PL.consume(in.s, b, &err), KILN_OK);
    kiln_batch_unref(b);
    /* the tenant's directory in the store is a file: puts fail */
    char path[600];
    snprintf(path, sizeof path, "%s/t", st.data);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) fclose(f);
    kiln_bx_flush_pass(in.s, 1);
    CHECK_EQ_INT(mock_host_counter(in.m, "blocks_upload_failures_total"), 1);
    CHECK_EQ_INT(mock_host_counter(in.m, "blocks_uploaded_total"), 0);
    CHECK_EQ_INT(count_wal(&st, "t"), 1); /* still durable in the WAL */
    CHECK_CONTAINS(mock_host_log(in.m), "upload of block");
    /* the pending head is still queryable through a head view */
    CHECK(in.s->pending != NULL && in.s->pending->head != NULL);
    if (in.s->pending && in.s->pending->head) {
        kiln_block *v;
        CHECK_EQ_INT(kiln_head_open_view(in.s->pending->head, &v, &err), KILN_OK);
        CHECK_EQ_INT(kiln_block_get_meta(v)->n_profiles, 4);
        kiln_block_close(v);
    }
    unlink(path);
    usleep(5000);
    kiln_bx_flush_pass(in.s, 0);
    CHECK_EQ_INT(mock_host_counter(in.m, "blocks_uploaded_total"), 1);
    CHECK_EQ_INT(count_wal(&st, "t"), 0);
    check_store(&st, "t", CPU, "cpu", 2, __LINE__);
    drop(&in);
    bt_cleanup(&st);
}

static void t_evicted_pending_heads_reload(void)
{
    bt_store st;
    CHECK(bt_open(&st) == 0);
    inst in;
    CHECK(make(&in, &st, "max_block_bytes: 1MiB\n") == 0);
    char path[600];
    snprintf(path, sizeof path, "%s/t", st.data);
    FILE *f = fopen(path, "w"); /* the store refuses every put */
    CHECK(f != NULL);
    if (f) fclose(f);
    kiln_err err;
    const char *LARGE = "pprof__large.cpu.pb.gz";
    for (int i = 0; i < 3; i++) {
        kiln_batch *b = batch_of(LARGE, "t", "svc", 1, T0 + i * 60000000000LL);
        CHECK_EQ_INT(PL.consume(in.s, b, &err), KILN_OK);
        kiln_batch_unref(b);
        kiln_bx_flush_pass(in.s, 1); /* cut, upload fails */
    }
    CHECK_EQ_INT(mock_host_counter(in.m, "blocks_heads_cut_total"), 3);
    CHECK_EQ_INT(count_wal(&st, "t"), 3);
    size_t n = 0, in_mem = 0;
    for (bx_pending *p = in.s->pending; p; p = p->next) {
        n++;
        in_mem += p->head != NULL;
    }
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(in_mem, 1); /* over 2 x max_block_bytes: the others live in their WAL only */
    CHECK_CONTAINS(mock_host_log(in.m), "leaves memory");
    unlink(path);
    kiln_bx_flush_pass(in.s, 1);
    CHECK_EQ_INT(mock_host_counter(in.m, "blocks_uploaded_total"), 3);
    CHECK_EQ_INT(count_wal(&st, "t"), 0);
    check_store(&st, "t", LARGE, "cpu", 3, __LINE__);
    drop(&in);
    bt_cleanup(&st);
}

static void t_bad_payload_refused(void)
{
    bt_store st;
    CHECK(bt_open(&st) == 0);
    inst in;
    CHECK(make(&in, &st, NULL) == 0);
    kiln_batch *b = kiln_batch_new(1);
    kiln_profile *p = kiln_batch_add(b);
    kiln_profile_set_tenant(p, "t");
    uint8_t junk[] = "definitely not a profile";
    p->payload = kiln_payload_from_bytes(KILN_FMT_PPROF, junk, sizeof junk, 1, NULL, NULL);
    kiln_err err;
    kiln_err_clear(&err);
    CHECK(PL.consume(in.s, b, &err) != KILN_OK);
    CHECK(!err.retriable);
    CHECK_EQ_INT(mock_host_counter(in.m, "blocks_rejected_profiles_total"), 1);
    CHECK_EQ_INT(count_wal(&st, "t"), 0);
    kiln_batch_unref(b);
    drop(&in);
    bt_cleanup(&st);
}

static void t_validation(void)
{
    bt_store st;
    CHECK(bt_open(&st) == 0);
    const char *bad[] = {
        "compaction: {ranges: [6h, 1h]}\n",
        "compaction: {ranges: [1h, 90m]}\n",
        "storage: {backend: s3}\n",
        "wal_fsync: sometimes\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        inst in;
        CHECK(make(&in, &st, bad[i]) != 0);
        drop(&in);
    }
    /* the WAL may not live inside the block directory */
    char yaml[600];
    snprintf(yaml, sizeof yaml, "storage: {filesystem: {directory: %s}}\nwal_dir: %s/wal\n", st.data, st.data);
    kiln_node *root = NULL;
    kiln_err err;
    void *cfg = calloc(1, PL.cfg_size);
    CHECK_EQ_INT(kiln_yaml_load_string("t.yaml", yaml, strlen(yaml), &root, &err), KILN_OK);
    CHECK_EQ_INT(kiln_cfg_apply(PL.fields, root, cfg, &err), KILN_OK);
    CHECK(PL.validate(cfg, root, &err) != KILN_OK);
    CHECK_CONTAINS(err.msg, "must not be inside");
    kiln_cfg_free(PL.fields, cfg);
    free(cfg);
    kiln_yaml_free(root);
    /* a second instance on the same wal_dir is refused */
    inst a, b;
    CHECK(make(&a, &st, NULL) == 0);
    CHECK(make(&b, &st, NULL) != 0);
    drop(&b);
    drop(&a);
    bt_cleanup(&st);
}

int main(void)
{
    RUN(t_consume_flush_roundtrip);
    RUN(t_crash_and_replay);
    RUN(t_uploaded_segment_not_replayed);
    RUN(t_torn_tail);
    RUN(t_upload_failure_retried);
    RUN(t_evicted_pending_heads_reload);
    RUN(t_bad_payload_refused);
    RUN(t_validation);
    return test_summary();
}
