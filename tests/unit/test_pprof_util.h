/* tests/unit/test_pprof_util.h — helpers shared by the test_pprof*.c tests:
 * a small builder for kiln_pprof profiles (arena-allocated, fixed capacity
 * of TB_CAP entries per table), corpus decoding, pprof's display-unit
 * formatting (to compare with `go tool pprof -top` output), folded stacks,
 * and running `go tool pprof` when go is on the PATH.
 *
 * Everything is static and marked unused so each test includes what it needs.
 */
#ifndef KILN_TEST_PPROF_UTIL_H
#define KILN_TEST_PPROF_UTIL_H

#include "testlib.h"

#include <kiln/pprof.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TU __attribute__((unused)) static

/* ---- profile builder ------------------------------------------------------ */

#define TB_CAP 256

TU kiln_pprof *tb_new(kiln_arena *a)
{
    static const kiln_pprof init = PERFTOOLS__PROFILES__PROFILE__INIT;
    kiln_pprof *p = kiln_arena_calloc(a, sizeof *p);
    *p = init;
    p->string_table = kiln_arena_calloc(a, TB_CAP * 4 * sizeof(char *));
    p->sample_type = kiln_arena_calloc(a, TB_CAP * sizeof(void *));
    p->sample = kiln_arena_calloc(a, TB_CAP * sizeof(void *));
    p->mapping = kiln_arena_calloc(a, TB_CAP * sizeof(void *));
    p->location = kiln_arena_calloc(a, TB_CAP * sizeof(void *));
    p->function = kiln_arena_calloc(a, TB_CAP * sizeof(void *));
    p->comment = kiln_arena_calloc(a, TB_CAP * sizeof(int64_t));
    p->string_table[p->n_string_table++] = kiln_arena_strndup(a, "", 0);
    return p;
}

TU int64_t tb_str(kiln_arena *a, kiln_pprof *p, const char *s)
{
    for (size_t i = 0; i < p->n_string_table; i++)
        if (strcmp(p->string_table[i], s) == 0) return (int64_t)i;
    p->string_table[p->n_string_table] = kiln_arena_strndup(a, s, strlen(s));
    return (int64_t)p->n_string_table++;
}

TU kiln_pprof_value_type *tb_vt(kiln_arena *a, kiln_pprof *p, const char *type, const char *unit)
{
    static const kiln_pprof_value_type init = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
    kiln_pprof_value_type *v = kiln_arena_calloc(a, sizeof *v);
    *v = init;
    v->type = tb_str(a, p, type);
    v->unit = tb_str(a, p, unit);
    return v;
}

TU void tb_type(kiln_arena *a, kiln_pprof *p, const char *type, const char *unit)
{
    p->sample_type[p->n_sample_type++] = tb_vt(a, p, type, unit);
}

TU kiln_pprof_function *tb_func(kiln_arena *a, kiln_pprof *p, uint64_t id, const char *name,
                                const char *file, int64_t start_line)
{
    static const kiln_pprof_function init = PERFTOOLS__PROFILES__FUNCTION__INIT;
    kiln_pprof_function *f = kiln_arena_calloc(a, sizeof *f);
    *f = init;
    f->id = id;
    f->name = tb_str(a, p, name);
    f->system_name = f->name;
    f->filename = tb_str(a, p, file);
    f->start_line = start_line;
    p->function[p->n_function++] = f;
    return f;
}

TU kiln_pprof_mapping *tb_map(kiln_arena *a, kiln_pprof *p, uint64_t id, uint64_t start,
                              uint64_t limit, uint64_t offset, const char *file, const char *build_id)
{
    static const kiln_pprof_mapping init = PERFTOOLS__PROFILES__MAPPING__INIT;
    kiln_pprof_mapping *m = kiln_arena_calloc(a, sizeof *m);
    *m = init;
    m->id = id;
    m->memory_start = start;
    m->memory_limit = limit;
    m->file_offset = offset;
    m->filename = tb_str(a, p, file);
    m->build_id = tb_str(a, p, build_id);
    m->has_functions = 1;
    p->mapping[p->n_mapping++] = m;
    return m;
}

/* lines: n pairs of (function id, line number), innermost first */
TU kiln_pprof_location *tb_loc(kiln_arena *a, kiln_pprof *p, uint64_t id, uint64_t mapping_id,
                               uint64_t address, size_t n, const int64_t *lines)
{
    static const kiln_pprof_location init = PERFTOOLS__PROFILES__LOCATION__INIT;
    static const kiln_pprof_line linit = PERFTOOLS__PROFILES__LINE__INIT;
    kiln_pprof_location *l = kiln_arena_calloc(a, sizeof *l);
    *l = init;
    l->id = id;
    l->mapping_id = mapping_id;
    l->address = address;
    l->n_line = n;
    l->line = n ? kiln_arena_calloc(a, n * sizeof *l->line) : NULL;
    for (size_t i = 0; i < n; i++) {
        kiln_pprof_line *ln = kiln_arena_calloc(a, sizeof *ln);
        *ln = linit;
        ln->function_id = (uint64_t)lines[2 * i];
        ln->line = lines[2 * i + 1];
        l->line[i] = ln;
    }
    p->location[p->n_location++] = l;
    return l;
}

TU kiln_pprof_sample *tb_sample(kiln_arena *a, kiln_pprof *p, size_t n_loc, const uint64_t *locs,
                                size_t n_val, const int64_t *vals)
{
    static const kiln_pprof_sample init = PERFTOOLS__PROFILES__SAMPLE__INIT;
    kiln_pprof_sample *s = kiln_arena_calloc(a, sizeof *s);
    *s = init;
    s->n_location_id = n_loc;
    s->location_id = kiln_arena_calloc(a, (n_loc + 1) * sizeof(uint64_t));
    memcpy(s->location_id, locs, n_loc * sizeof(uint64_t));
    s->n_value = n_val;
    s->value = kiln_arena_calloc(a, (n_val + 1) * sizeof(int64_t));
    memcpy(s->value, vals, n_val * sizeof(int64_t));
    s->label = kiln_arena_calloc(a, 16 * sizeof(void *));
    p->sample[p->n_sample++] = s;
    return s;
}

TU kiln_pprof_label *tb_label(kiln_arena *a, kiln_pprof *p, kiln_pprof_sample *s, const char *key,
                              const char *str, int64_t num, const char *unit)
{
    static const kiln_pprof_label init = PERFTOOLS__PROFILES__LABEL__INIT;
    kiln_pprof_label *l = kiln_arena_calloc(a, sizeof *l);
    *l = init;
    l->key = tb_str(a, p, key);
    l->str = str ? tb_str(a, p, str) : 0;
    l->num = num;
    l->num_unit = unit ? tb_str(a, p, unit) : 0;
    s->label[s->n_label++] = l;
    return l;
}

/* A valid two-type profile: main -> work -> leaf (leaf inlined into work at
 * one location), one mapping. */
TU kiln_pprof *tb_example(kiln_arena *a)
{
    kiln_pprof *p = tb_new(a);
    tb_type(a, p, "samples", "count");
    tb_type(a, p, "cpu", "nanoseconds");
    p->period_type = tb_vt(a, p, "cpu", "nanoseconds");
    p->period = 10000000;
    p->time_nanos = 1700000000000000000;
    p->duration_nanos = 10000000000;
    tb_map(a, p, 1, 0x400000, 0x800000, 0, "/bin/app", "abc123");
    tb_func(a, p, 1, "main", "main.go", 10);
    tb_func(a, p, 2, "work", "work.go", 20);
    tb_func(a, p, 3, "leaf", "leaf.go", 30);
    tb_loc(a, p, 1, 1, 0x401000, 1, (int64_t[]){1, 11});
    tb_loc(a, p, 2, 1, 0x402000, 2, (int64_t[]){3, 31, 2, 21}); /* leaf inlined into work */
    tb_loc(a, p, 3, 1, 0x403000, 1, (int64_t[]){2, 25});
    kiln_pprof_sample *s = tb_sample(a, p, 2, (uint64_t[]){2, 1}, 2, (int64_t[]){3, 30000000});
    tb_label(a, p, s, "thread", "t1", 0, NULL);
    tb_sample(a, p, 2, (uint64_t[]){3, 1}, 2, (int64_t[]){1, 10000000});
    tb_sample(a, p, 1, (uint64_t[]){1}, 2, (int64_t[]){2, 20000000});
    return p;
}

/* ---- corpus ------------------------------------------------------------------ */

/* Decodes a corpus file into `a`; NULL (with the error printed) on failure. */
TU kiln_pprof *load_corpus(kiln_arena *a, const char *name)
{
    size_t n;
    uint8_t *b = test_read_corpus(name, &n);
    if (!b) {
        fprintf(stderr, "  cannot read corpus file %s\n", name);
        return NULL;
    }
    kiln_pprof *p = NULL;
    kiln_err e = {0};
    int rc = kiln_pprof_decode(a, b, n, NULL, &p, &e);
    free(b);
    if (rc) {
        fprintf(stderr, "  decode %s: %s\n", name, e.msg);
        return NULL;
    }
    return p;
}

TU char *read_text(const char *path)
{
    size_t n;
    uint8_t *b = test_read_file(path, &n);
    if (!b) return NULL;
    char *s = realloc(b, n + 1);
    s[n] = 0;
    return s;
}

TU char *read_expected(const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/expected/%s", test_corpus_dir(), name);
    return read_text(path);
}

/* ---- pprof's value formatting -------------------------------------------- */

/* Factor of a display unit of pprof's measurement package; 0 if unknown. */
TU double unit_factor(const char *u)
{
    static const struct {
        const char *name;
        double f;
    } units[] = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"mins", 60e9}, {"hrs", 3600e9},
                 {"days", 86400e9}, {"wks", 7 * 86400e9}, {"yrs", 365 * 86400e9},
                 {"B", 1}, {"kB", 1024.0}, {"MB", 1048576.0}, {"GB", 1073741824.0},
                 {"TB", 1099511627776.0}, {"PB", 1125899906842624.0}, {"", 1}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(units[i].name, u) == 0) return units[i].f;
    return 0;
}

/* Formats `v` as pprof prints it in unit `u` (Sprintf("%.2f") with a ".00"
 * suffix removed; "0" for zero). */
TU void pprof_format(int64_t v, const char *u, char *out, size_t cap)
{
    double f = unit_factor(u);
    char num[64];
    snprintf(num, sizeof num, "%.2f", (double)v / f);
    size_t n = strlen(num);
    if (n > 3 && strcmp(num + n - 3, ".00") == 0) num[n - 3] = 0;
    if (strcmp(num, "0") == 0 || strcmp(num, "-0") == 0) {
        snprintf(out, cap, "0");
        return;
    }
    snprintf(out, cap, "%s%s", num, u);
}

/* Splits a pprof display value ("1.28s", "512.01kB", "118065721", "0") into
 * number and unit. */
TU void split_value(const char *s, char *unit, size_t cap)
{
    const char *p = s;
    while (*p && (isdigit((unsigned char)*p) || *p == '.' || *p == '-' || *p == 'e' || *p == '+')) {
        if (*p == 'e' && !(isdigit((unsigned char)p[1]) || p[1] == '+' || p[1] == '-')) break;
        p++;
    }
    snprintf(unit, cap, "%s", p);
}

/* ---- go tool pprof ------------------------------------------------------------ */

/* 1 if `go` is on the PATH. */
TU int have_go(void)
{
    return system("command -v go >/dev/null 2>&1") == 0;
}

/* Runs a shell command and returns its stdout (malloc'ed), NULL on failure. */
TU char *run_capture(const char *cmd)
{
    FILE *f = popen(cmd, "r");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 1 >= cap) buf = realloc(buf, cap *= 2);
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        if (!r) break;
        n += r;
    }
    buf[n] = 0;
    int st = pclose(f);
    if (st != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- -top tables ------------------------------------------------------------- */

typedef struct top_row {
    char flat[64], cum[64];
    char name[1024];
} top_row;

/* Parses the rows of a `go tool pprof -top` output (after the "flat  flat%"
 * header). Names lose pprof's " (inline)" / " (partial-inline)" suffix.
 * Returns the number of rows (at most cap). Fills *total_str with the value
 * after "of " in "Showing nodes accounting for X, Y% of Z total". */
TU size_t parse_top(const char *text, top_row *rows, size_t cap, char *total_str, size_t tcap,
                    size_t *out_of)
{
    size_t n = 0;
    int in_table = 0;
    if (total_str) total_str[0] = 0;
    if (out_of) *out_of = 0;
    const char *line = text;
    while (line && *line) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        char buf[2048];
        if (len >= sizeof buf) len = sizeof buf - 1;
        memcpy(buf, line, len);
        buf[len] = 0;
        const char *t = strstr(buf, "% of ");
        if (!in_table && t && total_str) {
            sscanf(t + 5, "%63s", total_str);
        }
        const char *o = strstr(buf, " nodes out of ");
        if (!in_table && o && out_of) *out_of = (size_t)strtoull(o + 14, NULL, 10);
        if (in_table && n < cap) {
            char f1[64], f2[64], f3[64], c1[64], c2[64];
            int used = 0;
            if (sscanf(buf, " %63s %63s %63s %63s %63s %n", f1, f2, f3, c1, c2, &used) == 5) {
                top_row *r = &rows[n++];
                snprintf(r->flat, sizeof r->flat, "%s", f1);
                snprintf(r->cum, sizeof r->cum, "%s", c1);
                snprintf(r->name, sizeof r->name, "%s", buf + used);
                char *nm = r->name;
                size_t nl = strlen(nm);
                const char *suffixes[] = {" (inline)", " (partial-inline)"};
                for (int k = 0; k < 2; k++) {
                    size_t sl = strlen(suffixes[k]);
                    if (nl > sl && strcmp(nm + nl - sl, suffixes[k]) == 0) {
                        nm[nl - sl] = 0;
                        break;
                    }
                }
            }
        }
        if (strstr(buf, "flat  flat%")) in_table = 1;
        line = eol ? eol + 1 : NULL;
    }
    return n;
}

/* The name pprof prints for a kiln top row: function names as they are,
 * mapping-file rows as "[basename]". `objfile` rows are told apart by the
 * caller (kiln gives them the mapping's filename). */
TU const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Finds the kiln row pprof shows as `name`. */
TU const kiln_pprof_fn_total *find_row(const kiln_pprof_fn_total *rows, size_t n, const char *name,
                                       size_t *idx)
{
    size_t nl = strlen(name);
    int bracket = nl >= 2 && name[0] == '[' && name[nl - 1] == ']';
    if (strcmp(name, "<unknown>") == 0) name = ""; /* no name, no mapping file */
    for (size_t i = 0; i < n; i++) {
        int match = strcmp(rows[i].name, name) == 0;
        if (!match && bracket) {
            const char *b = base_name(rows[i].name);
            match = strlen(b) == nl - 2 && strncmp(b, name + 1, nl - 2) == 0;
        }
        if (match) {
            if (idx) *idx = i;
            return &rows[i];
        }
    }
    return NULL;
}

/* Checks one expected/...top...txt file (a `go tool pprof -top` output)
 * against kiln's top of `p`: every printed row's flat and cum formatted in
 * the report's display unit, the total, the order and the node count. */
TU void check_top_profile_at(const kiln_pprof *p, const char *expected, const char *file, int line)
{
    char *text = read_expected(expected);
    if (!text) {
        test_fail(file, line, "cannot read expected/%s", expected);
        return;
    }
    kiln_pprof_fn_total *top = NULL;
    char type[128] = "";
    const char *t = strncmp(text, "Type: ", 6) == 0 ? text : strstr(text, "\nType: ");
    if (!t) {
        test_fail(file, line, "%s: no Type: line", expected);
        goto out;
    }
    sscanf(t + (t == text ? 6 : 7), "%127s", type);
    int si = kiln_pprof_sample_index(p, type);
    if (si < 0) {
        test_fail(file, line, "%s: no sample type %s", expected, type);
        goto out;
    }
    top_row rows[64];
    char total_s[64], unit[64];
    size_t out_of = 0;
    size_t n = parse_top(text, rows, 64, total_s, sizeof total_s, &out_of);
    CHECK(n > 0);
    split_value(total_s, unit, sizeof unit);
    if (!unit_factor(unit) && unit[0]) test_fail(file, line, "unknown unit %s", unit);

    size_t nt = 0;
    int64_t total = 0;
    kiln_err e = {0};
    CHECK_EQ_INT(kiln_pprof_top(p, (size_t)si, &top, &nt, &total, &e), KILN_OK);
    char got[64];
    pprof_format(total, unit, got, sizeof got);
    if (strcmp(got, total_s)) test_fail(file, line, "%s: total %s, pprof %s", expected, got, total_s);
    /* node count: "out of N" after dropping M nodes */
    const char *dr = strstr(text, "Dropped ");
    size_t dropped = dr ? (size_t)strtoull(dr + 8, NULL, 10) : 0;
    if (out_of && out_of + dropped != nt)
        test_fail(file, line, "%s: kiln has %zu nodes, pprof %zu + %zu dropped", expected, nt, out_of,
                  dropped);
    size_t last = 0;
    for (size_t i = 0; i < n; i++) {
        size_t idx = 0;
        const kiln_pprof_fn_total *r = find_row(top, nt, rows[i].name, &idx);
        if (!r) {
            test_fail(file, line, "%s: no kiln row for %s", expected, rows[i].name);
            continue;
        }
        char gf[64], gc[64];
        pprof_format(r->flat, unit, gf, sizeof gf);
        pprof_format(r->cum, unit, gc, sizeof gc);
        if (strcmp(gf, rows[i].flat) || strcmp(gc, rows[i].cum))
            test_fail(file, line, "%s: %s: kiln flat %s cum %s, pprof flat %s cum %s", expected,
                      rows[i].name, gf, gc, rows[i].flat, rows[i].cum);
        /* pprof's order (flat-sorted files only; -cum files are sorted by cum) */
        if (!strstr(expected, "top_cum")) {
            if (i && idx <= last)
                test_fail(file, line, "%s: %s out of pprof's order", expected, rows[i].name);
            last = idx;
        }
    }
out:
    free(top);
    free(text);
}

#define check_top_profile(p, expected, line) check_top_profile_at((p), (expected), __FILE__, (line))

/* ---- folded stacks ------------------------------------------------------------- */

typedef struct folded {
    char **lines; /* "a;b;c" */
    int64_t *vals;
    size_t n, cap;
} folded;

TU void folded_add(folded *f, const char *stack, int64_t v)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->lines[i], stack) == 0) {
            f->vals[i] += v;
            return;
        }
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 64;
        f->lines = realloc(f->lines, f->cap * sizeof *f->lines);
        f->vals = realloc(f->vals, f->cap * sizeof *f->vals);
    }
    f->lines[f->n] = strdup(stack);
    f->vals[f->n++] = v;
}

TU void folded_free(folded *f)
{
    for (size_t i = 0; i < f->n; i++) free(f->lines[i]);
    free(f->lines);
    free(f->vals);
    memset(f, 0, sizeof *f);
}

TU const kiln_pprof_location *find_loc(const kiln_pprof *p, uint64_t id)
{
    if (id >= 1 && id <= p->n_location && p->location[id - 1]->id == id) return p->location[id - 1];
    for (size_t i = 0; i < p->n_location; i++)
        if (p->location[i]->id == id) return p->location[i];
    return NULL;
}

TU const kiln_pprof_function *find_func(const kiln_pprof *p, uint64_t id)
{
    if (id >= 1 && id <= p->n_function && p->function[id - 1]->id == id) return p->function[id - 1];
    for (size_t i = 0; i < p->n_function; i++)
        if (p->function[i]->id == id) return p->function[i];
    return NULL;
}

/* Folded stacks of sample index `si` (root first, inlined frames expanded,
 * unsymbolized frames as 0x<address>), zero values skipped. */
TU void fold_profile(const kiln_pprof *p, size_t si, folded *out)
{
    char *buf = malloc(1 << 20);
    for (size_t s = 0; s < p->n_sample; s++) {
        const kiln_pprof_sample *sm = p->sample[s];
        if (!sm->value[si]) continue;
        size_t o = 0;
        buf[0] = 0;
        for (size_t j = sm->n_location_id; j-- > 0;) {
            const kiln_pprof_location *l = find_loc(p, sm->location_id[j]);
            if (!l->n_line) {
                o += (size_t)snprintf(buf + o, (1 << 20) - o, "%s0x%llx", o ? ";" : "",
                                      (unsigned long long)l->address);
                continue;
            }
            for (size_t k = l->n_line; k-- > 0;) {
                const kiln_pprof_function *f = find_func(p, l->line[k]->function_id);
                o += (size_t)snprintf(buf + o, (1 << 20) - o, "%s%s", o ? ";" : "",
                                      p->string_table[f->name]);
            }
        }
        folded_add(out, buf, sm->value[si]);
    }
    free(buf);
}

/* Parses "stack value" lines (split at the last space). */
TU void parse_folded(const char *text, folded *out)
{
    const char *line = text;
    while (line && *line) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        char *buf = malloc(len + 1);
        memcpy(buf, line, len);
        buf[len] = 0;
        char *sp = strrchr(buf, ' ');
        if (sp) {
            *sp = 0;
            folded_add(out, buf, strtoll(sp + 1, NULL, 10));
        }
        free(buf);
        line = eol ? eol + 1 : NULL;
    }
}

#endif
