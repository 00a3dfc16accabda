/* tests/unit/test_pprof_merge.c — kiln_pprof_merge against google/pprof's
 * profile.Merge.
 *
 * - the ten parca__many_* heap profiles merged: totals and per-function flat
 *   and cum of alloc_space equal expected/parca__many_MERGED.top.alloc_space.txt
 *   (go tool pprof's output, compared in its display unit), and the merged
 *   profile equals pprof's own merge (expected/parca__many_MERGED_by_go1.19_
 *   pprof.pb.gz, written by `go tool pprof -proto`) in: sample, location,
 *   function and mapping counts, exact per-stack sums (stacks by function
 *   names) and exact per-function flat/cum for every sample type;
 * - merge order does not change the sums; a merged profile survives encode and
 *   decode; merging a profile with itself doubles every value;
 * - crafted cases for each rule: address shift between mappings of the same
 *   binary (ASLR), fake mappings, labels (order, grouping, empty labels),
 *   all-zero samples and samples that cancel (compaction), header merging,
 *   incompatible sample and period types.
 */
#include "test_pprof_util.h"

static const char *const many[] = {
    "parca__many_1644509272337470000.pb.gz", "parca__many_1644509275338070000.pb.gz",
    "parca__many_1644509278338696000.pb.gz", "parca__many_1644509281339135000.pb.gz",
    "parca__many_1644509284338649000.pb.gz", "parca__many_1644509287338709000.pb.gz",
    "parca__many_1644509290338056000.pb.gz", "parca__many_1644509293338714000.pb.gz",
    "parca__many_1644509296350592000.pb.gz", "parca__many_1644509299337903000.pb.gz"};
#define N_MANY 10

static int load_many(kiln_arena *a, kiln_pprof **in, int reverse)
{
    for (int i = 0; i < N_MANY; i++) {
        in[i] = load_corpus(a, many[reverse ? N_MANY - 1 - i : i]);
        if (!in[i]) return -1;
    }
    return 0;
}

static void check_same_folded(const kiln_pprof *x, const kiln_pprof *y, size_t si, const char *what)
{
    folded fx = {0}, fy = {0};
    fold_profile(x, si, &fx);
    fold_profile(y, si, &fy);
    if (fx.n != fy.n) test_fail(__FILE__, __LINE__, "%s[%zu]: %zu stacks vs %zu", what, si, fx.n, fy.n);
    size_t bad = 0;
    for (size_t i = 0; i < fx.n; i++) {
        size_t j = 0;
        while (j < fy.n && strcmp(fx.lines[i], fy.lines[j])) j++;
        if (j == fy.n || fx.vals[i] != fy.vals[j])
            if (bad++ < 3)
                test_fail(__FILE__, __LINE__, "%s[%zu]: stack %s: %lld vs %lld", what, si, fx.lines[i],
                          (long long)fx.vals[i], j < fy.n ? (long long)fy.vals[j] : -1LL);
    }
    folded_free(&fx);
    folded_free(&fy);
}

static void check_same_top(const kiln_pprof *x, const kiln_pprof *y, size_t si, const char *what)
{
    kiln_pprof_fn_total *tx, *ty;
    size_t nx, ny;
    int64_t sx, sy;
    kiln_err e = {0};
    CHECK_EQ_INT(kiln_pprof_top(x, si, &tx, &nx, &sx, &e), KILN_OK);
    CHECK_EQ_INT(kiln_pprof_top(y, si, &ty, &ny, &sy, &e), KILN_OK);
    CHECK_EQ_INT(sx, sy);
    CHECK_EQ_INT(nx, ny);
    for (size_t i = 0; i < nx && i < ny; i++) {
        /* same sort order, so the rows line up */
        if (strcmp(tx[i].name, ty[i].name) || tx[i].flat != ty[i].flat || tx[i].cum != ty[i].cum) {
            test_fail(__FILE__, __LINE__, "%s[%zu] row %zu: %s %lld/%lld vs %s %lld/%lld", what, si, i,
                      tx[i].name, (long long)tx[i].flat, (long long)tx[i].cum, ty[i].name,
                      (long long)ty[i].flat, (long long)ty[i].cum);
            break;
        }
    }
    free(tx);
    free(ty);
}

static void t_many(void)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *in[N_MANY], *m = NULL;
    CHECK_EQ_INT(load_many(a, in, 0), 0);
    kiln_err e = {0};
    CHECK_EQ_INT(kiln_pprof_merge(a, in, N_MANY, &m, &e), KILN_OK);
    if (!m) goto out;
    CHECK_EQ_INT(kiln_pprof_validate(m, &e), KILN_OK);
    check_top_profile(m, "parca__many_MERGED.top.alloc_space.txt", __LINE__);

    kiln_pprof *ref = load_corpus(a, "expected/parca__many_MERGED_by_go1.19_pprof.pb.gz");
    CHECK(ref != NULL);
    if (!ref) goto out;
    fprintf(stderr, "  kiln merge: S=%zu L=%zu F=%zu M=%zu; pprof: S=%zu L=%zu F=%zu M=%zu\n", m->n_sample,
            m->n_location, m->n_function, m->n_mapping, ref->n_sample, ref->n_location, ref->n_function,
            ref->n_mapping);
    CHECK_EQ_INT(m->n_sample, ref->n_sample);
    CHECK_EQ_INT(m->n_location, ref->n_location);
    CHECK_EQ_INT(m->n_function, ref->n_function);
    CHECK_EQ_INT(m->n_mapping, ref->n_mapping);
    CHECK_EQ_INT(m->n_sample_type, 4);
    char why[256];
    for (size_t si = 0; si < m->n_sample_type; si++) {
        CHECK_EQ_STR(m->string_table[m->sample_type[si]->type], ref->string_table[ref->sample_type[si]->type]);
        check_same_folded(m, ref, si, "many vs pprof");
        check_same_top(m, ref, si, "many vs pprof");
    }
    CHECK_EQ_INT(m->period, ref->period);
    CHECK_EQ_STR(m->string_table[m->period_type->type], "space");
    CHECK_EQ_INT(m->time_nanos, ref->time_nanos); /* the earliest */
    CHECK_EQ_INT(m->time_nanos, in[0]->time_nanos);
    /* as pprof: the sum of the durations (compared with pprof's own output) */
    int64_t dsum = 0;
    for (int i = 0; i < N_MANY; i++) dsum += in[i]->duration_nanos;
    CHECK_EQ_INT(m->duration_nanos, dsum);
    CHECK_EQ_INT(m->duration_nanos, ref->duration_nanos);

    /* the merged profile survives the wire */
    uint8_t *buf;
    size_t n;
    CHECK_EQ_INT(kiln_pprof_encode(m, 6, &buf, &n, &e), KILN_OK);
    kiln_pprof *back = NULL;
    CHECK_EQ_INT(kiln_pprof_decode(a, buf, n, NULL, &back, &e), KILN_OK);
    CHECK(back && kiln_pprof_equal(m, back, why, sizeof why));
    free(buf);

    /* another order: other ids, same sums */
    kiln_pprof *rin[N_MANY], *rm = NULL;
    CHECK_EQ_INT(load_many(a, rin, 1), 0);
    CHECK_EQ_INT(kiln_pprof_merge(a, rin, N_MANY, &rm, &e), KILN_OK);
    if (rm) {
        CHECK_EQ_INT(rm->n_sample, m->n_sample);
        for (size_t si = 0; si < 4; si++) {
            check_same_folded(m, rm, si, "many vs reversed");
            check_same_top(m, rm, si, "many vs reversed");
        }
    }
    /* merging the merge with nothing else changes nothing but ids */
    kiln_pprof *again = NULL;
    CHECK_EQ_INT(kiln_pprof_merge(a, &m, 1, &again, &e), KILN_OK);
    CHECK(again && kiln_pprof_equal(m, again, why, sizeof why));
out:
    kiln_arena_destroy(a);
}

static void t_self_merge_doubles(void)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = load_corpus(a, "pprof__large.cpu.pb.gz"), *m = NULL, *single = NULL;
    CHECK(p != NULL);
    if (!p) goto out;
    kiln_pprof *in[3] = {p, p, p};
    kiln_err e = {0};
    CHECK_EQ_INT(kiln_pprof_merge(a, in, 1, &single, &e), KILN_OK);
    CHECK_EQ_INT(kiln_pprof_merge(a, in, 3, &m, &e), KILN_OK);
    if (!m || !single) goto out;
    /* merging a profile with itself: same tables, values tripled */
    CHECK_EQ_INT(m->n_sample, single->n_sample);
    CHECK_EQ_INT(m->n_location, single->n_location);
    CHECK_EQ_INT(m->n_function, single->n_function);
    int ok = 1;
    for (size_t i = 0; i < m->n_sample; i++)
        for (size_t j = 0; j < m->n_sample_type; j++) ok &= m->sample[i]->value[j] == 3 * single->sample[i]->value[j];
    CHECK(ok);
    kiln_pprof_fn_total *t1, *t3;
    size_t n1, n3;
    int64_t s1, s3;
    CHECK_EQ_INT(kiln_pprof_top(p, 1, &t1, &n1, &s1, &e), KILN_OK);
    CHECK_EQ_INT(kiln_pprof_top(m, 1, &t3, &n3, &s3, &e), KILN_OK);
    CHECK_EQ_INT(s3, 3 * s1);
    CHECK_EQ_INT(s1, 240290000000LL); /* "Total samples = 240.29s" */
    CHECK_EQ_INT(n1, n3);
    CHECK_EQ_INT(n1, 23038); /* "Showing top 30 nodes out of 23038" */
    free(t1);
    free(t3);
    CHECK_EQ_INT(m->period, p->period);
out:
    kiln_arena_destroy(a);
}

/* ---- crafted cases ---------------------------------------------------------------- */

static kiln_pprof *heap(kiln_arena *a, uint64_t map_start, int64_t t, int64_t d)
{
    kiln_pprof *p = tb_new(a);
    tb_type(a, p, "alloc_space", "bytes");
    p->period_type = tb_vt(a, p, "space", "bytes");
    p->period = 524288;
    p->time_nanos = t;
    p->duration_nanos = d;
    return p;
}

static void t_mapping_shift(void)
{
    kiln_arena *a = kiln_arena_new(0);
    /* the same binary loaded at two addresses; unsymbolized frames */
    kiln_pprof *x = heap(a, 0, 100, 10), *y = heap(a, 0, 50, 10);
    tb_map(a, x, 1, 0x400000, 0x500000, 0, "/bin/app", "b1");
    tb_map(a, x, 2, 0x7f0000, 0x7f1000, 0, "/lib/libc.so", "");
    tb_loc(a, x, 1, 1, 0x401234, 0, NULL);
    tb_loc(a, x, 2, 2, 0x7f0010, 0, NULL);
    tb_sample(a, x, 2, (uint64_t[]){2, 1}, 1, (int64_t[]){10});
    /* y: libc first (mapping[0] of x stays mapping[0]), app moved by +0x100000,
     * size 0xff000 rounds up to the same 4 KiB key */
    tb_map(a, y, 5, 0x6f0000, 0x6f1000, 0, "/lib/libc.so", "");
    tb_map(a, y, 6, 0x500000, 0x5ff001, 0, "/other/path/app", "b1");
    tb_loc(a, y, 1, 6, 0x501234, 0, NULL);
    tb_loc(a, y, 2, 5, 0x6f0010, 0, NULL);
    tb_loc(a, y, 3, 6, 0x501238, 0, NULL);
    tb_sample(a, y, 2, (uint64_t[]){2, 1}, 1, (int64_t[]){5});
    tb_sample(a, y, 1, (uint64_t[]){3}, 1, (int64_t[]){1});
    kiln_pprof *in[2] = {x, y}, *m = NULL;
    kiln_err e = {0};
    CHECK_EQ_INT(kiln_pprof_merge(a, in, 2, &m, &e), KILN_OK);
    if (m) {
        CHECK_EQ_INT(m->n_mapping, 2);
        CHECK_EQ_STR(m->string_table[m->mapping[0]->filename], "/bin/app");
        CHECK_EQ_INT(m->mapping[0]->memory_start, 0x400000);
        CHECK_EQ_INT(m->n_location, 3);
        CHECK_EQ_INT(m->location[2]->address, 0x401238); /* y's 0x501238 shifted */
        CHECK_EQ_INT(m->location[2]->mapping_id, 1);
        CHECK_EQ_INT(m->n_sample, 2);
        CHECK_EQ_INT(m->sample[0]->value[0], 15);
        CHECK_EQ_INT(m->sample[1]->value[0], 1);
        CHECK_EQ_INT(m->time_nanos, 50);
        CHECK_EQ_INT(m->duration_nanos, 20); /* 10 + 10, as pprof sums */
        CHECK_EQ_INT(kiln_pprof_validate(m, &e), KILN_OK);
    }
    /* fake mappings (no file, no build id) merge together; a different size does not */
    kiln_pprof *f1 = heap(a, 0, 0, 3), *f2 = heap(a, 0, 0, 4);
    tb_map(a, f1, 1, 0x1000, 0x2000, 0, "", "");
    tb_map(a, f2, 1, 0x9000, 0xa000, 0, "", "");
    tb_map(a, f2, 2, 0x9000, 0xb000, 0, "", "");
    tb_loc(a, f1, 1, 1, 0x1010, 0, NULL);
    tb_loc(a, f2, 1, 1, 0x9010, 0, NULL);
    tb_loc(a, f2, 2, 2, 0x9010, 0, NULL);
    tb_sample(a, f1, 1, (uint64_t[]){1}, 1, (int64_t[]){1});
    tb_sample(a, f2, 1, (uint64_t[]){1}, 1, (int64_t[]){2});
    tb_sample(a, f2, 1, (uint64_t[]){2}, 1, (int64_t[]){4});
    kiln_pprof *fin[2] = {f1, f2};
    CHECK_EQ_INT(kiln_pprof_merge(a, fin, 2, &m, &e), KILN_OK);
    if (m) {
        CHECK_EQ_INT(m->n_mapping, 2);
        CHECK_EQ_INT(m->n_sample, 2);
        CHECK_EQ_INT(m->sample[0]->value[0], 3);
        CHECK_EQ_INT(m->sample[1]->value[0], 4);
        CHECK_EQ_INT(m->time_nanos, 0);
        CHECK_EQ_INT(m->duration_nanos, 7); /* no times: durations are summed */
    }
    kiln_arena_destroy(a);
}

static void t_functions_and_locations(void)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *x = heap(a, 0, 1, 0), *y = heap(a, 0, 2, 0);
    /* same function under other ids and string indices: one function */
    tb_str(a, y, "padding");
    tb_func(a, x, 1, "f", "f.go", 3);
    tb_func(a, y, 8, "f", "f.go", 3);
    tb_func(a, y, 9, "f", "f.go", 4); /* other start line: another function */
    tb_loc(a, x, 1, 0, 0x10, 1, (int64_t[]){1, 5});
    tb_loc(a, y, 4, 0, 0x10, 1, (int64_t[]){8, 5}); /* same location */
    tb_loc(a, y, 5, 0, 0x10, 1, (int64_t[]){8, 6}); /* other line */
    tb_loc(a, y, 6, 0, 0x10, 1, (int64_t[]){9, 5}); /* other function */
    tb_loc(a, y, 7, 0, 0x14, 1, (int64_t[]){8, 5}); /* other address */
    tb_loc(a, y, 3, 0, 0x10, 2, (int64_t[]){8, 5, 8, 5}); /* inlined twice: other location */
    tb_sample(a, x, 1, (uint64_t[]){1}, 1, (int64_t[]){1});
    for (uint64_t l = 3; l <= 7; l++) tb_sample(a, y, 1, (uint64_t[]){l}, 1, (int64_t[]){(int64_t)(l * 10)});
    kiln_pprof *in[2] = {x, y}, *m = NULL;
    kiln_err e = {0};
    CHECK_EQ_INT(kiln_pprof_merge(a, in, 2, &m, &e), KILN_OK);
    if (m) {
        CHECK_EQ_INT(m->n_function, 2);
        CHECK_EQ_INT(m->n_location, 5);
        CHECK_EQ_INT(m->n_sample, 5);
        CHECK_EQ_INT(m->sample[0]->value[0], 1 + 40); /* x's loc 1 == y's loc 4 */
        CHECK_EQ_INT(m->function[0]->id, 1);
        CHECK_EQ_INT(m->function[1]->start_line, 4);
        CHECK_EQ_INT(kiln_pprof_validate(m, &e), KILN_OK);
    }
    kiln_arena_destroy(a);
}

static void t_labels_and_zero(void)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *x = heap(a, 0, 5, 0);
    tb_func(a, x, 1, "f", "f.go", 1);
    tb_func(a, x, 2, "g", "g.go", 1);
    tb_loc(a, x, 1, 0, 0, 1, (int64_t[]){1, 1});
    tb_loc(a, x, 2, 0, 0, 1, (int64_t[]){2, 1});
    kiln_pprof_sample *s;
    s = tb_sample(a, x, 1, (uint64_t[]){1}, 1, (int64_t[]){1});
    tb_label(a, x, s, "span", "a", 0, NULL);
    tb_label(a, x, s, "thread", "t1", 0, NULL);
    s = tb_sample(a, x, 1, (uint64_t[]){1}, 1, (int64_t[]){2}); /* same labels, other order */
    tb_label(a, x, s, "thread", "t1", 0, NULL);
    tb_label(a, x, s, "span", "a", 0, NULL);
    tb_label(a, x, s, "empty", NULL, 0, NULL); /* dropped, as pprof's decoder drops it */
    s = tb_sample(a, x, 1, (uint64_t[]){1}, 1, (int64_t[]){4}); /* other label value */
    tb_label(a, x, s, "span", "b", 0, NULL);
    tb_label(a, x, s, "thread", "t1", 0, NULL);
    s = tb_sample(a, x, 1, (uint64_t[]){1}, 1, (int64_t[]){8}); /* two values of one key, swapped */
    tb_label(a, x, s, "k", "v1", 0, NULL);
    tb_label(a, x, s, "k", "v2", 0, NULL);
    s = tb_sample(a, x, 1, (uint64_t[]){1}, 1, (int64_t[]){16});
    tb_label(a, x, s, "k", "v2", 0, NULL);
    tb_label(a, x, s, "k", "v1", 0, NULL);
    s = tb_sample(a, x, 1, (uint64_t[]){1}, 1, (int64_t[]){32}); /* numeric, units matter */
    tb_label(a, x, s, "bytes", NULL, 64, "bytes");
    s = tb_sample(a, x, 1, (uint64_t[]){1}, 1, (int64_t[]){64});
    tb_label(a, x, s, "bytes", NULL, 64, "bytes");
    s = tb_sample(a, x, 1, (uint64_t[]){1}, 1, (int64_t[]){128});
    tb_label(a, x, s, "bytes", NULL, 64, "");
    tb_sample(a, x, 1, (uint64_t[]){2}, 1, (int64_t[]){0}); /* all zero: skipped */
    kiln_pprof *m = NULL;
    kiln_err e = {0};
    CHECK_EQ_INT(kiln_pprof_merge(a, &x, 1, &m, &e), KILN_OK);
    if (m) {
        CHECK_EQ_INT(m->n_sample, 6);
        CHECK_EQ_INT(m->sample[0]->value[0], 3);
        CHECK_EQ_INT(m->sample[0]->n_label, 2);
        CHECK_EQ_INT(m->sample[1]->value[0], 4);
        CHECK_EQ_INT(m->sample[2]->value[0], 8);
        CHECK_EQ_INT(m->sample[3]->value[0], 16);
        CHECK_EQ_INT(m->sample[4]->value[0], 96);
        CHECK_EQ_STR(m->string_table[m->sample[4]->label[0]->num_unit], "bytes");
        CHECK_EQ_INT(m->sample[4]->label[0]->num, 64);
        CHECK_EQ_INT(m->sample[5]->value[0], 128);
        CHECK_EQ_INT(m->n_function, 1); /* g only had a zero sample */
        CHECK_EQ_INT(m->n_location, 1);
    }
    /* samples that cancel out are dropped and the tables compacted */
    kiln_pprof *neg = heap(a, 0, 5, 0);
    tb_map(a, neg, 1, 0x1000, 0x2000, 0, "/bin/main", "");
    tb_map(a, neg, 2, 0x3000, 0x4000, 0, "/lib/only-in-g", "");
    tb_func(a, neg, 1, "f", "f.go", 1);
    tb_func(a, neg, 2, "g", "g.go", 1);
    tb_loc(a, neg, 1, 2, 0x3000, 1, (int64_t[]){2, 1});
    tb_loc(a, neg, 2, 1, 0x1000, 1, (int64_t[]){1, 1});
    tb_sample(a, neg, 1, (uint64_t[]){1}, 1, (int64_t[]){-7});
    tb_sample(a, neg, 1, (uint64_t[]){2}, 1, (int64_t[]){3});
    kiln_pprof *pos = heap(a, 0, 5, 0);
    tb_map(a, pos, 1, 0x3000, 0x4000, 0, "/lib/only-in-g", "");
    tb_func(a, pos, 1, "g", "g.go", 1);
    tb_loc(a, pos, 1, 1, 0x3000, 1, (int64_t[]){1, 1});
    tb_sample(a, pos, 1, (uint64_t[]){1}, 1, (int64_t[]){7});
    kiln_pprof *in2[2] = {neg, pos};
    CHECK_EQ_INT(kiln_pprof_merge(a, in2, 2, &m, &e), KILN_OK);
    if (m) {
        CHECK_EQ_INT(m->n_sample, 1);
        CHECK_EQ_INT(m->sample[0]->value[0], 3);
        CHECK_EQ_INT(m->n_location, 1);
        CHECK_EQ_INT(m->location[0]->id, 1);
        CHECK_EQ_INT(m->n_function, 1);
        CHECK_EQ_STR(m->string_table[m->function[0]->name], "f");
        CHECK_EQ_INT(m->n_mapping, 1); /* mapping[0] stays; the unreferenced one goes */
        CHECK_EQ_STR(m->string_table[m->mapping[0]->filename], "/bin/main");
        CHECK_EQ_INT(kiln_pprof_validate(m, &e), KILN_OK);
    }
    kiln_arena_destroy(a);
}

static void t_headers_and_errors(void)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *x = tb_example(a), *y = tb_example(a), *z = tb_example(a), *m = NULL;
    x->time_nanos = 0; /* no time: ignored for the start */
    y->time_nanos = 2000;
    y->duration_nanos = 100;
    z->time_nanos = 1000;
    z->duration_nanos = 50;
    y->period = 20000000;
    x->comment[x->n_comment++] = tb_str(a, x, "first");
    y->comment[y->n_comment++] = tb_str(a, y, "second");
    y->comment[y->n_comment++] = tb_str(a, y, "first");
    y->default_sample_type = tb_str(a, y, "samples");
    z->default_sample_type = tb_str(a, z, "cpu");
    kiln_pprof *in[3] = {x, y, z};
    kiln_err e = {0};
    CHECK_EQ_INT(kiln_pprof_merge(a, in, 3, &m, &e), KILN_OK);
    if (m) {
        CHECK_EQ_INT(m->time_nanos, 1000);
        CHECK_EQ_INT(m->duration_nanos, x->duration_nanos + 150); /* summed, as pprof */
        CHECK_EQ_INT(m->period, 20000000);
        CHECK_EQ_INT(m->n_comment, 2);
        CHECK_EQ_STR(m->string_table[m->comment[0]], "first");
        CHECK_EQ_STR(m->string_table[m->comment[1]], "second");
        CHECK_EQ_STR(m->string_table[m->default_sample_type], "samples");
        CHECK_EQ_INT(m->n_sample, 3);
        CHECK_EQ_INT(m->sample[0]->value[1], 90000000);
        CHECK_EQ_INT(kiln_pprof_validate(m, &e), KILN_OK);
    }
    /* incompatible sample types, period types */
    kiln_pprof *w = tb_example(a);
    w->sample_type[1]->unit = tb_str(a, w, "microseconds");
    kiln_pprof *bad[2] = {x, w};
    CHECK_EQ_INT(kiln_pprof_merge(a, bad, 2, &m, &e), KILN_EINVAL);
    CHECK_CONTAINS(e.msg, "incompatible sample types: profile 1 has [samples/count cpu/microseconds]");
    w = tb_example(a);
    w->n_sample_type = 1;
    CHECK_EQ_INT(kiln_pprof_merge(a, bad, 2, &m, &e), KILN_EINVAL);
    w = tb_example(a);
    bad[1] = w;
    w->period_type = NULL;
    CHECK_EQ_INT(kiln_pprof_merge(a, bad, 2, &m, &e), KILN_EINVAL);
    CHECK_CONTAINS(e.msg, "incompatible period types");
    CHECK_EQ_INT(kiln_pprof_merge(a, bad, 0, &m, &e), KILN_EINVAL);
    /* a dangling reference is an error, not a crash */
    w = tb_example(a);
    w->sample[0]->location_id[0] = 99;
    CHECK_EQ_INT(kiln_pprof_merge(a, &w, 1, &m, &e), KILN_EINVAL);
    CHECK_CONTAINS(e.msg, "location_id[0] 99 not found");
    kiln_arena_destroy(a);
}

int main(void)
{
    RUN(t_many);
    RUN(t_self_merge_doubles);
    RUN(t_mapping_shift);
    RUN(t_functions_and_locations);
    RUN(t_labels_and_zero);
    RUN(t_headers_and_errors);
    return test_summary();
}
