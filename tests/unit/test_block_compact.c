/* tests/unit/test_block_compact.c — compaction and retention: merged blocks
 * keep every profile once (per-function totals equal the inputs' sum),
 * deduplicate symbols and stacks again, list their sources; the
 * visibility rule hides inputs that a crash left behind; windows that are
 * still open or blocks that do not fit a window are left alone; retention
 * deletes old blocks, hidden blocks and orphaned data. */
#include "test_block_util.h"

#define H 3600000000000LL
#define NOW (1700000000000000000LL + 100 * H)

/* One level-1 block: `n` copies of a corpus profile for service svc, times
 * t0 + i * 15s. */
static int mk_block(bt_store *s, const char *tenant, const char *file, const char *svc, int n,
                    int64_t t0, kiln_block_meta *m)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = bt_load(a, file);
    kiln_head *h;
    kiln_err err;
    int rc = -1;
    if (p && kiln_head_new(tenant, NULL, t0, &h, &err) == KILN_OK) {
        kiln_labels ls = KILN_LABELS_INIT;
        bt_labels(&ls, svc, "process_cpu");
        rc = 0;
        for (int i = 0; i < n && !rc; i++)
            if (kiln_head_append(h, &ls, t0 + i * 15000000000LL, 0, p, &err) != KILN_OK) rc = -1;
        int empty;
        memset(m, 0, sizeof *m);
        if (!rc && kiln_head_write_block(h, s->os, s->tmp, m, &empty, &err) != KILN_OK) {
            fprintf(stderr, "write: %s\n", err.msg);
            rc = -1;
        }
        kiln_labels_free(&ls);
        kiln_head_free(h);
    }
    kiln_arena_destroy(a);
    return rc;
}

/* cpu totals of the tenant's visible blocks, checked against mult x the
 * corpus file's; returns the number of visible blocks. */
static size_t check_visible(bt_store *s, const char *tenant, const char *file, const char *type,
                            int64_t mult, int line)
{
    kiln_blocks_list l;
    if (bt_list(s->os, tenant, &l)) return 0;
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *orig = bt_load(a, file);
    kiln_pprof **parts = calloc(l.n + 1, sizeof *parts);
    size_t np = 0, nv = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (!l.visible[i]) continue;
        nv++;
        kiln_block *b;
        kiln_err err;
        if (kiln_block_open(s->os, &l.v[i], &b, &err) != KILN_OK) {
            test_fail(__FILE__, line, "open: %s", err.msg);
            continue;
        }
        uint32_t *ids;
        size_t n = bt_select_eq(b, KILN_LABEL_TYPE, type, &ids);
        if (n && kiln_block_to_pprof(b, ids, n, INT64_MIN, INT64_MAX, a, &parts[np], &err) == KILN_OK) np++;
        free(ids);
        kiln_block_close(b);
    }
    kiln_pprof *m = np ? parts[0] : NULL;
    kiln_err err;
    if (np > 1 && kiln_pprof_merge(a, parts, np, &m, &err) != KILN_OK) m = NULL;
    if (!m || !orig || bt_top_equal(orig, (size_t)kiln_pprof_sample_index(orig, type), mult, m, 0, tenant))
        test_fail(__FILE__, line, "tenant %s: totals differ from %lld x %s", tenant, (long long)mult, file);
    free(parts);
    kiln_arena_destroy(a);
    kiln_blocks_list_free(&l);
    return nv;
}

static const char *CPU = "pprof__sample.cpu.pb.gz";
static const int64_t R1[] = {H, 6 * H};

static void t_compact_window(void)
{
    bt_store s;
    CHECK(bt_open(&s) == 0);
    int64_t w0 = (1700000000000000000LL / H) * H; /* a window start */
    kiln_block_meta m[4];
    CHECK(mk_block(&s, "t", CPU, "a", 4, w0 + 60000000000LL, &m[0]) == 0);
    CHECK(mk_block(&s, "t", CPU, "b", 3, w0 + 900000000000LL, &m[1]) == 0);
    CHECK(mk_block(&s, "t", CPU, "a", 2, w0 + 1800000000000LL, &m[2]) == 0);
    CHECK(mk_block(&s, "t", CPU, "a", 1, w0 + H + 60000000000LL, &m[3]) == 0); /* next window */
    check_visible(&s, "t", CPU, "cpu", 10, __LINE__);
    /* the window is still open (settle): nothing happens */
    kiln_compact_opts o = {R1, 1, w0 + H + 60000000000LL, 20 * 60000000000LL, s.tmp, 0, NULL, 0, NULL};
    kiln_compact_result r;
    kiln_err err;
    CHECK_EQ_INT(kiln_blocks_compact(s.os, "t", &o, &r, &err), KILN_OK);
    CHECK_EQ_INT(r.jobs, 0);
    /* later: the first window's three blocks become one level-2 block */
    o.now_ns = NOW;
    CHECK_EQ_INT(kiln_blocks_compact(s.os, "t", &o, &r, &err), KILN_OK);
    CHECK_EQ_INT(r.jobs, 1);
    CHECK_EQ_INT(r.sources_deleted, 3);
    kiln_blocks_list l;
    CHECK(bt_list(s.os, "t", &l) == 0);
    CHECK_EQ_INT(l.n, 2);
    const kiln_block_meta *c = NULL;
    for (size_t i = 0; i < l.n; i++)
        if (l.v[i].level == 2) c = &l.v[i];
    CHECK(c != NULL);
    if (c) {
        CHECK_EQ_INT(c->n_sources, 3);
        CHECK_EQ_INT(c->n_parents, 3);
        for (int k = 0; k < 3; k++) CHECK(kiln_blocks_list_covers(&l, m[k].id));
        CHECK_EQ_INT(c->n_profiles, 9 * 2);    /* 9 profiles x 2 sample types */
        CHECK_EQ_INT(c->n_series, 4);          /* services a and b, 2 types each */
        CHECK_EQ_INT(c->n_stacks, m[0].n_stacks); /* same stacks: deduplicated again */
        CHECK_EQ_INT(c->n_functions, m[0].n_functions);
        CHECK_EQ_INT(c->min_time_ns, m[0].min_time_ns);
        CHECK_EQ_INT(c->max_time_ns, m[2].max_time_ns);
        CHECK_EQ_STR(c->source, "compactor");
        CHECK_EQ_INT(kiln_block_verify(s.os, c, &err), KILN_OK);
        /* series a holds its 6 profiles in time order */
        kiln_block *b;
        CHECK_EQ_INT(kiln_block_open(s.os, c, &b, &err), KILN_OK);
        kiln_block_matcher ms[2] = {{"service_name", KILN_MATCH_EQ, "a", NULL, NULL},
                                    {KILN_LABEL_TYPE, KILN_MATCH_EQ, "cpu", NULL, NULL}};
        uint32_t *ids;
        size_t n;
        CHECK_EQ_INT(kiln_block_select(b, ms, 2, INT64_MIN, INT64_MAX, &ids, &n, &err), KILN_OK);
        CHECK_EQ_INT(n, 1);
        kiln_block_samples smp;
        CHECK_EQ_INT(kiln_block_read_samples(b, ids[0], INT64_MIN, INT64_MAX, 0, &smp, &err), KILN_OK);
        CHECK_EQ_INT(smp.n_profiles, 6);
        for (size_t i = 1; i < smp.n_profiles; i++) CHECK(smp.time_ns[i] >= smp.time_ns[i - 1]);
        kiln_block_samples_free(&smp);
        free(ids);
        kiln_block_close(b);
    }
    kiln_blocks_list_free(&l);
    check_visible(&s, "t", CPU, "cpu", 10, __LINE__);
    /* level 3: both (level 2 + the next window's level 1) in one 6h window */
    o.ranges = R1;
    o.n_ranges = 2;
    CHECK_EQ_INT(kiln_blocks_compact(s.os, "t", &o, &r, &err), KILN_OK);
    CHECK(bt_list(s.os, "t", &l) == 0);
    int64_t w6 = (w0 / (6 * H)) * (6 * H);
    int same6 = (w0 + H) / (6 * H) == w6 / (6 * H);
    CHECK_EQ_INT(l.n, same6 ? 1 : 2);
    if (same6 && l.n == 1) {
        CHECK_EQ_INT(l.v[0].level, 3);
        CHECK_EQ_INT(l.v[0].n_sources, 4); /* the union of the level-1 ancestors */
    }
    kiln_blocks_list_free(&l);
    check_visible(&s, "t", CPU, "cpu", 10, __LINE__);
    for (int k = 0; k < 4; k++) kiln_block_meta_free(&m[k]);
    bt_cleanup(&s);
}

static void t_crash_leaves_inputs_hidden(void)
{
    bt_store s;
    CHECK(bt_open(&s) == 0);
    int64_t w0 = (1700000000000000000LL / H) * H;
    kiln_block_meta m[2];
    CHECK(mk_block(&s, "t", CPU, "a", 2, w0 + 1, &m[0]) == 0);
    CHECK(mk_block(&s, "t", "parca__alloc_objects.pb.gz", "a", 1, w0 + 2, &m[1]) == 0);
    /* the compactor wrote the merged block, then died before deleting */
    kiln_err err;
    kiln_block_id n1, n2;
    kiln_block_id_new(NOW, n1, &err);
    kiln_block_id_new(NOW + 1000000, n2, &err);
    CHECK_EQ_INT(kiln_blocks_merge(s.os, "t", m, 2, n1, 2, s.tmp, NULL, &err), KILN_OK);
    /* a second compactor merged the same inputs too */
    CHECK_EQ_INT(kiln_blocks_merge(s.os, "t", m, 2, n2, 2, s.tmp, NULL, &err), KILN_OK);
    kiln_blocks_list l;
    CHECK(bt_list(s.os, "t", &l) == 0);
    CHECK_EQ_INT(l.n, 4);
    size_t vis = 0;
    for (size_t i = 0; i < l.n; i++)
        if (l.visible[i]) {
            vis++;
            CHECK_EQ_STR(l.v[i].id, n2); /* equal sources and level: the greater id */
        }
    CHECK_EQ_INT(vis, 1);
    kiln_blocks_list_free(&l);
    check_visible(&s, "t", CPU, "cpu", 2, __LINE__);
    check_visible(&s, "t", "parca__alloc_objects.pb.gz", "inuse_space", 1, __LINE__);
    /* retention removes the hidden ones and keeps the data */
    int deleted;
    CHECK_EQ_INT(kiln_blocks_retention(s.os, "t", NOW, 0, 0, NULL, &deleted, &err), KILN_OK);
    CHECK_EQ_INT(deleted, 3);
    CHECK(bt_list(s.os, "t", &l) == 0);
    CHECK_EQ_INT(l.n, 1);
    kiln_blocks_list_free(&l);
    check_visible(&s, "t", CPU, "cpu", 2, __LINE__);
    for (int k = 0; k < 2; k++) kiln_block_meta_free(&m[k]);
    bt_cleanup(&s);
}

static void t_not_compacted(void)
{
    bt_store s;
    CHECK(bt_open(&s) == 0);
    int64_t w0 = (1700000000000000000LL / H) * H;
    kiln_block_meta m[3];
    /* one block per window: nothing to merge */
    CHECK(mk_block(&s, "t", CPU, "a", 1, w0 + 1, &m[0]) == 0);
    CHECK(mk_block(&s, "t", CPU, "a", 1, w0 + H + 1, &m[1]) == 0);
    /* a block longer than a window (5 profiles 15 min apart... 300 x 15s = 75 min) */
    CHECK(mk_block(&s, "t", CPU, "b", 300, w0 + 2, &m[2]) == 0);
    kiln_compact_opts o = {R1, 1, NOW, 0, s.tmp, 0, NULL, 0, NULL};
    kiln_compact_result r;
    kiln_err err;
    CHECK_EQ_INT(kiln_blocks_compact(s.os, "t", &o, &r, &err), KILN_OK);
    CHECK_EQ_INT(r.jobs, 0);
    for (int k = 0; k < 3; k++) kiln_block_meta_free(&m[k]);
    bt_cleanup(&s);
}

static void t_retention(void)
{
    bt_store s;
    CHECK(bt_open(&s) == 0);
    kiln_block_meta old, young, orphan_old, orphan_young, backfill;
    CHECK(mk_block(&s, "t", CPU, "a", 1, NOW - 40 * 24 * H, &old) == 0);
    /* old profiles that arrived recently (a head made an hour ago) */
    {
        kiln_arena *a = kiln_arena_new(0);
        kiln_pprof *p = bt_load(a, CPU);
        kiln_head *h;
        kiln_err e;
        kiln_labels ls = KILN_LABELS_INIT;
        bt_labels(&ls, "backfill", "process_cpu");
        int empty;
        memset(&backfill, 0, sizeof backfill);
        CHECK(p && kiln_head_new("t", NULL, NOW - H, &h, &e) == KILN_OK);
        CHECK_EQ_INT(kiln_head_append(h, &ls, NOW - 300 * 24 * H, 0, p, &e), KILN_OK);
        CHECK_EQ_INT(kiln_head_write_block(h, s.os, s.tmp, &backfill, &empty, &e), KILN_OK);
        kiln_head_free(h);
        kiln_labels_free(&ls);
        kiln_arena_destroy(a);
    }
    CHECK(mk_block(&s, "t", CPU, "a", 1, NOW - 2 * H, &young) == 0);
    /* orphans: data without meta (an upload that died); the id's time decides */
    CHECK(mk_block(&s, "t", CPU, "c", 1, NOW - 48 * H, &orphan_old) == 0);
    CHECK(mk_block(&s, "t", CPU, "d", 1, NOW - 1 * H, &orphan_young) == 0);
    kiln_err err;
    char key[256];
    kiln_block_key("t", orphan_old.id, "meta.json", key, sizeof key);
    CHECK_EQ_INT(kiln_objstore_delete(s.os, key, &err), KILN_OK);
    kiln_block_key("t", orphan_young.id, "meta.json", key, sizeof key);
    CHECK_EQ_INT(kiln_objstore_delete(s.os, key, &err), KILN_OK);
    int deleted;
    kiln_blocks_meta_cache *mc = kiln_blocks_meta_cache_new();
    kiln_blocks_list l;
    CHECK_EQ_INT(kiln_blocks_list_tenant_cached(s.os, "t", mc, &l, NULL, NULL, &err), KILN_OK);
    CHECK_EQ_INT(l.n, 3);
    kiln_blocks_list_free(&l);
    CHECK_EQ_INT(kiln_blocks_retention(s.os, "t", NOW, 30 * 24 * H, 24 * H, mc, &deleted, &err), KILN_OK);
    CHECK_EQ_INT(deleted, 1);
    CHECK(bt_list(s.os, "t", &l) == 0);
    CHECK_EQ_INT(l.n, 2);
    int has_young = 0, has_backfill = 0;
    for (size_t i = 0; i < l.n; i++) {
        has_young |= !strcmp(l.v[i].id, young.id);
        has_backfill |= !strcmp(l.v[i].id, backfill.id);
    }
    CHECK(has_young);
    CHECK(has_backfill);
    kiln_blocks_list_free(&l);
    /* the cache forgot the deleted block; its entry for the other one is
     * used (a damaged meta.json on disk is not read again) */
    char mk[256];
    kiln_block_key("t", young.id, "meta.json", mk, sizeof mk);
    uint8_t *orig;
    size_t ol;
    CHECK_EQ_INT(kiln_objstore_get(s.os, mk, &orig, &ol, &err), KILN_OK);
    CHECK_EQ_INT(kiln_objstore_put(s.os, mk, (const uint8_t *)"junk", 4, &err), KILN_OK);
    CHECK_EQ_INT(kiln_blocks_list_tenant_cached(s.os, "t", mc, &l, NULL, NULL, &err), KILN_OK);
    CHECK_EQ_INT(l.n, 2);
    CHECK_EQ_INT(l.n_bad, 0);
    kiln_blocks_list_free(&l);
    CHECK(bt_list(s.os, "t", &l) == 0); /* without the cache: read, and found bad */
    CHECK_EQ_INT(l.n_bad, 1);
    kiln_blocks_list_free(&l);
    CHECK_EQ_INT(kiln_objstore_put(s.os, mk, orig, ol, &err), KILN_OK);
    free(orig);
    kiln_blocks_meta_cache_free(mc);
    uint64_t size;
    kiln_block_key("t", orphan_old.id, "samples.bin", key, sizeof key);
    CHECK_EQ_INT(kiln_objstore_size(s.os, key, &size, &err), KILN_ENOTFOUND);
    kiln_block_key("t", orphan_young.id, "samples.bin", key, sizeof key);
    CHECK_EQ_INT(kiln_objstore_size(s.os, key, &size, &err), KILN_OK);
    /* retention 0 keeps everything visible */
    CHECK_EQ_INT(kiln_blocks_retention(s.os, "t", NOW + 1000 * H, 0, 0, NULL, &deleted, &err), KILN_OK);
    CHECK_EQ_INT(deleted, 0);
    /* a retention period after it came in, the backfill goes too */
    CHECK_EQ_INT(kiln_blocks_retention(s.os, "t", NOW + 31 * 24 * H, 30 * 24 * H, 0, NULL, &deleted, &err), KILN_OK);
    CHECK_EQ_INT(deleted, 2);
    kiln_block_meta_free(&backfill);
    kiln_block_meta_free(&old);
    kiln_block_meta_free(&young);
    kiln_block_meta_free(&orphan_old);
    kiln_block_meta_free(&orphan_young);
    bt_cleanup(&s);
}

static void t_tenants_isolated(void)
{
    bt_store s;
    CHECK(bt_open(&s) == 0);
    kiln_block_meta a, b, c;
    CHECK(mk_block(&s, "team a", CPU, "x", 1, NOW, &a) == 0);
    CHECK(mk_block(&s, "team/b", CPU, "x", 2, NOW, &b) == 0);
    CHECK(mk_block(&s, "team", CPU, "x", 3, NOW, &c) == 0);
    char **t;
    size_t n;
    kiln_err err;
    CHECK_EQ_INT(kiln_blocks_tenants(s.os, &t, &n, &err), KILN_OK);
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        CHECK_EQ_STR(t[0], "team");
        CHECK_EQ_STR(t[1], "team a");
        CHECK_EQ_STR(t[2], "team/b");
    }
    kiln_blocks_strv_free(t, n);
    kiln_blocks_list l;
    CHECK(bt_list(s.os, "team", &l) == 0);
    CHECK_EQ_INT(l.n, 1);
    if (l.n) CHECK_EQ_INT(l.v[0].n_profiles, 6);
    kiln_blocks_list_free(&l);
    kiln_block_meta_free(&a);
    kiln_block_meta_free(&b);
    kiln_block_meta_free(&c);
    bt_cleanup(&s);
}

int main(void)
{
    RUN(t_compact_window);
    RUN(t_crash_leaves_inputs_hidden);
    RUN(t_not_compacted);
    RUN(t_retention);
    RUN(t_tenants_isolated);
    return test_summary();
}
