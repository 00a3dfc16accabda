/* tests/unit/test_pprof_gotool.c — exact comparison with a live
 * `go tool pprof` (Debian's golang-go 1.19), when `go` is on the PATH.
 *
 * `go tool pprof -top -nodefraction=0 -nodecount=0 -unit=<base unit>` prints
 * every node with exact integers ("1280000000ns", "335544320B"); each of them
 * must equal kiln_pprof_top's flat and cum, and the node counts and totals
 * must match. Run on corpus files, and on files kiln wrote (large.cpu
 * re-encoded, the merge of the ten parca__many_* heaps): pprof reading kiln's
 * output is the check that kiln writes valid pprof. Without go, the test
 * prints why it skipped and passes.
 */
#include "test_pprof_util.h"

#include <unistd.h>

/* ---- exact comparison with go tool pprof --------------------------------------------- */

static const char *base_unit(const char *unit)
{
    if (!strcmp(unit, "nanoseconds")) return "ns";
    if (!strcmp(unit, "microseconds")) return "us";
    if (!strcmp(unit, "milliseconds")) return "ms";
    if (!strcmp(unit, "bytes")) return "B";
    return "count";
}

static int cmp_name(const void *x, const void *y)
{
    return strcmp(((const kiln_pprof_fn_total *)x)->name, ((const kiln_pprof_fn_total *)y)->name);
}

/* Runs go tool pprof on `path` for sample index si of p and compares every node. */
static void compare_with_go(const char *path, const kiln_pprof *p, size_t si, int line)
{
    const char *type = p->string_table[p->sample_type[si]->type];
    const char *u = base_unit(p->string_table[p->sample_type[si]->unit]);
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "GOCACHE=\"${TMPDIR:-/tmp}/kiln-test-gocache\" go tool pprof -top -nodefraction=0 "
             "-nodecount=0 -symbolize=none -unit=%s -sample_index=%zu '%s' 2>/dev/null",
             u, si, path);
    char *out = run_capture(cmd);
    if (!out) {
        test_fail(__FILE__, line, "go tool pprof failed on %s", path);
        return;
    }
    size_t cap = p->n_function + p->n_mapping + 16;
    top_row *rows = malloc(cap * sizeof *rows);
    char total_s[64];
    size_t n = parse_top(out, rows, cap, total_s, sizeof total_s, NULL);
    kiln_pprof_fn_total *top;
    size_t nt;
    int64_t total;
    kiln_err e = {0};
    CHECK_EQ_INT(kiln_pprof_top(p, si, &top, &nt, &total, &e), KILN_OK);
    const char *pu = strcmp(u, "count") ? u : "";
    char got[64];
    pprof_format(total, pu, got, sizeof got);
    if (strcmp(got, total_s)) test_fail(__FILE__, line, "%s[%s]: total %s, pprof %s", path, type, got, total_s);
    if (n != nt) test_fail(__FILE__, line, "%s[%s]: kiln %zu nodes, pprof %zu", path, type, nt, n);
    size_t bad = 0;
    /* rows sorted by name for a binary search (thousands of nodes) */
    kiln_pprof_fn_total *by_name = malloc((nt ? nt : 1) * sizeof *by_name);
    memcpy(by_name, top, nt * sizeof *by_name);
    qsort(by_name, nt, sizeof *by_name, cmp_name);
    for (size_t i = 0; i < n; i++) {
        kiln_pprof_fn_total key = {rows[i].name, 0, 0};
        const kiln_pprof_fn_total *r = bsearch(&key, by_name, nt, sizeof *by_name, cmp_name);
        if (!r) r = find_row(top, nt, rows[i].name, NULL); /* "[binary]", "<unknown>" */
        char gf[64], gc[64];
        if (r) {
            pprof_format(r->flat, pu, gf, sizeof gf);
            pprof_format(r->cum, pu, gc, sizeof gc);
        }
        if (!r || strcmp(gf, rows[i].flat) || strcmp(gc, rows[i].cum)) {
            if (bad++ < 5)
                test_fail(__FILE__, line, "%s[%s]: %s: kiln %s/%s, pprof %s/%s", path, type, rows[i].name,
                          r ? gf : "-", r ? gc : "-", rows[i].flat, rows[i].cum);
        }
    }
    fprintf(stderr, "  go tool pprof %s [%s]: %zu nodes compared, %zu differ\n", base_name(path), type, n, bad);
    free(by_name);
    free(top);
    free(rows);
    free(out);
}

/* corpus files as they are: kiln's reading and counting vs pprof's */
static void t_corpus_files(void)
{
    static const struct {
        const char *file, *type;
    } cases[] = {{"pprof__sample.cpu.pb.gz", "cpu"},
                 {"parca__alloc_objects.pb.gz", "alloc_space"},
                 {"parca__alloc_objects.pb.gz", "inuse_objects"},
                 {"parca__profile-with-labels.pb.gz", "samples"},
                 {"parca__normal-cpu.stripped.pprof.gz", "cpu"},
                 {"parca__fgprof.pb.gz", "time"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kiln_arena *a = kiln_arena_new(0);
        kiln_pprof *p = load_corpus(a, cases[i].file);
        CHECK(p != NULL);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", test_corpus_dir(), cases[i].file);
        int si = p ? kiln_pprof_sample_index(p, cases[i].type) : -1;
        CHECK(si >= 0);
        if (si >= 0) compare_with_go(path, p, (size_t)si, __LINE__);
        kiln_arena_destroy(a);
    }
}

/* writes `p` (gzip 1) to a temporary file and lets go tool pprof read it */
static void check_kiln_output(const kiln_pprof *p, const char *tag, const char *const *types, size_t nt)
{
    uint8_t *buf;
    size_t n;
    kiln_err e = {0};
    CHECK_EQ_INT(kiln_pprof_encode(p, 1, &buf, &n, &e), KILN_OK);
    char path[4096];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/kiln_test_%s_%d.pb.gz", tmp && *tmp ? tmp : "/tmp", tag, (int)getpid());
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fwrite(buf, 1, n, f);
        fclose(f);
        for (size_t i = 0; i < nt; i++) {
            int si = kiln_pprof_sample_index(p, types[i]);
            CHECK(si >= 0);
            if (si >= 0) compare_with_go(path, p, (size_t)si, __LINE__);
        }
        unlink(path);
    }
    free(buf);
}

/* pprof reads what kiln writes: large.cpu re-encoded, and kiln's merge of
 * the ten parca__many_* heaps */
static void t_kiln_outputs(void)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = load_corpus(a, "pprof__large.cpu.pb.gz");
    CHECK(p != NULL);
    static const char *const cpu[] = {"cpu"};
    if (p) check_kiln_output(p, "large", cpu, 1);
    static const char *const many[] = {
        "parca__many_1644509272337470000.pb.gz", "parca__many_1644509275338070000.pb.gz",
        "parca__many_1644509278338696000.pb.gz", "parca__many_1644509281339135000.pb.gz",
        "parca__many_1644509284338649000.pb.gz", "parca__many_1644509287338709000.pb.gz",
        "parca__many_1644509290338056000.pb.gz", "parca__many_1644509293338714000.pb.gz",
        "parca__many_1644509296350592000.pb.gz", "parca__many_1644509299337903000.pb.gz"};
    kiln_pprof *in[10], *m = NULL;
    int ok = 1;
    for (int i = 0; i < 10; i++) ok &= (in[i] = load_corpus(a, many[i])) != NULL;
    CHECK(ok);
    kiln_err e = {0};
    if (ok) CHECK_EQ_INT(kiln_pprof_merge(a, in, 10, &m, &e), KILN_OK);
    static const char *const heap[] = {"alloc_space", "inuse_objects"};
    if (m) check_kiln_output(m, "merged", heap, 2);
    kiln_arena_destroy(a);
}

int main(void)
{
    if (!have_go()) {
        fprintf(stderr, "SKIP: go is not on the PATH; the go tool pprof comparison did not run\n");
        return test_summary();
    }
    RUN(t_corpus_files);
    RUN(t_kiln_outputs);
    return test_summary();
}
