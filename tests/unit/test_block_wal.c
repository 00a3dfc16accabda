/* tests/unit/test_block_wal.c — the write-ahead log: records come back
 * byte for byte; a tail cut at any byte of the last record, or a flipped
 * byte, ends the replay at the last good record (and nothing after it is
 * used); reopening at that point appends cleanly; tailing from an offset;
 * the heads a reader derives from segments, minus those already stored. */
#include "test_block_util.h"

#include <sys/stat.h>

typedef struct got {
    size_t n;
    int64_t time[64];
    size_t len[64];
    char svc[64][32];
    int same;
    const uint8_t *want;
    size_t want_len;
} got;

static int collect(const kiln_wal_profile *p, void *arg)
{
    got *g = arg;
    if (g->n < 64) {
        g->time[g->n] = p->time_ns;
        g->len[g->n] = p->len;
        const char *s = kiln_labels_get(p->labels, "service_name");
        snprintf(g->svc[g->n], sizeof g->svc[0], "%s", s ? s : "");
        if (g->want && (p->len != g->want_len || memcmp(p->data, g->want, p->len))) g->same = 0;
    }
    g->n++;
    return KILN_OK;
}

static void t_records_roundtrip_and_torn_tails(void)
{
    bt_store s;
    CHECK(bt_open(&s) == 0);
    size_t len;
    uint8_t *pl = test_read_corpus("parca__two-stacks.pb.gz", &len);
    CHECK(pl != NULL);
    kiln_wal *w;
    kiln_err err;
    CHECK_EQ_INT(kiln_wal_create(s.wal, "team a", "01M80R0BVB16BC40K7RT79F6M2", 42, &w, &err), KILN_OK);
    uint64_t ends[4];
    for (int r = 0; r < 4; r++) {
        kiln_labels ls[2] = {KILN_LABELS_INIT, KILN_LABELS_INIT};
        kiln_wal_profile v[2];
        for (int k = 0; k < 2; k++) {
            char svc[16];
            snprintf(svc, sizeof svc, "s%d", r * 2 + k);
            kiln_labels_set(&ls[k], "service_name", svc);
            v[k] = (kiln_wal_profile){&ls[k], 1000 + r * 2 + k, 7, pl, len};
        }
        CHECK_EQ_INT(kiln_wal_append(w, v, 2, &err), KILN_OK);
        ends[r] = kiln_wal_size(w);
        kiln_labels_free(&ls[0]);
        kiln_labels_free(&ls[1]);
    }
    CHECK_EQ_INT(kiln_wal_sync(w, &err), KILN_OK);
    char path[600];
    snprintf(path, sizeof path, "%s", kiln_wal_file(w));
    kiln_wal_unref(w);
    CHECK_CONTAINS(path, "/team%20a/01M80R0BVB16BC40K7RT79F6M2.wal");

    kiln_wal_header h;
    kiln_wal_replay_result res;
    got g;
    memset(&g, 0, sizeof g);
    g.same = 1;
    g.want = pl;
    g.want_len = len;
    CHECK_EQ_INT(kiln_wal_replay(path, &h, collect, &g, &res, &err), KILN_OK);
    CHECK_EQ_STR(h.tenant, "team a");
    CHECK_EQ_STR(h.id, "01M80R0BVB16BC40K7RT79F6M2");
    CHECK_EQ_INT(h.created_ns, 42);
    CHECK_EQ_INT(res.records, 4);
    CHECK_EQ_INT(res.profiles, 8);
    CHECK_EQ_INT(res.torn, 0);
    CHECK_EQ_INT(res.valid_end, ends[3]);
    CHECK_EQ_INT(g.n, 8);
    CHECK(g.same);
    CHECK_EQ_INT(g.time[5], 1005);
    CHECK_EQ_STR(g.svc[7], "s7");

    /* cut the file at every byte of the last record */
    size_t flen;
    uint8_t *file = test_read_file(path, &flen);
    CHECK(file && flen == ends[3]);
    size_t wrong = 0;
    for (uint64_t cut = ends[2] + 1; cut < ends[3]; cut++) {
        memset(&g, 0, sizeof g);
        if (kiln_wal_replay_buf(file, (size_t)cut, &h, collect, &g, &res, &err) != KILN_OK ||
            res.records != 3 || !res.torn || res.valid_end != ends[2] || g.n != 6)
            wrong++;
    }
    CHECK_EQ_INT(wrong, 0);
    /* a flipped byte in record 2: records 0-1 only, nothing after is used */
    file[ends[1] + 20] ^= 0x40;
    memset(&g, 0, sizeof g);
    CHECK_EQ_INT(kiln_wal_replay_buf(file, flen, &h, collect, &g, &res, &err), KILN_OK);
    CHECK_EQ_INT(res.records, 2);
    CHECK(res.torn);
    CHECK_EQ_INT(g.n, 4);
    file[ends[1] + 20] ^= 0x40;
    /* a damaged header is an error */
    file[10] ^= 1;
    CHECK_EQ_INT(kiln_wal_replay_buf(file, flen, &h, collect, &g, &res, &err), KILN_EINVAL);
    file[10] ^= 1;
    free(file);

    /* a crash left half a record: reopen at the good end and append */
    CHECK_EQ_INT(truncate(path, (off_t)(ends[3] - 3)), 0);
    memset(&g, 0, sizeof g);
    CHECK_EQ_INT(kiln_wal_replay(path, &h, collect, &g, &res, &err), KILN_OK);
    CHECK_EQ_INT(res.valid_end, ends[2]);
    CHECK_EQ_INT(kiln_wal_reopen(path, res.valid_end, &w, &err), KILN_OK);
    kiln_labels ls = KILN_LABELS_INIT;
    kiln_labels_set(&ls, "service_name", "late");
    kiln_wal_profile v = {&ls, 5000, 0, pl, len};
    CHECK_EQ_INT(kiln_wal_append(w, &v, 1, &err), KILN_OK);
    kiln_wal_unref(w);
    memset(&g, 0, sizeof g);
    CHECK_EQ_INT(kiln_wal_replay(path, &h, collect, &g, &res, &err), KILN_OK);
    CHECK_EQ_INT(res.torn, 0);
    CHECK_EQ_INT(g.n, 7);
    CHECK_EQ_STR(g.svc[6], "late");
    /* tailing: from the end of record 1 on */
    memset(&g, 0, sizeof g);
    CHECK_EQ_INT(kiln_wal_replay_from(path, ends[1], &h, collect, &g, &res, &err), KILN_OK);
    CHECK_EQ_INT(g.n, 3);
    CHECK_EQ_STR(g.svc[0], "s4");
    kiln_labels_free(&ls);
    free(pl);
    bt_cleanup(&s);
}

static void t_heads_from_wal(void)
{
    bt_store s;
    CHECK(bt_open(&s) == 0);
    size_t len;
    uint8_t *pl = test_read_corpus("pprof__sample.cpu.pb.gz", &len);
    kiln_err err;
    kiln_block_id id1, id2;
    kiln_block_id_new(1700000000000000000LL, id1, &err);
    kiln_block_id_new(1700000001000000000LL, id2, &err);
    kiln_wal *w1, *w2;
    CHECK_EQ_INT(kiln_wal_create(s.wal, "t", id1, 1, &w1, &err), KILN_OK);
    CHECK_EQ_INT(kiln_wal_create(s.wal, "t", id2, 2, &w2, &err), KILN_OK);
    kiln_labels ls = KILN_LABELS_INIT;
    bt_labels(&ls, "svc", "process_cpu");
    kiln_wal_profile v = {&ls, 1700000000000000000LL, 0, pl, len};
    CHECK_EQ_INT(kiln_wal_append(w1, &v, 1, &err), KILN_OK);
    CHECK_EQ_INT(kiln_wal_append(w2, &v, 1, &err), KILN_OK);
    CHECK_EQ_INT(kiln_wal_append(w2, &v, 1, &err), KILN_OK);
    kiln_wal_heads hs = {0};
    CHECK_EQ_INT(kiln_wal_heads_refresh(s.wal, "t", NULL, &hs, &err), KILN_OK);
    CHECK_EQ_INT(hs.n, 2);
    /* segment 1 becomes a block: with the listing it is no longer a head */
    kiln_head *h;
    CHECK_EQ_INT(kiln_head_new("t", id1, 1, &h, &err), KILN_OK);
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = bt_load(a, "pprof__sample.cpu.pb.gz");
    CHECK_EQ_INT(kiln_head_append(h, &ls, v.time_ns, 0, p, &err), KILN_OK);
    int empty;
    CHECK_EQ_INT(kiln_head_write_block(h, s.os, s.tmp, NULL, &empty, &err), KILN_OK);
    kiln_head_free(h);
    kiln_blocks_list l;
    CHECK(bt_list(s.os, "t", &l) == 0);
    CHECK_EQ_INT(kiln_wal_heads_refresh(s.wal, "t", &l, &hs, &err), KILN_OK);
    CHECK_EQ_INT(hs.n, 1);
    if (hs.n == 1) {
        CHECK_EQ_STR(kiln_head_id(hs.v[0].head), id2);
        kiln_head_stats st;
        kiln_head_get_stats(hs.v[0].head, &st);
        CHECK_EQ_INT(st.n_profiles, 4); /* 2 profiles x 2 sample types */
    }
    /* more records are tailed, not re-read */
    CHECK_EQ_INT(kiln_wal_append(w2, &v, 1, &err), KILN_OK);
    CHECK_EQ_INT(kiln_wal_heads_refresh(s.wal, "t", &l, &hs, &err), KILN_OK);
    if (hs.n == 1) {
        kiln_head_stats st;
        kiln_head_get_stats(hs.v[0].head, &st);
        CHECK_EQ_INT(st.n_profiles, 6);
        CHECK_EQ_INT(hs.v[0].profiles, 3);
    }
    /* the segment is removed (uploaded): the head goes */
    unlink(kiln_wal_file(w2));
    CHECK_EQ_INT(kiln_wal_heads_refresh(s.wal, "t", &l, &hs, &err), KILN_OK);
    CHECK_EQ_INT(hs.n, 0);
    kiln_wal_heads_free(&hs);
    kiln_blocks_list_free(&l);
    kiln_wal_unref(w1);
    kiln_wal_unref(w2);
    kiln_labels_free(&ls);
    kiln_arena_destroy(a);
    free(pl);
    bt_cleanup(&s);
}

int main(void)
{
    RUN(t_records_roundtrip_and_torn_tails);
    RUN(t_heads_from_wal);
    return test_summary();
}
