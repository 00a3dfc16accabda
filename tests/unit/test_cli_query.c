/* tests/unit/test_cli_query.c — the parts of `kiln query` that need no
 * server (pipeline/cli_query_{time,print,tree,reply}.c, built into this
 * test: the kiln binary's sources are not in libkiln):
 *
 *   - --from/--until and --timeout forms, table cases with values worked
 *     out independently (calendar arithmetic done with Python's calendar
 *     module when the table was written);
 *   - pprof's value, percentage and unit choice formats, table cases;
 *   - `top` output against committed `go tool pprof -top` outputs
 *     (corpus/expected/<file>.top*.txt: every line from "Type:" on must be the
 *     same; pprof's File/Build ID lines are left out by kiln);
 *   - inline marks and mapping-file rows on a built profile, compared with a
 *     live `go tool pprof -top` when go is on the PATH;
 *   - folded stacks against corpus/expected/<file>.folded (exact multiset), and
 *     the hottest path against one computed here from those folded lines;
 *   - Connect error bodies and printable snippets.
 */
#define _GNU_SOURCE
#include "test_pprof_util.h"

#include <stdlib.h>
#include <time.h>

#include "../../pipeline/cli_query_print.c"
#include "../../pipeline/cli_query_reply.c"
#include "../../pipeline/cli_query_time.c"
#include "../../pipeline/cli_query_tree.c"

/* ---- times ------------------------------------------------------------------------- */

#define NOW 1714557600123LL /* 2024-05-01T10:00:00.123Z */

static void t_times(void)
{
    static const struct {
        const char *in;
        int64_t want;
    } ok[] = {
        {"now", NOW},
        {"now-1h", NOW - 3600000},
        {"now-30m", NOW - 1800000},
        {"now-7d", NOW - 7 * 86400000LL},
        {"now+15s", NOW + 15000},
        {"now-1h30m", NOW - 5400000},
        {"now-5min", NOW - 300000},
        {"now-2w", NOW - 14 * 86400000LL},
        {"now-1M", NOW - 30 * 86400000LL},
        {"now-1mon", NOW - 30 * 86400000LL},
        {"now-1y", NOW - 365 * 86400000LL},
        {"now-250ms", NOW - 250},
        {"0", 0},
        {"1714557600", 1714557600000LL},           /* seconds */
        {"1714557600123", 1714557600123LL},        /* 13 digits: ms */
        {"1714557600123456", 1714557600123LL},     /* 16: us */
        {"1714557600123456789", 1714557600123LL},  /* 19: ns */
        {"20240501", 1714521600000LL},             /* YYYYMMDD */
        {"20241301", 20241301000LL},               /* not a date: seconds */
        {"2024-05-01T10:00:00Z", 1714557600000LL}, /* RFC 3339 */
        {"2024-05-01T12:00:00+02:00", 1714557600000LL},
        {"2024-05-01T07:30:00-02:30", 1714557600000LL},
        {"2024-05-01t10:00:00.25z", 1714557600250LL},
        {"2024-05-01 10:00:00.123456Z", 1714557600123LL},
        {"2024-05-01", 1714521600000LL},
        {"2024-02-29T00:00:00Z", 1709164800000LL},
        {"2017-09-29", 1506643200000LL},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t v = -1;
        kiln_err e;
        int rc = kiln_cq_parse_time(ok[i].in, NOW, &v, &e);
        if (rc != KILN_OK) test_fail(__FILE__, __LINE__, "%s: %s", ok[i].in, e.msg);
        else if (v != ok[i].want)
            test_fail(__FILE__, __LINE__, "%s: %lld, want %lld", ok[i].in, (long long)v, (long long)ok[i].want);
    }
    static const char *const bad[] = {"",
                                      "yesterday",
                                      "now-",
                                      "now-1",
                                      "now-1x",
                                      "now*1h",
                                      "now-h",
                                      "nowish",
                                      "-1h",
                                      "2024-05-01T10:00:00",
                                      "2024-13-01",
                                      "2023-02-29T00:00:00Z",
                                      "2024-05-01T24:00:00Z",
                                      "2024-05-01T10:00:00+2:00",
                                      "12345678901234567890",
                                      "1.5",
                                      "now-99999999999999999999h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = 42;
        kiln_err e;
        kiln_err_clear(&e);
        int rc = kiln_cq_parse_time(bad[i], NOW, &v, &e);
        if (rc != KILN_EINVAL) test_fail(__FILE__, __LINE__, "\"%s\" accepted as %lld", bad[i], (long long)v);
        else CHECK_CONTAINS(e.msg, "RFC 3339");
        CHECK_EQ_INT(v, 42);
    }
    char buf[64];
    kiln_cq_fmt_time(1714557600123LL, buf, sizeof buf);
    CHECK_EQ_STR(buf, "2024-05-01T10:00:00.123Z");
    kiln_cq_fmt_time(0, buf, sizeof buf);
    CHECK_EQ_STR(buf, "1970-01-01T00:00:00.000Z");
}

static void t_durations(void)
{
    static const struct {
        const char *in;
        int64_t want;
    } ok[] = {{"30s", 30000}, {"500ms", 500}, {"2m", 120000}, {"1h30m", 5400000}, {"30", 30000}, {"1m5s", 65000}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t v = -1;
        kiln_err e;
        CHECK_EQ_INT(kiln_cq_parse_duration(ok[i].in, &v, &e), KILN_OK);
        CHECK_EQ_INT(v, ok[i].want);
    }
    static const char *const bad[] = {"", "0", "0s", "abc", "5x", "1d", "1M", "s", "-5s", "9999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = 42;
        kiln_err e;
        if (kiln_cq_parse_duration(bad[i], &v, &e) == KILN_OK)
            test_fail(__FILE__, __LINE__, "duration \"%s\" accepted as %lld", bad[i], (long long)v);
    }
}

/* ---- formats --------------------------------------------------------------------------- */

static void t_scaled_labels(void)
{
    static const struct {
        int64_t v;
        const char *from, *to, *want;
    } c[] = {
        {1760000000, "nanoseconds", "s", "1.76s"},
        {1760000000, "nanoseconds", "ms", "1760ms"},
        {0, "nanoseconds", "s", "0"},
        {1500000, "nanoseconds", "ms", "1.50ms"},
        {-3500000, "nanoseconds", "ms", "-3.50ms"},
        {4999999, "nanoseconds", "s", "0"},   /* 0.004999999 -> "0.00" -> "0" */
        {5000001, "nanoseconds", "s", "0.01s"},
        {536870912, "bytes", "MB", "512MB"},
        {1288490189, "bytes", "GB", "1.20GB"},
        {13157836, "bytes", "kB", "12849.45kB"},
        {123, "count", "count", "123"},
        {7, "objects", "objects", "7objects"}, /* unknown units are printed as they are */
        {7, "samples", "samples", "7samples"},
        {1, "bytes", "auto", "1B"},
        {1023, "bytes", "auto", "1023B"},
        {1024, "bytes", "auto", "1kB"},
        {1536, "Bytes", "auto", "1.50kB"}, /* units are case-insensitive */
        {3600000000000LL, "nanoseconds", "auto", "1hrs"},
        {240360000000LL, "nanoseconds", "auto", "240.36s"},
        {90, "seconds", "auto", "90s"},
        {1, "milliseconds", "auto", "1ms"},
        {1500, "microseconds", "minimum", "1.50ms"},
        {2000, "ms", "s", "2s"},
        {5, "count", "auto", "5"},
        {3, "gcu", "auto", "3GCU"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char buf[64];
        kiln_cq_scaled_label(c[i].v, c[i].from, c[i].to, buf, sizeof buf);
        if (strcmp(buf, c[i].want) != 0)
            test_fail(__FILE__, __LINE__, "ScaledLabel(%lld, %s, %s) = %s, want %s", (long long)c[i].v, c[i].from,
                      c[i].to, buf, c[i].want);
    }
}

static void t_scale_pick(void)
{
    static const struct {
        const char *unit;
        int64_t min, max;
        const char *want;
    } c[] = {
        {"nanoseconds", 10000000, 1760000000, "s"},  /* 0.01s .. 1.76s */
        {"nanoseconds", 150000000, 1760000000, "ms"}, /* 150ms is not under 1% of 1.76s */
        {"nanoseconds", 1, 1760000000, "ns"},         /* 100 x 1ns is still ns */
        {"nanoseconds", 10000, 1760000000, "ms"},     /* 10us is under 1% of 1.76s: the unit of 100 x 10us */
        {"bytes", 1024, 1073741824, "kB"},
        {"bytes", 2097152, 1073741824, "MB"},
        {"count", 3, 1000, "count"},
        {"objects", 3, 1000, "objects"},
        {"nanoseconds", 0, 0, "minimum"},
        {"nanoseconds", 0, 5000000000LL, "s"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        kiln_cq_scale s;
        kiln_cq_scale_pick(c[i].unit, c[i].min, c[i].max, 0, &s);
        const char *want = c[i].want;
        if (strcmp(s.out_unit, want) != 0)
            test_fail(__FILE__, __LINE__, "pick(%s, %lld, %lld) = %s, want %s", c[i].unit, (long long)c[i].min,
                      (long long)c[i].max, s.out_unit, want);
    }
    kiln_cq_scale s;
    char buf[64];
    kiln_cq_scale_pick("nanoseconds", 10000000, 1760000000, 1, &s);
    kiln_cq_fmt_value(1760000000, &s, buf, sizeof buf);
    CHECK_EQ_STR(buf, "1760000000");
    kiln_cq_scale_pick("nanoseconds", 10000000, 1760000000, 0, &s);
    kiln_cq_fmt_value(1760000000, &s, buf, sizeof buf);
    CHECK_EQ_STR(buf, "1.76s");
    kiln_cq_fmt_value(0, &s, buf, sizeof buf);
    CHECK_EQ_STR(buf, "0");
    kiln_cq_scale_pick("nanoseconds", 0, 0, 0, &s); /* "minimum": each value on its own */
    kiln_cq_fmt_value(1500000, &s, buf, sizeof buf);
    CHECK_EQ_STR(buf, "1.50ms");
}

static void t_percentages(void)
{
    static const struct {
        int64_t v, total;
        const char *want;
    } c[] = {
        {1280, 1760, "72.73%"}, {1760, 1760, "  100%"}, {17599, 17600, "  100%"}, {10, 1760, " 0.57%"},
        {1, 1760, "0.057%"},    {0, 100, "    0%"},     {5, 0, "    0%"},     {-50, 100, "50.00%"},
        {1, 100000000, "1e-06%"}, {100, 100, "  100%"}, {1, 100, " 1.00%"},   {9995, 10000, "  100%"},
        {9994, 10000, "99.94%"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char buf[32];
        kiln_cq_fmt_pct(c[i].v, c[i].total, buf, sizeof buf);
        if (strcmp(buf, c[i].want) != 0)
            test_fail(__FILE__, __LINE__, "Percentage(%lld, %lld) = \"%s\", want \"%s\"", (long long)c[i].v,
                      (long long)c[i].total, buf, c[i].want);
    }
    static const char *const obj[][2] = {
        {"/usr/bin/app", "[app]"}, {"", "<unknown>"}, {"app", "[app]"}, {"/a/b/", "[b]"}, {"/", "[/]"},
        {"[vdso]", "[[vdso]]"},
    };
    for (size_t i = 0; i < sizeof obj / sizeof obj[0]; i++) {
        char buf[64];
        kiln_cq_obj_name(obj[i][0], buf, sizeof buf);
        CHECK_EQ_STR(buf, obj[i][1]);
    }
}

/* ---- top against committed go tool pprof outputs -------------------------------------------- */

static char *print_to_string(int top, const kiln_pprof *p, size_t si, const kiln_cq_top_opts *o)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    kiln_err e;
    int rc = top ? kiln_cq_print_top(f, p, si, o, &e) : kiln_cq_print_tree(f, p, si, o->nodefraction, o->raw, &e);
    fclose(f);
    if (rc != KILN_OK) test_fail(__FILE__, __LINE__, "print: %s", e.msg);
    return buf;
}

/* a pprof -top text without its File: and Build ID: lines */
static char *strip_pprof_file_lines(const char *s)
{
    char *out = malloc(strlen(s) + 1), *w = out;
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) + 1 : strlen(s);
        if (strncmp(s, "File: ", 6) && strncmp(s, "Build ID: ", 10)) {
            memcpy(w, s, len);
            w += len;
        }
        s += len;
    }
    *w = 0;
    return out;
}

static void check_top_expected(const char *profile, const char *expected, const char *stype, int line)
{
    char *want_raw = read_expected(expected);
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = load_corpus(a, profile);
    if (!want_raw || !p) {
        test_fail(__FILE__, line, "cannot read %s or %s", profile, expected);
        free(want_raw);
        kiln_arena_destroy(a);
        return;
    }
    /* the flags the file was made with, read back from its header */
    kiln_cq_top_opts o = {0, 0.005, strstr(expected, "top_cum") != NULL, 0};
    if (strstr(expected, "nodefraction0") || strstr(expected, "all_nodes")) o.nodefraction = 0;
    const char *st = strstr(want_raw, "Showing top ");
    if (st) o.nodecount = strtol(st + 12, NULL, 10);
    int si = kiln_pprof_sample_index(p, stype);
    CHECK(si >= 0);
    char *got = print_to_string(1, p, (size_t)si, &o);
    char *want = strip_pprof_file_lines(want_raw);
    size_t wl = strlen(want); /* the committed files end with a blank line */
    while (wl > 1 && want[wl - 1] == '\n' && want[wl - 2] == '\n') want[--wl] = 0;
    if (strcmp(got, want) != 0)
        test_fail(__FILE__, line, "%s: kiln query top differs from go tool pprof:\n--- kiln\n%s--- pprof\n%s", expected,
                  got, want);
    free(got);
    free(want);
    free(want_raw);
    kiln_arena_destroy(a);
}

static void t_top_vs_pprof_outputs(void)
{
    check_top_expected("pprof__sample.cpu.pb.gz", "pprof__sample.cpu.pb.gz.top.txt", NULL, __LINE__);
    check_top_expected("pprof__sample.cpu.pb.gz", "pprof__sample.cpu.pb.gz.top.all_nodes.txt", NULL, __LINE__);
    check_top_expected("pprof__sample.cpu.pb.gz", "pprof__sample.cpu.pb.gz.top_cum.txt", NULL, __LINE__);
    check_top_expected("pprof__large.cpu.pb.gz", "pprof__large.cpu.pb.gz.top.txt", NULL, __LINE__);
    check_top_expected("pprof__large.cpu.pb.gz", "pprof__large.cpu.pb.gz.top_cum.txt", NULL, __LINE__);
    check_top_expected("pprof__large.cpu.pb.gz", "pprof__large.cpu.pb.gz.top.nodefraction0.txt", NULL, __LINE__);
    check_top_expected("parca__fib.pb.gz", "parca__fib.pb.gz.top.txt", NULL, __LINE__);
    check_top_expected("parca__fib.pb.gz", "parca__fib.pb.gz.top_cum.txt", NULL, __LINE__);
    check_top_expected("parca__profile-with-labels.pb.gz", "parca__profile-with-labels.pb.gz.top.txt", NULL,
                       __LINE__);
    check_top_expected("parca__profile-with-labels.pb.gz", "parca__profile-with-labels.pb.gz.top_cum.txt", NULL,
                       __LINE__);
    check_top_expected("parca__normal-cpu.stripped.pprof.gz", "parca__normal-cpu.stripped.pprof.gz.top.txt", NULL,
                       __LINE__);
    static const char *const types[] = {"alloc_objects", "alloc_space", "inuse_objects", "inuse_space"};
    for (int i = 0; i < 4; i++) {
        char f[128];
        snprintf(f, sizeof f, "parca__alloc_objects.pb.gz.top.%s.txt", types[i]);
        check_top_expected("parca__alloc_objects.pb.gz", f, types[i], __LINE__);
    }
}

/* ---- inline marks and mapping-file rows on a built profile ----------------------------------------- */

static kiln_pprof *inline_profile(kiln_arena *a)
{
    kiln_pprof *p = tb_new(a);
    tb_type(a, p, "cpu", "nanoseconds");
    tb_map(a, p, 1, 0x1000, 0x9000, 0, "/usr/bin/app", "");
    tb_map(a, p, 2, 0x10000, 0x90000, 0, "/lib/libc.so.6", "");
    tb_func(a, p, 1, "main", "main.c", 1);
    tb_func(a, p, 2, "inl", "inl.c", 1);
    tb_func(a, p, 3, "leaf", "leaf.c", 1);
    tb_func(a, p, 4, "", "", 0);
    tb_func(a, p, 5, "inl2", "inl.c", 9);
    tb_loc(a, p, 1, 1, 0x1100, 2, (const int64_t[]){2, 10, 1, 20}); /* inl inlined into main */
    tb_loc(a, p, 2, 1, 0x1200, 1, (const int64_t[]){3, 30});       /* leaf */
    tb_loc(a, p, 3, 2, 0x11234, 0, NULL);                           /* libc, no symbols */
    tb_loc(a, p, 4, 1, 0x1678, 1, (const int64_t[]){4, 0});        /* a function without name */
    tb_loc(a, p, 5, 1, 0x1500, 1, (const int64_t[]){2, 11});       /* inl, not inlined */
    tb_loc(a, p, 7, 1, 0x1700, 2, (const int64_t[]){5, 90, 3, 31}); /* inl2 inlined into leaf */
    tb_sample(a, p, 2, (const uint64_t[]){2, 1}, 1, (const int64_t[]){10000000});
    tb_sample(a, p, 1, (const uint64_t[]){1}, 1, (const int64_t[]){5000000});
    tb_sample(a, p, 2, (const uint64_t[]){3, 1}, 1, (const int64_t[]){7000000});
    tb_sample(a, p, 3, (const uint64_t[]){4, 5, 1}, 1, (const int64_t[]){3000000});
    tb_sample(a, p, 2, (const uint64_t[]){5, 2}, 1, (const int64_t[]){2000000});
    tb_sample(a, p, 2, (const uint64_t[]){7, 1}, 1, (const int64_t[]){4000000});
    tb_sample(a, p, 1, (const uint64_t[]){2}, 1, (const int64_t[]){0}); /* zero: no edge, no node */
    return p;
}

static const char *row_line(const char *out, const char *name)
{
    static char line[256];
    const char *s = out;
    while ((s = strstr(s, name))) {
        if (s[-1] == ' ' && (s[strlen(name)] == '\n' || s[strlen(name)] == ' ')) {
            const char *b = s;
            while (b > out && b[-1] != '\n') b--;
            const char *e = strchr(s, '\n');
            snprintf(line, sizeof line, "%.*s", (int)(e - b), b);
            return line;
        }
        s++;
    }
    return "";
}

static void t_inline_marks(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = inline_profile(a);
    kiln_err e;
    CHECK_EQ_INT(kiln_pprof_validate(p, &e), KILN_OK);
    kiln_cq_top_opts o = {0, 0, 0, 0};
    char *got = print_to_string(1, p, 0, &o);
    CHECK_CONTAINS(row_line(got, "inl"), "inl (partial-inline)");
    CHECK_CONTAINS(row_line(got, "inl2"), "inl2 (inline)");
    CHECK_CONTAINS(got, "  [libc.so.6]\n");
    CHECK_CONTAINS(got, "  [app]\n");
    CHECK_CONTAINS(got, "  main\n");
    CHECK_CONTAINS(got, "  leaf\n");
    CHECK_CONTAINS(got, "Showing nodes accounting for 31ms, 100% of 31ms total\n");
    /* the same profile through a live go tool pprof */
    if (have_go()) {
        uint8_t *enc;
        size_t n;
        CHECK_EQ_INT(kiln_pprof_encode(p, 0, &enc, &n, &e), KILN_OK);
        char path[] = "/tmp/kiln-cliq-XXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0 && write(fd, enc, n) == (ssize_t)n);
        close(fd);
        free(enc);
        char cmd[512];
        snprintf(cmd, sizeof cmd,
                 "TZ=UTC GOTOOLCHAIN=local GOTELEMETRY=off go tool pprof -top -nodecount=0 -nodefraction=0 "
                 "-symbolize=none %s 2>/dev/null",
                 path);
        char *ref = run_capture(cmd);
        CHECK(ref != NULL);
        if (ref) {
            char *want = strip_pprof_file_lines(ref);
            if (strcmp(got, want) != 0)
                test_fail(__FILE__, __LINE__, "kiln:\n%s\ngo tool pprof:\n%s", got, want);
            free(want);
        }
        free(ref);
        unlink(path);
    } else {
        printf("  note: go not on the PATH; compared with the expected marks only\n");
    }
    free(got);
    kiln_arena_destroy(a);
}

/* ---- folded and the hottest path against the expected folded files ------------------------------------ */

typedef struct lines {
    char **v;
    size_t n, cap;
} lines;

static void lines_add(lines *l, const char *s, size_t n)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = strndup(s, n);
}

static void lines_split(lines *l, const char *text)
{
    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t)(nl - text) : strlen(text);
        if (n) lines_add(l, text, n);
        text += n + (nl != NULL);
    }
}

static int cmp_line(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void lines_free(lines *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
}

/* the hottest path computed from folded lines: at each step the child
 * frame with the largest summed value (first by name on a tie) */
static size_t folded_hot_path(const lines *l, char path[][256], int64_t *totals, size_t max)
{
    size_t depth = 0;
    char prefix[65536] = "";
    for (;;) {
        char best[256] = "";
        int64_t best_v = 0;
        /* candidate children: the next frame of every line under the prefix */
        for (size_t i = 0; i < l->n; i++) {
            const char *s = l->v[i];
            size_t pl = strlen(prefix);
            if (strncmp(s, prefix, pl) != 0) continue;
            const char *f = s + pl;
            const char *sp = strrchr(s, ' ');
            if (f >= sp) continue;
            size_t fl = strcspn(f, ";");
            if (f + fl > sp) fl = (size_t)(sp - f);
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)fl, f);
            /* its total: every line under prefix + name */
            char sub[65536];
            snprintf(sub, sizeof sub, "%s%s", prefix, name);
            size_t sl = strlen(sub);
            int64_t tot = 0;
            for (size_t k = 0; k < l->n; k++)
                if (!strncmp(l->v[k], sub, sl) && (l->v[k][sl] == ';' || l->v[k][sl] == ' '))
                    tot += strtoll(strrchr(l->v[k], ' ') + 1, NULL, 10);
            if (tot > best_v || (tot == best_v && tot > 0 && strcmp(name, best) < 0)) {
                best_v = tot;
                snprintf(best, sizeof best, "%s", name);
            }
        }
        if (best_v <= 0 || depth == max) return depth;
        snprintf(path[depth], 256, "%s", best);
        totals[depth++] = best_v;
        size_t pl = strlen(prefix);
        snprintf(prefix + pl, sizeof prefix - pl, "%s;", best);
    }
}

static void check_folded(const char *profile, const char *stype, const char *expected)
{
    char *want_text = read_expected(expected);
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = load_corpus(a, profile);
    CHECK(want_text && p);
    if (!want_text || !p) {
        free(want_text);
        kiln_arena_destroy(a);
        return;
    }
    int si = kiln_pprof_sample_index(p, stype);
    kiln_cq_tree t;
    kiln_err e;
    CHECK_EQ_INT(kiln_cq_tree_build(p, (size_t)si, &t, &e), KILN_OK);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    CHECK_EQ_INT(kiln_cq_tree_folded(&t, f), 0);
    fclose(f);
    lines got = {0}, want = {0};
    lines_split(&got, buf);
    lines_split(&want, want_text);
    qsort(got.v, got.n, sizeof *got.v, cmp_line);
    qsort(want.v, want.n, sizeof *want.v, cmp_line);
    CHECK(want.n > 0);
    CHECK_EQ_INT(got.n, want.n);
    for (size_t i = 0; i < got.n && i < want.n; i++)
        if (strcmp(got.v[i], want.v[i]) != 0) {
            test_fail(__FILE__, __LINE__, "%s line %zu: %s != %s", expected, i, got.v[i], want.v[i]);
            break;
        }
    /* the hottest path */
    uint32_t *path;
    size_t np;
    CHECK_EQ_INT(kiln_cq_tree_hot_path(&t, &path, &np, &e), KILN_OK);
    char ref[128][256];
    int64_t ref_tot[128];
    size_t nr = folded_hot_path(&want, ref, ref_tot, 128);
    CHECK(nr > 0);
    CHECK_EQ_INT(np, nr);
    for (size_t i = 0; i < np && i < nr; i++) {
        CHECK_EQ_STR(t.names[t.name[path[i]]], ref[i]);
        CHECK_EQ_INT(t.total[path[i]], ref_tot[i]);
    }
    /* the tree's total is the folded sum */
    int64_t sum = 0;
    for (size_t i = 0; i < want.n; i++) sum += strtoll(strrchr(want.v[i], ' ') + 1, NULL, 10);
    CHECK_EQ_INT(t.total[0], sum);
    free(path);
    free(buf);
    lines_free(&got);
    lines_free(&want);
    kiln_cq_tree_free(&t);
    free(want_text);
    kiln_arena_destroy(a);
}

static void t_folded_and_hot_path(void)
{
    check_folded("pprof__sample.cpu.pb.gz", "cpu", "pprof__sample.cpu.pb.gz.cpu_ns.folded");
    check_folded("parca__fib.pb.gz", "samples", "parca__fib.pb.gz.samples.folded");
}

static void t_tree_built(void)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = inline_profile(a);
    kiln_cq_tree t;
    kiln_err e;
    CHECK_EQ_INT(kiln_cq_tree_build(p, 0, &t, &e), KILN_OK);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    kiln_cq_tree_folded(&t, f);
    fclose(f);
    /* frames outermost first, unsymbolized frames as 0x<address>, by name */
    CHECK_EQ_STR(buf, "leaf;inl 2000000\n"
                      "main;inl 5000000\n"
                      "main;inl;0x11234 7000000\n"
                      "main;inl;inl;0x1678 3000000\n"
                      "main;inl;leaf 10000000\n"
                      "main;inl;leaf;inl2 4000000\n");
    uint32_t *path;
    size_t np;
    CHECK_EQ_INT(kiln_cq_tree_hot_path(&t, &path, &np, &e), KILN_OK);
    CHECK_EQ_INT(np, 4);
    if (np == 4) {
        CHECK_EQ_STR(t.names[t.name[path[0]]], "main");
        CHECK_EQ_STR(t.names[t.name[path[1]]], "inl");
        CHECK_EQ_STR(t.names[t.name[path[2]]], "leaf");
        CHECK_EQ_INT(t.total[path[2]], 14000000);
        CHECK_EQ_STR(t.names[t.name[path[3]]], "inl2");
    }
    free(path);
    free(buf);
    kiln_cq_tree_free(&t);
    /* tree output: the hottest path, then the pruned call tree */
    kiln_cq_top_opts o = {0, 0.2, 0, 0};
    char *out = print_to_string(0, p, 0, &o);
    CHECK_CONTAINS(out, "Total: 31ms\n");
    CHECK_CONTAINS(out, "Hottest path (4 frames;");
    CHECK_CONTAINS(out, "\n       5ms 16.13%       29ms 93.55%    inl\n");
    CHECK_CONTAINS(out, "\n      10ms 32.26%       14ms 45.16%      leaf\n");
    CHECK_CONTAINS(out, "Call tree (4 of 9 nodes;"); /* cum >= 6.2ms: main, inl, leaf, 0x11234 */
    CHECK(strstr(out, "Call tree") && strstr(strstr(out, "Call tree"), "inl2") == NULL); /* 4ms < 6.2ms */
    free(out);
    o.raw = 1;
    out = print_to_string(0, p, 0, &o);
    CHECK_CONTAINS(out, "Total: 31000000\n");
    CHECK_CONTAINS(out, "hidden: cum < 6200000,");
    free(out);
    kiln_arena_destroy(a);
}

/* ---- Connect error bodies ---------------------------------------------------------------------------- */

static void t_connect_errors(void)
{
    kiln_arena *a = kiln_arena_new(0);
    const char *code, *msg;
    kiln_err e;
    const char *b1 = "{\"code\":\"invalid_argument\",\"message\":\"label selector: bad\",\"details\":[]}";
    CHECK_EQ_INT(kiln_cq_connect_error(a, (const uint8_t *)b1, strlen(b1), &code, &msg, &e), KILN_OK);
    CHECK_EQ_STR(code, "invalid_argument");
    CHECK_EQ_STR(msg, "label selector: bad");
    const char *b2 = "{\"code\":\"unavailable\"}";
    CHECK_EQ_INT(kiln_cq_connect_error(a, (const uint8_t *)b2, strlen(b2), &code, &msg, &e), KILN_OK);
    CHECK_EQ_STR(msg, "");
    static const char *const bad[] = {"", "[]", "{}", "{\"code\":5}", "{\"code\":\"\"}", "not json",
                                      "{\"code\":\"x\",\"message\":1}", "{\"code\":\"x\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (kiln_cq_connect_error(a, (const uint8_t *)bad[i], strlen(bad[i]), &code, &msg, &e) == KILN_OK)
            test_fail(__FILE__, __LINE__, "error body %s accepted", bad[i]);
    char buf[64];
    kiln_cq_snippet((const uint8_t *)"404 page\r\nnot\x01 found", 20, 100, buf, sizeof buf);
    CHECK_EQ_STR(buf, "404 page not? found");
    kiln_cq_snippet((const uint8_t *)"abcdefgh", 8, 4, buf, sizeof buf);
    CHECK_EQ_STR(buf, "abcd...");
    kiln_cq_snippet((const uint8_t *)"\xff\xc3\xa9", 3, 100, buf, sizeof buf);
    CHECK_EQ_STR(buf, "?\xc3\xa9");
    kiln_cq_snippet((const uint8_t *)"0123456789", 10, 100, buf, 8); /* buffer bound */
    CHECK(strlen(buf) < 8);
    kiln_arena_destroy(a);
}

int main(void)
{
    setenv("TZ", "UTC", 1); /* the committed pprof outputs print times in UTC */
    tzset();
    RUN(t_times);
    RUN(t_durations);
    RUN(t_scaled_labels);
    RUN(t_scale_pick);
    RUN(t_percentages);
    RUN(t_top_vs_pprof_outputs);
    RUN(t_inline_marks);
    RUN(t_folded_and_hot_path);
    RUN(t_tree_built);
    RUN(t_connect_errors);
    return test_summary();
}
