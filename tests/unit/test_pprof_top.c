/* tests/unit/test_pprof_top.c — kiln_pprof_top and kiln_pprof_sample_index
 * against `go tool pprof` (Go 1.19's pprof).
 *
 * How values are compared. The committed outputs in corpus/expected/ print
 * values scaled to one display unit per report ("1.28s", "166.41MB",
 * "118065721"), chosen by pprof from the smallest and largest value. Rather
 * than re-implementing that choice, the test reads the unit pprof used (from
 * the "of X total" line), formats kiln's exact integer in that unit the way
 * pprof does (Go's %.2f, ".00" trimmed) and compares the strings. That is
 * exact to the printed precision, for every printed row (flat and cum) and
 * the total, and also checks that kiln's ordering puts the rows in pprof's
 * order and that kiln has as many nodes as pprof ("out of N" plus "Dropped M").
 * The folded files in expected/ give exact per-stack sums. The exact
 * comparison with a live `go tool pprof` is test_pprof_gotool.c.
 */
#include "test_pprof_util.h"

#include <stdint.h>

static void check_top_file(const char *profile, const char *expected, int line)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = load_corpus(a, profile);
    if (!p)
        test_fail(__FILE__, line, "cannot decode %s", profile);
    else
        check_top_profile(p, expected, line);
    kiln_arena_destroy(a);
}

static void t_expected_top_files(void)
{
    check_top_file("pprof__sample.cpu.pb.gz", "pprof__sample.cpu.pb.gz.top.txt", __LINE__);
    check_top_file("pprof__sample.cpu.pb.gz", "pprof__sample.cpu.pb.gz.top.all_nodes.txt", __LINE__);
    check_top_file("pprof__sample.cpu.pb.gz", "pprof__sample.cpu.pb.gz.top_cum.txt", __LINE__);
    check_top_file("pprof__large.cpu.pb.gz", "pprof__large.cpu.pb.gz.top.nodefraction0.txt", __LINE__);
    check_top_file("pprof__large.cpu.pb.gz", "pprof__large.cpu.pb.gz.top.txt", __LINE__);
    check_top_file("pprof__large.cpu.pb.gz", "pprof__large.cpu.pb.gz.top_cum.txt", __LINE__);
    check_top_file("parca__fib.pb.gz", "parca__fib.pb.gz.top.txt", __LINE__);
    check_top_file("parca__fib.pb.gz", "parca__fib.pb.gz.top_cum.txt", __LINE__);
    check_top_file("parca__profile-with-labels.pb.gz", "parca__profile-with-labels.pb.gz.top.txt", __LINE__);
    check_top_file("parca__profile-with-labels.pb.gz", "parca__profile-with-labels.pb.gz.top_cum.txt",
                   __LINE__);
    check_top_file("parca__normal-cpu.stripped.pprof.gz", "parca__normal-cpu.stripped.pprof.gz.top.txt",
                   __LINE__);
    static const char *const types[] = {"alloc_objects", "alloc_space", "inuse_objects", "inuse_space"};
    for (int i = 0; i < 4; i++) {
        char f[128];
        snprintf(f, sizeof f, "parca__alloc_objects.pb.gz.top.%s.txt", types[i]);
        check_top_file("parca__alloc_objects.pb.gz", f, __LINE__);
    }
}

/* exact per-stack sums */
static void check_folded(const char *profile, const char *type, const char *expected)
{
    char *text = read_expected(expected);
    CHECK(text != NULL);
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = load_corpus(a, profile);
    CHECK(p != NULL);
    if (p && text) {
        int si = kiln_pprof_sample_index(p, type);
        CHECK(si >= 0);
        folded want = {0}, got = {0};
        parse_folded(text, &want);
        fold_profile(p, (size_t)si, &got);
        CHECK(want.n > 0);
        CHECK_EQ_INT(got.n, want.n);
        int64_t sum_w = 0, sum_g = 0;
        for (size_t i = 0; i < want.n; i++) {
            sum_w += want.vals[i];
            size_t j = 0;
            while (j < got.n && strcmp(got.lines[j], want.lines[i])) j++;
            if (j == got.n)
                test_fail(__FILE__, __LINE__, "%s: stack missing: %s", expected, want.lines[i]);
            else if (got.vals[j] != want.vals[i])
                test_fail(__FILE__, __LINE__, "%s: %s: %lld != %lld", expected, want.lines[i],
                          (long long)got.vals[j], (long long)want.vals[i]);
        }
        for (size_t j = 0; j < got.n; j++) sum_g += got.vals[j];
        CHECK_EQ_INT(sum_g, sum_w);
        /* and kiln_pprof_top's total is the same sum */
        kiln_pprof_fn_total *top;
        size_t nt;
        int64_t total;
        kiln_err e;
        CHECK_EQ_INT(kiln_pprof_top(p, (size_t)si, &top, &nt, &total, &e), KILN_OK);
        CHECK_EQ_INT(total, sum_w);
        free(top);
        folded_free(&want);
        folded_free(&got);
    }
    free(text);
    kiln_arena_destroy(a);
}

static void t_folded(void)
{
    check_folded("pprof__sample.cpu.pb.gz", "cpu", "pprof__sample.cpu.pb.gz.cpu_ns.folded");
    check_folded("parca__fib.pb.gz", "samples", "parca__fib.pb.gz.samples.folded");
    /* the expected file's total is pprof's "Total samples = 1.76s" */
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = load_corpus(a, "pprof__sample.cpu.pb.gz");
    kiln_pprof_fn_total *top;
    size_t nt;
    int64_t total;
    kiln_err e;
    CHECK(p && kiln_pprof_top(p, 1, &top, &nt, &total, &e) == KILN_OK);
    CHECK_EQ_INT(total, 1760000000);
    free(top);
    kiln_arena_destroy(a);
}

/* hand-computed flat/cum on a crafted profile: inlined frames, recursion */
static void t_crafted(void)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = tb_example(a);
    /* main -> work -> work -> leaf(inlined in work): recursion counts cum once */
    tb_loc(a, p, 4, 1, 0x404000, 1, (int64_t[]){2, 26});
    tb_sample(a, p, 3, (uint64_t[]){2, 4, 1}, 2, (int64_t[]){5, 50000000});
    /* a zero-valued sample adds no node */
    tb_func(a, p, 9, "never", "n.go", 1);
    tb_loc(a, p, 9, 1, 0x409000, 1, (int64_t[]){9, 1});
    tb_sample(a, p, 1, (uint64_t[]){9}, 2, (int64_t[]){0, 0});
    /* an unsymbolized frame counts for its mapping file */
    tb_loc(a, p, 10, 1, 0x40a000, 0, NULL);
    tb_sample(a, p, 2, (uint64_t[]){10, 1}, 2, (int64_t[]){1, 7});
    kiln_err e = {0};
    CHECK_EQ_INT(kiln_pprof_validate(p, &e), KILN_OK);
    kiln_pprof_fn_total *top;
    size_t n;
    int64_t total;
    CHECK_EQ_INT(kiln_pprof_top(p, 1, &top, &n, &total, &e), KILN_OK);
    CHECK_EQ_INT(total, 110000007);
    CHECK_EQ_INT(n, 4);
    /* leaf: flat 30M+50M; main: flat 20M, cum all; work: flat 10M, cum 30+10+50 */
    CHECK_EQ_STR(top[0].name, "leaf");
    CHECK_EQ_INT(top[0].flat, 80000000);
    CHECK_EQ_INT(top[0].cum, 80000000);
    CHECK_EQ_STR(top[1].name, "main");
    CHECK_EQ_INT(top[1].flat, 20000000);
    CHECK_EQ_INT(top[1].cum, 110000007);
    CHECK_EQ_STR(top[2].name, "work");
    CHECK_EQ_INT(top[2].flat, 10000000);
    CHECK_EQ_INT(top[2].cum, 90000000);
    CHECK_EQ_STR(top[3].name, "/bin/app");
    CHECK_EQ_INT(top[3].flat, 7);
    CHECK_EQ_INT(top[3].cum, 7);
    free(top);
    /* sample index 0 (samples/count) */
    CHECK_EQ_INT(kiln_pprof_top(p, 0, &top, &n, &total, &e), KILN_OK);
    CHECK_EQ_INT(total, 3 + 1 + 2 + 5 + 0 + 1);
    free(top);
    CHECK_EQ_INT(kiln_pprof_top(p, 2, &top, &n, &total, &e), KILN_EINVAL);
    CHECK_CONTAINS(e.msg, "sample index 2 out of range");

    /* sample_index: by name, and pprof's default (default_sample_type, else last) */
    CHECK_EQ_INT(kiln_pprof_sample_index(p, "samples"), 0);
    CHECK_EQ_INT(kiln_pprof_sample_index(p, "cpu"), 1);
    CHECK_EQ_INT(kiln_pprof_sample_index(p, "nope"), -1);
    CHECK_EQ_INT(kiln_pprof_sample_index(p, NULL), 1);
    p->default_sample_type = tb_str(a, p, "samples");
    CHECK_EQ_INT(kiln_pprof_sample_index(p, NULL), 0);
    CHECK_EQ_INT(kiln_pprof_sample_index(p, ""), 0);
    kiln_arena_destroy(a);
}

int main(void)
{
    RUN(t_expected_top_files);
    RUN(t_folded);
    RUN(t_crafted);
    return test_summary();
}
