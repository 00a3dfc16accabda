/* Unit tests: payload forms are produced lazily, once, and shared. */
#include <pthread.h>
#include <stdlib.h>

#include <kiln/kiln.h>

#include "testlib.h"

static kiln_payload *corpus_payload(const char *name)
{
    size_t len;
    uint8_t *data = test_read_corpus(name, &len);
    if (!data) return NULL;
    return kiln_payload_from_bytes(KILN_FMT_PPROF, data, len, 0, NULL, NULL);
}

static void t_lazy_forms(void)
{
    kiln_payload_stats st;
    memset(&st, 0, sizeof st);
    kiln_payload *pl = corpus_payload("pprof__sample.cpu.pb.gz");
    CHECK(pl != NULL);
    if (!pl) return;
    kiln_payload_set_stats(pl, &st);
    CHECK(!kiln_payload_is_decoded(pl));
    const kiln_pprof_peek *pk;
    kiln_err err;
    CHECK_EQ_INT(kiln_payload_peek(pl, &pk, &err), KILN_OK);
    CHECK_EQ_INT(pk->n_types, 2);
    CHECK(pk->n_types == 2 && pk->type[1].len == 3 && memcmp(pk->type[1].p, "cpu", 3) == 0);
    CHECK(!kiln_payload_is_decoded(pl)); /* a peek is not a decode */
    CHECK_EQ_INT(atomic_load(&st.decodes), 0);
    CHECK_EQ_INT(atomic_load(&st.inflates), 1);
    const kiln_pprof *p1, *p2;
    CHECK_EQ_INT(kiln_payload_pprof(pl, &p1, &err), KILN_OK);
    CHECK_EQ_INT(kiln_payload_pprof(pl, &p2, &err), KILN_OK);
    CHECK(p1 == p2);
    CHECK_EQ_INT(atomic_load(&st.decodes), 1);
    CHECK_EQ_INT(atomic_load(&st.inflates), 1); /* the peek's gunzip was reused */
    size_t n_samples;
    long long totals[4];
    size_t nt = test_raw_totals("pprof__sample.cpu.pb.gz.raw.txt", &n_samples, totals, 4);
    CHECK_EQ_INT(nt, 2);
    CHECK_EQ_INT(p1->n_sample, n_samples);
    long long sum = 0;
    for (size_t i = 0; i < p1->n_sample; i++) sum += p1->sample[i]->value[1];
    CHECK_EQ_INT(sum, totals[1]);
    CHECK(kiln_payload_mem(pl) > 1000);
    kiln_payload_unref(pl);
}

typedef struct race {
    kiln_payload *pl;
    const kiln_pprof *got;
} race;

static void *race_main(void *arg)
{
    race *r = arg;
    kiln_err err;
    if (kiln_payload_pprof(r->pl, &r->got, &err) != KILN_OK) r->got = NULL;
    return NULL;
}

static void t_concurrent_decode_once(void)
{
    kiln_payload_stats st;
    memset(&st, 0, sizeof st);
    kiln_payload *pl = corpus_payload("pprof__large.cpu.pb.gz");
    CHECK(pl != NULL);
    if (!pl) return;
    kiln_payload_set_stats(pl, &st);
    pthread_t th[4];
    race r[4];
    for (int i = 0; i < 4; i++) {
        r[i].pl = kiln_payload_ref(pl);
        pthread_create(&th[i], NULL, race_main, &r[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) {
        CHECK(r[i].got != NULL && r[i].got == r[0].got);
        kiln_payload_unref(r[i].pl);
    }
    CHECK_EQ_INT(atomic_load(&st.decodes), 1);
    kiln_payload_unref(pl);
}

static void t_errors_cached(void)
{
    uint8_t junk[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 'x', 'y', 'z'};
    kiln_payload *pl = kiln_payload_from_bytes(KILN_FMT_PPROF, junk, sizeof junk, 1, NULL, NULL);
    const kiln_pprof *p;
    kiln_err e1, e2;
    kiln_err_clear(&e1);
    kiln_err_clear(&e2);
    int rc1 = kiln_payload_pprof(pl, &p, &e1);
    int rc2 = kiln_payload_pprof(pl, &p, &e2);
    CHECK(rc1 != KILN_OK);
    CHECK_EQ_INT(rc1, rc2);
    CHECK(e1.msg[0] != 0);
    CHECK_EQ_STR(e1.msg, e2.msg);
    kiln_payload_unref(pl);
    /* a JFR payload cannot be decoded as pprof: said so, not crashed */
    kiln_payload *j = kiln_payload_from_bytes(KILN_FMT_JFR, junk, sizeof junk, 1, NULL, NULL);
    CHECK_EQ_INT(kiln_payload_pprof(j, &p, &e1), KILN_EUNPROC);
    CHECK_CONTAINS(e1.msg, "jfr");
    kiln_payload_unref(j);
}

static void t_model_payload_encodes(void)
{
    kiln_payload *src = corpus_payload("pprof__sample.cpu.pb.gz");
    CHECK(src != NULL);
    if (!src) return;
    const kiln_pprof *p;
    kiln_err err;
    CHECK_EQ_INT(kiln_payload_pprof(src, &p, &err), KILN_OK);
    /* a payload made from a model: bytes are produced on demand and decode equal */
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *merged;
    kiln_pprof *const in[1] = {(kiln_pprof *)p};
    CHECK_EQ_INT(kiln_pprof_merge(a, in, 1, &merged, &err), KILN_OK);
    kiln_payload *m = kiln_payload_from_pprof(a, merged);
    const uint8_t *bytes;
    size_t len;
    int gz = 0;
    CHECK_EQ_INT(kiln_payload_bytes(m, &bytes, &len, &gz, &err), KILN_OK);
    CHECK(gz == 1 && len > 100);
    kiln_payload *back = kiln_payload_from_bytes(KILN_FMT_PPROF, (uint8_t *)bytes, len, 1, NULL, NULL);
    const kiln_pprof *q;
    CHECK_EQ_INT(kiln_payload_pprof(back, &q, &err), KILN_OK);
    long long s1 = 0, s2 = 0;
    for (size_t i = 0; i < p->n_sample; i++) s1 += p->sample[i]->value[1];
    for (size_t i = 0; i < q->n_sample; i++) s2 += q->sample[i]->value[1];
    CHECK_EQ_INT(s1, s2);
    kiln_payload_unref(back);
    kiln_payload_unref(m);
    kiln_payload_unref(src);
}

int main(void)
{
    RUN(t_lazy_forms);
    RUN(t_concurrent_decode_once);
    RUN(t_errors_cached);
    RUN(t_model_payload_encodes);
    return test_summary();
}
