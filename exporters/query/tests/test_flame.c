/* Unit test: the call tree and the flame graph builder.
 *
 * The expected levels below were worked out by hand by following
 * Pyroscope's NewFlameGraph / NewFlamegraphDiff step by step (a LIFO stack,
 * children in name order, levels reversed, x delta-encoded), so they pin
 * the exact wire layout Grafana decodes, not just its totals.
 */
#include "qtest.h"

static void add(kq_tree *t, const char *folded, int col, int64_t v)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", folded);
    const char *fr[32];
    size_t n = 0;
    for (char *s = strtok(buf, ";"); s && n < 32; s = strtok(NULL, ";")) fr[n++] = s;
    kiln_err err;
    CHECK_EQ_INT(kiln_query_tree_add_stack(t, fr, n, col, v, &err), KILN_OK);
}

static void check_level(const kq_flame *f, size_t d, const int64_t *want, size_t n, int line)
{
    if (d >= f->n_levels || f->level_len[d] != n) {
        test_fail(__FILE__, line, "level %zu: %zu values, want %zu", d, d < f->n_levels ? f->level_len[d] : 0, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (f->levels[d][i] != want[i]) {
            test_fail(__FILE__, line, "level %zu value %zu: %lld, want %lld", d, i, (long long)f->levels[d][i],
                      (long long)want[i]);
            return;
        }
}
#define LEVEL(f, d, ...)                                                                                     \
    do {                                                                                                     \
        static const int64_t w_[] = {__VA_ARGS__};                                                          \
        check_level((f), (d), w_, sizeof w_ / sizeof w_[0], __LINE__);                                       \
    } while (0)

static void names_are(const kq_flame *f, const char *const *want, size_t n, int line)
{
    if (f->n_names != n) {
        test_fail(__FILE__, line, "%zu names, want %zu", f->n_names, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(f->names[i], want[i])) test_fail(__FILE__, line, "names[%zu] %s, want %s", i, f->names[i], want[i]);
}

/* a;b;c 3, a;b 2, a;d 1, e 4 */
static void sample_tree(kq_tree *t)
{
    kiln_err err;
    CHECK_EQ_INT(kiln_query_tree_init(t, 1, &err), KILN_OK);
    add(t, "a;b;c", 0, 3);
    add(t, "e", 0, 4);
    add(t, "a;b", 0, 2);
    add(t, "a;d", 0, 1);
    add(t, "a;zero", 0, 0); /* zero values are ignored */
    CHECK_EQ_INT(kiln_query_tree_finish(t, &err), KILN_OK);
}

static void t_flamegraph_layout(void)
{
    kq_tree t;
    sample_tree(&t);
    CHECK_EQ_INT(t.n, 6); /* root + a b c d e */
    CHECK_EQ_INT(kiln_query_tree_total(&t, 0), 10);
    kq_flame f;
    kiln_err err;
    CHECK_EQ_INT(kiln_query_flame(&t, 8192, &f, &err), KILN_OK);
    static const char *const names[] = {"total", "e", "a", "d", "b", "c"};
    names_are(&f, names, 6, __LINE__);
    CHECK_EQ_INT(f.n_levels, 4);
    LEVEL(&f, 0, 0, 10, 0, 0);
    LEVEL(&f, 1, 0, 6, 0, 2, 0, 4, 4, 1);
    LEVEL(&f, 2, 0, 5, 2, 4, 0, 1, 1, 3);
    LEVEL(&f, 3, 2, 3, 3, 5);
    CHECK_EQ_INT(f.total, 10);
    CHECK_EQ_INT(f.max_self, 4);
    kiln_query_flame_free(&f);
    kiln_query_tree_free(&t);
}

static void t_max_nodes_other(void)
{
    kq_tree t;
    sample_tree(&t);
    /* totals a6 b5 e4 c3 d1: the 3rd largest is 4 */
    CHECK_EQ_INT(kiln_query_flame_min_value(&t, 3), 4);
    CHECK_EQ_INT(kiln_query_flame_min_value(&t, 5), 0); /* the whole tree fits */
    CHECK_EQ_INT(kiln_query_flame_min_value(&t, 0), 0);
    kq_flame f;
    kiln_err err;
    CHECK_EQ_INT(kiln_query_flame(&t, 3, &f, &err), KILN_OK);
    static const char *const names[] = {"total", "e", "a", "other", "b"};
    names_are(&f, names, 5, __LINE__);
    LEVEL(&f, 0, 0, 10, 0, 0);
    LEVEL(&f, 1, 0, 6, 0, 2, 0, 4, 4, 1);
    LEVEL(&f, 2, 0, 5, 2, 4, 0, 1, 1, 3);
    LEVEL(&f, 3, 2, 3, 3, 3);
    CHECK_EQ_INT(f.total, 10);
    kiln_query_flame_free(&f);
    kiln_query_tree_free(&t);
}

static void t_real_other_merges(void)
{
    /* a child really named "other" goes into the synthetic one, as in
     * Pyroscope; a function named "total" shares index 0 */
    kq_tree t;
    kiln_err err;
    CHECK_EQ_INT(kiln_query_tree_init(&t, 1, &err), KILN_OK);
    add(&t, "other", 0, 5);
    add(&t, "total", 0, 2);
    CHECK_EQ_INT(kiln_query_tree_finish(&t, &err), KILN_OK);
    kq_flame f;
    CHECK_EQ_INT(kiln_query_flame(&t, 100, &f, &err), KILN_OK);
    static const char *const names[] = {"total", "other"};
    names_are(&f, names, 2, __LINE__);
    /* root children in order: other (merged, pushed last), total */
    LEVEL(&f, 1, 0, 2, 2, 0, 0, 5, 5, 1);
    kiln_query_flame_free(&f);
    kiln_query_tree_free(&t);
}

static void t_diff_layout(void)
{
    kq_tree t;
    kiln_err err;
    CHECK_EQ_INT(kiln_query_tree_init(&t, 2, &err), KILN_OK);
    add(&t, "a;b", 0, 2);
    add(&t, "c", 0, 1);
    add(&t, "a;b", 1, 1);
    add(&t, "a;d", 1, 3);
    CHECK_EQ_INT(kiln_query_tree_finish(&t, &err), KILN_OK);
    kq_flame f;
    CHECK_EQ_INT(kiln_query_flame(&t, 8192, &f, &err), KILN_OK);
    CHECK(f.diff);
    static const char *const names[] = {"total", "c", "a", "d", "b"};
    names_are(&f, names, 5, __LINE__);
    LEVEL(&f, 0, 0, 3, 0, 0, 4, 0, 0);
    LEVEL(&f, 1, 0, 2, 0, 0, 4, 0, 2, 0, 1, 1, 0, 0, 0, 1);
    LEVEL(&f, 2, 0, 2, 2, 0, 1, 1, 4, 0, 0, 0, 0, 3, 3, 3);
    CHECK_EQ_INT(f.total, 7);
    CHECK_EQ_INT(f.left_ticks, 3);
    CHECK_EQ_INT(f.right_ticks, 4);
    CHECK_EQ_INT(f.max_self, 3);
    kiln_query_flame_free(&f);
    /* negative values are refused in a diff */
    add(&t, "x", 1, -5);
    CHECK_EQ_INT(kiln_query_tree_finish(&t, &err), KILN_OK);
    CHECK_EQ_INT(kiln_query_flame(&t, 8192, &f, &err), KILN_EINVAL);
    kiln_query_tree_free(&t);
}

static void t_functions_hot_path_folded(void)
{
    kq_tree t;
    kiln_err err;
    CHECK_EQ_INT(kiln_query_tree_init(&t, 1, &err), KILN_OK);
    /* recursion: f counts once per stack in its total */
    add(&t, "main;f;g;f", 0, 4);
    add(&t, "main;f", 0, 1);
    add(&t, "main;h", 0, 2);
    CHECK_EQ_INT(kiln_query_tree_finish(&t, &err), KILN_OK);
    kq_fn_row *rows;
    size_t n;
    CHECK_EQ_INT(kiln_query_tree_functions(&t, 0, &rows, &n, &err), KILN_OK);
    CHECK_EQ_INT(n, 4);
    if (n == 4) {
        /* by self desc, then name: f(5) h(2) g(0) main(0) */
        CHECK_EQ_STR(rows[0].name, "f");
        CHECK_EQ_INT(rows[0].self, 5);
        CHECK_EQ_INT(rows[0].total, 5);
        CHECK_EQ_STR(rows[1].name, "h");
        CHECK_EQ_INT(rows[1].total, 2);
        CHECK_EQ_STR(rows[2].name, "g");
        CHECK_EQ_INT(rows[2].total, 4);
        CHECK_EQ_STR(rows[3].name, "main");
        CHECK_EQ_INT(rows[3].total, 7);
    }
    free(rows);
    uint32_t *path;
    CHECK_EQ_INT(kiln_query_tree_hot_path(&t, 0, &path, &n, &err), KILN_OK);
    CHECK_EQ_INT(n, 4);
    if (n == 4) {
        CHECK_EQ_STR(kiln_query_tree_display(&t, t.name[path[0]]), "main");
        CHECK_EQ_STR(kiln_query_tree_display(&t, t.name[path[1]]), "f");
        CHECK_EQ_STR(kiln_query_tree_display(&t, t.name[path[2]]), "g");
        CHECK_EQ_STR(kiln_query_tree_display(&t, t.name[path[3]]), "f");
        CHECK_EQ_INT(t.total[0][path[1]], 5);
    }
    free(path);
    kq_buf b = {0};
    kiln_query_tree_folded(&t, 0, &b);
    CHECK_EQ_STR(b.p, "main;f 1\nmain;f;g;f 4\nmain;h 2\n");
    kiln_query_buf_free(&b);
    kiln_query_tree_speedscope(&t, 0, "cpu", "nanoseconds", &b);
    CHECK_CONTAINS(b.p, "\"frames\":[{\"name\":\"main\"},{\"name\":\"f\"},{\"name\":\"g\"},{\"name\":\"h\"}]");
    CHECK_CONTAINS(b.p, "\"samples\":[[0,1],[0,1,2,1],[0,3]],\"weights\":[1,4,2]");
    CHECK_CONTAINS(b.p, "\"endValue\":7,");
    kiln_query_buf_free(&b);
    /* call-site filter: only stacks starting main;f */
    kq_tree c;
    const char *site[] = {"main", "f"};
    CHECK_EQ_INT(kiln_query_tree_callsite(&t, site, 2, &c, &err), KILN_OK);
    CHECK_EQ_INT(kiln_query_tree_finish(&c, &err), KILN_OK);
    CHECK_EQ_INT(kiln_query_tree_total(&c, 0), 5);
    kiln_query_tree_folded(&c, 0, &b);
    CHECK_EQ_STR(b.p, "main;f 1\nmain;f;g;f 4\n");
    kiln_query_buf_free(&b);
    kiln_query_tree_free(&c);
    const char *none[] = {"main", "nosuch"};
    CHECK_EQ_INT(kiln_query_tree_callsite(&t, none, 2, &c, &err), KILN_OK);
    CHECK_EQ_INT(kiln_query_tree_finish(&c, &err), KILN_OK);
    CHECK_EQ_INT(kiln_query_tree_total(&c, 0), 0);
    kiln_query_tree_free(&c);
    kiln_query_tree_free(&t);
}

/* A wide and deep random tree: the flame graph keeps every value, nodes are
 * inside their parents, and max_nodes bounds the nodes above the cut. */
static void t_random_invariants(void)
{
    kq_tree t;
    kiln_err err;
    CHECK_EQ_INT(kiln_query_tree_init(&t, 1, &err), KILN_OK);
    uint64_t s = 42;
    int64_t sum = 0;
    for (int i = 0; i < 3000; i++) {
        char st[256] = "";
        size_t o = 0;
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        int depth = 1 + (int)((s >> 33) % 12);
        for (int d = 0; d < depth; d++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            o += (size_t)snprintf(st + o, sizeof st - o, "%sfn%d", d ? ";" : "", (int)((s >> 40) % 7));
        }
        int64_t v = 1 + (int64_t)((s >> 20) % 100);
        sum += v;
        add(&t, st, 0, v);
    }
    CHECK_EQ_INT(kiln_query_tree_finish(&t, &err), KILN_OK);
    CHECK_EQ_INT(kiln_query_tree_total(&t, 0), sum);
    int64_t limits[] = {1, 10, 100, 1000, 0};
    for (size_t li = 0; li < sizeof limits / sizeof limits[0]; li++) {
        kq_flame f;
        CHECK_EQ_INT(kiln_query_flame(&t, limits[li], &f, &err), KILN_OK);
        int64_t self = 0;
        size_t above = 0, nodes = 0;
        int64_t minv = kiln_query_flame_min_value(&t, limits[li]);
        for (size_t d = 0; d < f.n_levels; d++) {
            int64_t x = 0;
            for (size_t k = 0; k + 3 < f.level_len[d]; k += 4) {
                x += f.levels[d][k];
                int64_t tot = f.levels[d][k + 1];
                self += f.levels[d][k + 2];
                CHECK(x + tot <= sum);
                x += tot;
                if (d && strcmp(f.names[f.levels[d][k + 3]], "other")) {
                    nodes++;
                    CHECK(tot >= minv);
                    above += tot > minv;
                }
            }
        }
        CHECK_EQ_INT(self, sum);
        CHECK_EQ_INT(f.total, sum);
        if (limits[li] > 0) CHECK(above < (size_t)limits[li]);
        else CHECK_EQ_INT(nodes, t.n - 1);
        kiln_query_flame_free(&f);
    }
    kiln_query_tree_free(&t);
}

int main(void)
{
    RUN(t_flamegraph_layout);
    RUN(t_max_nodes_other);
    RUN(t_real_other_merges);
    RUN(t_diff_layout);
    RUN(t_functions_hot_path_folded);
    RUN(t_random_invariants);
    return test_summary();
}
