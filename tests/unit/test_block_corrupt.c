/* tests/unit/test_block_corrupt.c — damaged blocks: a bit flip or a
 * truncation anywhere in any object is found by kiln_block_verify, and the
 * reader reports it as an error (never a crash, never wrong data);
 * unreadable metas are skipped by the listing and counted; compaction
 * refuses a damaged input and deletes nothing. */
#include "test_block_util.h"

static const char *CPU = "pprof__large.cpu.pb.gz";

static int mk(bt_store *s, const char *tenant, int64_t t, kiln_block_meta *m)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = bt_load(a, CPU);
    kiln_head *h;
    kiln_err err;
    int rc = -1;
    if (p && kiln_head_new(tenant, NULL, t, &h, &err) == KILN_OK) {
        kiln_labels ls = KILN_LABELS_INIT;
        bt_labels(&ls, "svc", "process_cpu");
        int empty;
        memset(m, 0, sizeof *m);
        if (kiln_head_append(h, &ls, t, 0, p, &err) == KILN_OK &&
            kiln_head_append(h, &ls, t + 1, 0, p, &err) == KILN_OK &&
            kiln_head_write_block(h, s->os, s->tmp, m, &empty, &err) == KILN_OK)
            rc = 0;
        kiln_labels_free(&ls);
        kiln_head_free(h);
    }
    kiln_arena_destroy(a);
    return rc;
}

/* Reads everything a query would: open, select all, samples, pprof. */
static int read_all(bt_store *s, const kiln_block_meta *m, char *msg, size_t cap)
{
    kiln_block *b;
    kiln_err err;
    kiln_err_clear(&err);
    int rc = kiln_block_open(s->os, m, &b, &err);
    int opened = rc == KILN_OK;
    for (uint32_t i = 0; rc == KILN_OK && i < kiln_block_series_count(b); i++) {
        kiln_block_samples smp;
        rc = kiln_block_read_samples(b, i, INT64_MIN, INT64_MAX, 1, &smp, &err);
        if (rc == KILN_OK) kiln_block_samples_free(&smp);
    }
    if (rc == KILN_OK) {
        uint32_t *ids;
        size_t n = bt_select_eq(b, KILN_LABEL_TYPE, "cpu", &ids);
        kiln_arena *a = kiln_arena_new(0);
        kiln_pprof *p;
        rc = n ? kiln_block_to_pprof(b, ids, n, INT64_MIN, INT64_MAX, a, &p, &err) : KILN_EINVAL;
        kiln_arena_destroy(a);
        free(ids);
    }
    if (opened) kiln_block_close(b);
    snprintf(msg, cap, "%s", err.msg);
    return rc;
}

static void t_damage_everywhere(void)
{
    bt_store s;
    CHECK(bt_open(&s) == 0);
    kiln_block_meta m;
    CHECK(mk(&s, "t", 1700000000000000000LL, &m) == 0);
    kiln_err err;
    char msg[600];
    CHECK_EQ_INT(kiln_block_verify(s.os, &m, &err), KILN_OK);
    CHECK_EQ_INT(read_all(&s, &m, msg, sizeof msg), KILN_OK);
    const char *files[] = {"index.bin", "symbols.bin", "samples.bin"};
    for (int f = 0; f < 3; f++) {
        uint64_t size = m.files[f].size;
        /* flips at the start, middle and end, then truncations */
        long offs[] = {0, 5, (long)size / 3, (long)size / 2, (long)size - 1};
        for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++) {
            char key[256], path[700], save[800];
            kiln_block_key("t", m.id, files[f], key, sizeof key);
            snprintf(path, sizeof path, "%s/%s", s.data, key);
            snprintf(save, sizeof save, "cp '%s' '%s.orig'", path, path);
            CHECK(system(save) == 0);
            CHECK(bt_damage(&s, "t", m.id, files[f], offs[k], -1) == 0);
            int vr = kiln_block_verify(s.os, &m, &err);
            if (vr == KILN_OK) fprintf(stderr, "flip %s@%ld not found\n", files[f], offs[k]);
            CHECK(vr != KILN_OK);
            CHECK_CONTAINS(err.msg, m.id);
            int rr = read_all(&s, &m, msg, sizeof msg);
            /* the reader checks what it reads: index (whole object), chunks (their own crc) */
            CHECK(rr != KILN_OK);
            snprintf(save, sizeof save, "mv '%s.orig' '%s'", path, path);
            CHECK(system(save) == 0);
        }
        long cuts[] = {0, 1, (long)size / 2, (long)size - 1};
        for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
            char key[256], path[700], save[800];
            kiln_block_key("t", m.id, files[f], key, sizeof key);
            snprintf(path, sizeof path, "%s/%s", s.data, key);
            snprintf(save, sizeof save, "cp '%s' '%s.orig'", path, path);
            CHECK(system(save) == 0);
            CHECK(bt_damage(&s, "t", m.id, files[f], 0, (int)cuts[k]) == 0);
            CHECK(kiln_block_verify(s.os, &m, &err) != KILN_OK);
            CHECK_CONTAINS(err.msg, "bytes");
            CHECK(read_all(&s, &m, msg, sizeof msg) != KILN_OK);
            snprintf(save, sizeof save, "mv '%s.orig' '%s'", path, path);
            CHECK(system(save) == 0);
        }
    }
    CHECK_EQ_INT(kiln_block_verify(s.os, &m, &err), KILN_OK);
    /* a missing object */
    char key[256];
    kiln_block_key("t", m.id, "symbols.bin", key, sizeof key);
    CHECK_EQ_INT(kiln_objstore_delete(s.os, key, &err), KILN_OK);
    CHECK(kiln_block_verify(s.os, &m, &err) != KILN_OK);
    CHECK_CONTAINS(err.msg, "missing");
    CHECK(read_all(&s, &m, msg, sizeof msg) != KILN_OK);
    kiln_block_meta_free(&m);
    bt_cleanup(&s);
}

static void t_bad_metas_skipped(void)
{
    bt_store s;
    CHECK(bt_open(&s) == 0);
    kiln_block_meta a, b, c;
    CHECK(mk(&s, "t", 1700000000000000000LL, &a) == 0);
    CHECK(mk(&s, "t", 1700000000000000001LL, &b) == 0);
    CHECK(mk(&s, "u", 1700000000000000001LL, &c) == 0);
    kiln_err err;
    /* garbage in one meta.json; another tenant's meta copied into t */
    char key[256], key2[256];
    kiln_block_key("t", a.id, "meta.json", key, sizeof key);
    CHECK_EQ_INT(kiln_objstore_put(s.os, key, (const uint8_t *)"{\"format\":", 10, &err), KILN_OK);
    uint8_t *d;
    size_t n;
    kiln_block_key("u", c.id, "meta.json", key, sizeof key);
    CHECK_EQ_INT(kiln_objstore_get(s.os, key, &d, &n, &err), KILN_OK);
    kiln_block_key("t", c.id, "meta.json", key2, sizeof key2);
    CHECK_EQ_INT(kiln_objstore_put(s.os, key2, d, n, &err), KILN_OK);
    free(d);
    kiln_blocks_list l;
    CHECK(bt_list(s.os, "t", &l) == 0);
    CHECK_EQ_INT(l.n, 1);
    CHECK_EQ_INT(l.n_bad, 2);
    if (l.n) CHECK_EQ_STR(l.v[0].id, b.id);
    kiln_blocks_list_free(&l);
    kiln_block_meta_free(&a);
    kiln_block_meta_free(&b);
    kiln_block_meta_free(&c);
    bt_cleanup(&s);
}

static void t_compaction_refuses_damage(void)
{
    bt_store s;
    CHECK(bt_open(&s) == 0);
    kiln_block_meta a, b;
    CHECK(mk(&s, "t", 1700000000000000000LL, &a) == 0);
    CHECK(mk(&s, "t", 1700000001000000000LL, &b) == 0);
    CHECK(bt_damage(&s, "t", b.id, "samples.bin", 100, -1) == 0);
    static const int64_t ranges[] = {3600000000000LL};
    kiln_compact_opts o = {ranges, 1, 1800000000000000000LL, 0, s.tmp, 0, NULL, 0, NULL};
    kiln_compact_result r;
    kiln_err err;
    CHECK(kiln_blocks_compact(s.os, "t", &o, &r, &err) != KILN_OK);
    CHECK_CONTAINS(err.msg, "checksum");
    CHECK_EQ_INT(r.jobs, 0);
    CHECK_EQ_STR(r.bad_block, b.id); /* the damaged input is named */
    /* skipping it, nothing is left to merge (one block per window) and nothing fails */
    o.skip = &r.bad_block;
    o.n_skip = 1;
    kiln_compact_result r2;
    CHECK_EQ_INT(kiln_blocks_compact(s.os, "t", &o, &r2, &err), KILN_OK);
    CHECK_EQ_INT(r2.jobs, 0);
    kiln_blocks_list l;
    CHECK(bt_list(s.os, "t", &l) == 0);
    CHECK_EQ_INT(l.n, 2); /* both inputs kept, no half-made block visible */
    kiln_blocks_list_free(&l);
    kiln_block_meta_free(&a);
    kiln_block_meta_free(&b);
    bt_cleanup(&s);
}

int main(void)
{
    RUN(t_damage_everywhere);
    RUN(t_bad_metas_skipped);
    RUN(t_compaction_refuses_damage);
    return test_summary();
}
