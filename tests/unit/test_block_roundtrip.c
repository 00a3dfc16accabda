/* tests/unit/test_block_roundtrip.c — corpus profiles through a head into a
 * block on the filesystem store and back through the reader: for every
 * sample type, the per-function flat and cum totals of the profile rebuilt
 * from the block (kiln_block_to_pprof) equal those computed by
 * kiln_pprof_top on the decoded input; counts in meta.json; series labels
 * as Pyroscope forms them; label matchers; time ranges; head views.
 */
#include "test_block_util.h"

static const char *const files[] = {
    "pprof__sample.cpu.pb.gz",          "pprof__large.cpu.pb.gz",
    "parca__alloc_objects.pb.gz",       "parca__profile-with-labels.pb.gz",
    "parca__normal-cpu.stripped.pprof.gz", "pprof__go.nomappings.crash.pb.gz",
    "parca__normalizer_profile.pb.gz",  "parca__fgprof.pb.gz",
    "parca__labels.pb.gz",              "pyroscope-io__cpu.pprof.gz",
    "parca__node-profile.pb.gz",        "pprof__cppbench.cpu_no_samples_type.pb.gz",
};

/* Writes `copies` copies of a corpus profile (times 1s apart) as one block;
 * returns the block's meta through *m. */
static int write_block(bt_store *s, const char *tenant, const kiln_pprof *p, int copies,
                       kiln_block_meta *m)
{
    kiln_head *h;
    kiln_err err;
    if (kiln_head_new(tenant, NULL, 1700000000000000000LL, &h, &err) != KILN_OK) return -1;
    kiln_labels ls = KILN_LABELS_INIT;
    bt_labels(&ls, "svc", "process_cpu");
    kiln_labels_set(&ls, "__delta__", "false");
    kiln_labels_set(&ls, "env", "prod");
    int rc = 0;
    for (int i = 0; i < copies && !rc; i++)
        if (kiln_head_append(h, &ls, 1700000000000000000LL + i * 1000000000LL, 10000000000LL, p,
                             &err) != KILN_OK) {
            fprintf(stderr, "append: %s\n", err.msg);
            rc = -1;
        }
    int empty = 0;
    memset(m, 0, sizeof *m);
    if (!rc && kiln_head_write_block(h, s->os, s->tmp, m, &empty, &err) != KILN_OK) {
        fprintf(stderr, "write: %s\n", err.msg);
        rc = -1;
    }
    kiln_labels_free(&ls);
    kiln_head_free(h);
    return rc;
}

/* For every sample type of p: select its series and compare tops. */
static void check_types(kiln_block *b, const kiln_pprof *p, int64_t mult, const char *name)
{
    for (size_t k = 0; k < p->n_sample_type; k++) {
        char ptid[512];
        const char *pt = p->period_type ? bt_str(p, p->period_type->type) : "";
        const char *pu = p->period_type ? bt_str(p, p->period_type->unit) : "";
        snprintf(ptid, sizeof ptid, "process_cpu:%s:%s:%s:%s", bt_str(p, p->sample_type[k]->type),
                 bt_str(p, p->sample_type[k]->unit), pt, pu);
        uint32_t *ids;
        size_t n = bt_select_eq(b, KILN_LABEL_PROFILE_TYPE, ptid, &ids);
        int64_t total = 0;
        for (size_t i = 0; i < p->n_sample; i++) total += p->sample[i]->value[k] != 0;
        if (total == 0) {
            /* a type without non-zero values still has a series (empty profiles) */
            free(ids);
            continue;
        }
        CHECK(n >= 1);
        kiln_arena *a = kiln_arena_new(0);
        kiln_pprof *q = NULL;
        kiln_err err;
        int rc = kiln_block_to_pprof(b, ids, n, INT64_MIN, INT64_MAX, a, &q, &err);
        if (rc != KILN_OK) fprintf(stderr, "%s: to_pprof: %s\n", name, err.msg);
        CHECK_EQ_INT(rc, KILN_OK);
        if (rc == KILN_OK) {
            char what[600];
            snprintf(what, sizeof what, "%s %s", name, ptid);
            CHECK_EQ_INT(bt_top_equal(p, k, mult, q, 0, what), 0);
            CHECK_EQ_STR(bt_str(q, q->sample_type[0]->type), bt_str(p, p->sample_type[k]->type));
        }
        kiln_arena_destroy(a);
        free(ids);
    }
}

static void t_corpus_roundtrip(void)
{
    bt_store s;
    CHECK(bt_open(&s) == 0);
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        kiln_arena *a = kiln_arena_new(0);
        kiln_pprof *p = bt_load(a, files[f]);
        CHECK(p != NULL);
        if (!p) {
            kiln_arena_destroy(a);
            continue;
        }
        char tenant[64];
        snprintf(tenant, sizeof tenant, "t%zu", f);
        kiln_block_meta m;
        CHECK(write_block(&s, tenant, p, 3, &m) == 0);
        kiln_blocks_list l;
        CHECK(bt_list(s.os, tenant, &l) == 0);
        CHECK_EQ_INT(l.n, 1);
        if (l.n == 1) {
            CHECK(l.visible[0]);
            CHECK_EQ_STR(l.v[0].id, m.id);
            CHECK_EQ_INT(l.v[0].level, 1);
            CHECK_EQ_INT(l.v[0].n_sources, 1);
            kiln_err err;
            int vr = kiln_block_verify(s.os, &l.v[0], &err);
            if (vr != KILN_OK) fprintf(stderr, "verify %s: %s\n", files[f], err.msg);
            CHECK_EQ_INT(vr, KILN_OK);
            /* three copies: every series holds 3 profiles */
            CHECK_EQ_INT(l.v[0].n_profiles, 3 * l.v[0].n_series);
            CHECK_EQ_INT(l.v[0].min_time_ns, 1700000000000000000LL);
            CHECK_EQ_INT(l.v[0].max_time_ns, 1700000002000000000LL);
            kiln_block *b;
            int orc = kiln_block_open(s.os, &l.v[0], &b, &err);
            CHECK_EQ_INT(orc, KILN_OK);
            if (orc == KILN_OK) {
                check_types(b, p, 3, files[f]);
                /* the head view of the same data answers the same */
                kiln_block_close(b);
            }
        }
        kiln_blocks_list_free(&l);
        kiln_block_meta_free(&m);
        kiln_arena_destroy(a);
    }
    bt_cleanup(&s);
}

static void t_head_view_matches(void)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = bt_load(a, "parca__alloc_objects.pb.gz");
    CHECK(p != NULL);
    kiln_head *h;
    kiln_err err;
    CHECK_EQ_INT(kiln_head_new("t", NULL, 1, &h, &err), KILN_OK);
    kiln_labels ls = KILN_LABELS_INIT;
    bt_labels(&ls, "svc", "process_cpu");
    for (int i = 0; i < 2; i++) CHECK_EQ_INT(kiln_head_append(h, &ls, 1000 + i, 0, p, &err), KILN_OK);
    kiln_block *v;
    CHECK_EQ_INT(kiln_head_open_view(h, &v, &err), KILN_OK);
    CHECK_EQ_INT(kiln_block_series_count(v), 4);
    check_types(v, p, 2, "head view");
    /* time ranges: [1001, 1002) holds the second profile only */
    uint32_t *ids;
    size_t n = bt_select_eq(v, KILN_LABEL_TYPE, "inuse_space", &ids);
    CHECK_EQ_INT(n, 1);
    kiln_block_samples smp;
    CHECK_EQ_INT(kiln_block_read_samples(v, ids[0], 1001, 1002, 1, &smp, &err), KILN_OK);
    CHECK_EQ_INT(smp.n_profiles, 1);
    CHECK_EQ_INT(smp.time_ns[0], 1001);
    kiln_block_samples_free(&smp);
    free(ids);
    kiln_block_close(v);
    kiln_head_free(h);
    kiln_labels_free(&ls);
    kiln_arena_destroy(a);
}

static void t_series_labels_and_matchers(void)
{
    bt_store s;
    CHECK(bt_open(&s) == 0);
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = bt_load(a, "pprof__sample.cpu.pb.gz");
    kiln_head *h;
    kiln_err err;
    CHECK_EQ_INT(kiln_head_new("anonymous", NULL, 1, &h, &err), KILN_OK);
    const char *svcs[] = {"api", "web", "db"};
    for (int i = 0; i < 3; i++) {
        kiln_labels ls = KILN_LABELS_INIT;
        kiln_labels_set(&ls, "service_name", svcs[i]);
        kiln_labels_set(&ls, "__name__", "process_cpu");
        kiln_labels_set(&ls, "__delta__", "false");
        if (i < 2) kiln_labels_set(&ls, "env", i ? "prod-eu" : "prod-us");
        for (int t = 0; t < 4; t++)
            CHECK_EQ_INT(kiln_head_append(h, &ls, (int64_t)(t + 1) * 15000000000LL, 0, p, &err), KILN_OK);
        kiln_labels_free(&ls);
    }
    kiln_block_meta m;
    memset(&m, 0, sizeof m);
    int empty;
    CHECK_EQ_INT(kiln_head_write_block(h, s.os, s.tmp, &m, &empty, &err), KILN_OK);
    CHECK_EQ_INT(m.n_series, 6);    /* 3 services x 2 sample types */
    CHECK_EQ_INT(m.n_profiles, 24); /* x 4 profiles */
    kiln_head_free(h);
    kiln_block *b;
    CHECK_EQ_INT(kiln_block_open(s.os, &m, &b, &err), KILN_OK);
    /* the labels of one series, as Pyroscope forms them */
    uint32_t *ids;
    size_t n = bt_select_eq(b, "service_name", "api", &ids);
    CHECK_EQ_INT(n, 2);
    if (n) {
        CHECK_EQ_STR(kiln_block_series_label(b, ids[0], "__name__"), "process_cpu");
        CHECK(kiln_block_series_label(b, ids[0], "__delta__") == NULL);
        CHECK_EQ_STR(kiln_block_series_label(b, ids[0], "env"), "prod-us");
        const char *pt = kiln_block_series_label(b, ids[0], KILN_LABEL_PROFILE_TYPE);
        CHECK(pt && (!strcmp(pt, "process_cpu:cpu:nanoseconds:cpu:nanoseconds") ||
                     !strcmp(pt, "process_cpu:samples:count:cpu:nanoseconds")));
        CHECK_EQ_STR(kiln_block_series_label(b, ids[0], KILN_LABEL_PERIOD_TYPE), "cpu");
    }
    free(ids);
    struct {
        kiln_block_matcher m[2];
        size_t n;
        size_t want;
    } cases[] = {
        {{{"env", KILN_MATCH_EQ, "", NULL, NULL}}, 1, 2},                  /* db has no env */
        {{{"env", KILN_MATCH_NEQ, "prod-us", NULL, NULL}}, 1, 4},
        {{{"env", KILN_MATCH_RE, "prod-.*", NULL, NULL}}, 1, 4},
        {{{"env", KILN_MATCH_RE, "prod", NULL, NULL}}, 1, 0},              /* anchored */
        {{{"env", KILN_MATCH_NRE, "prod-e.*", NULL, NULL}}, 1, 4},
        {{{"service_name", KILN_MATCH_RE, "api|db", NULL, NULL},
          {KILN_LABEL_TYPE, KILN_MATCH_EQ, "cpu", NULL, NULL}}, 2, 2},
        {{{"nope", KILN_MATCH_EQ, "x", NULL, NULL}}, 1, 0},
        {{{"nope", KILN_MATCH_NEQ, "x", NULL, NULL}}, 1, 6},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t got = 99;
        CHECK_EQ_INT(kiln_block_select(b, cases[c].m, cases[c].n, INT64_MIN, INT64_MAX, &ids, &got, &err), KILN_OK);
        if (got != cases[c].want) fprintf(stderr, "matcher case %zu: %zu series\n", c, got);
        CHECK_EQ_INT(got, cases[c].want);
        free(ids);
    }
    /* time filter on select and on samples: [30s, 45s) holds one profile per series */
    kiln_block_matcher all = {"service_name", KILN_MATCH_EQ, "web", NULL, NULL};
    CHECK_EQ_INT(kiln_block_select(b, &all, 1, 30000000000LL, 45000000000LL, &ids, &n, &err), KILN_OK);
    CHECK_EQ_INT(n, 2);
    kiln_block_samples smp;
    CHECK_EQ_INT(kiln_block_read_samples(b, ids[0], 30000000000LL, 45000000000LL, 0, &smp, &err), KILN_OK);
    CHECK_EQ_INT(smp.n_profiles, 1);
    CHECK_EQ_INT(smp.time_ns[0], 30000000000LL);
    kiln_block_samples_free(&smp);
    free(ids);
    CHECK_EQ_INT(kiln_block_select(b, &all, 1, 61000000000LL, INT64_MAX, &ids, &n, &err), KILN_OK);
    CHECK_EQ_INT(n, 0);
    free(ids);
    const char **vals;
    CHECK_EQ_INT(kiln_block_label_values(b, "service_name", &vals, &n, &err), KILN_OK);
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        CHECK_EQ_STR(vals[0], "api");
        CHECK_EQ_STR(vals[2], "web");
    }
    free(vals);
    CHECK_EQ_INT(kiln_block_label_names(b, &vals, &n, &err), KILN_OK);
    int has_pt = 0;
    for (size_t i = 0; i < n; i++) has_pt |= !strcmp(vals[i], KILN_LABEL_PROFILE_TYPE);
    CHECK(has_pt);
    free(vals);
    kiln_block_close(b);
    kiln_block_meta_free(&m);
    kiln_arena_destroy(a);
    bt_cleanup(&s);
}

int main(void)
{
    RUN(t_corpus_roundtrip);
    RUN(t_head_view_matches);
    RUN(t_series_labels_and_matchers);
    return test_summary();
}
