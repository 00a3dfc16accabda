/* Plugin test: qftree.c — SelectMergeProfile's max_nodes truncation and the
 * TREE format, on profiles built here from folded stacks.
 *
 * The expectations are worked out by hand from Pyroscope's rules (the
 * max_nodes-th largest node total is the threshold; what falls below it
 * becomes "other"); the TREE bytes are read back by a decoder written here
 * from the format's description, and rendered as folded stacks. */
#include "qtest.h"

/* ---- profiles from folded text ----------------------------------------------------- */

/* A profile with one function and one location per distinct frame name;
 * "a;b;c 5" is a sample of value 5 whose leaf is c. A frame "x+y" is one
 * location with two lines: y inlined into x (y innermost). */
static kiln_pprof *from_folded(kiln_arena *a, const char *text)
{
    kiln_pprof *p = kiln_arena_calloc(a, sizeof *p);
    perftools__profiles__profile__init(p);
    enum { MAXN = 64 };
    char **st = kiln_arena_calloc(a, (MAXN + 1) * sizeof *st);
    kiln_pprof_function **fv = kiln_arena_calloc(a, MAXN * sizeof *fv);
    kiln_pprof_location **lv = kiln_arena_calloc(a, MAXN * sizeof *lv);
    kiln_pprof_sample **sv = kiln_arena_calloc(a, MAXN * sizeof *sv);
    st[0] = "";
    st[1] = "samples";
    st[2] = "count";
    p->string_table = st;
    p->n_string_table = 3;
    kiln_pprof_value_type *vt = kiln_arena_calloc(a, sizeof *vt);
    perftools__profiles__value_type__init(vt);
    vt->type = 1;
    vt->unit = 2;
    p->sample_type = kiln_arena_calloc(a, sizeof *p->sample_type);
    p->sample_type[0] = vt;
    p->n_sample_type = 1;
    p->function = fv;
    p->location = lv;
    p->sample = sv;
    char *copy = kiln_arena_strndup(a, text, strlen(text));
    for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
        char *sp = strrchr(line, ' ');
        *sp = 0;
        int64_t v = atoll(sp + 1);
        uint64_t locs[32];
        size_t nl = 0;
        for (char *fr = line; fr;) {
            char *semi = strchr(fr, ';');
            if (semi) *semi = 0;
            /* find or make the location of this frame text */
            size_t li = 0;
            while (li < p->n_location && strcmp(st[p->location[li]->mapping_id], fr)) li++;
            if (li == p->n_location) {
                st[p->n_string_table] = kiln_arena_strndup(a, fr, strlen(fr));
                kiln_pprof_location *l = kiln_arena_calloc(a, sizeof *l);
                perftools__profiles__location__init(l);
                l->id = li + 1;
                l->mapping_id = p->n_string_table++; /* the frame text, for lookup here; reset below */
                char parts[2][64];
                size_t np = 0;
                const char *plus = strchr(fr, '+');
                if (plus) {
                    snprintf(parts[0], sizeof parts[0], "%.*s", (int)(plus - fr), fr);
                    snprintf(parts[1], sizeof parts[1], "%s", plus + 1);
                    np = 2;
                } else {
                    snprintf(parts[0], sizeof parts[0], "%s", fr);
                    np = 1;
                }
                l->line = kiln_arena_calloc(a, np * sizeof *l->line);
                /* line[0] is the innermost: for "x+y" that is y */
                for (size_t k = 0; k < np; k++) {
                    const char *fname = parts[np - 1 - k];
                    size_t fi = 0;
                    while (fi < p->n_function && strcmp(st[p->function[fi]->name], fname)) fi++;
                    if (fi == p->n_function) {
                        st[p->n_string_table] = kiln_arena_strndup(a, fname, strlen(fname));
                        kiln_pprof_function *f = kiln_arena_calloc(a, sizeof *f);
                        perftools__profiles__function__init(f);
                        f->id = fi + 1;
                        f->name = (int64_t)p->n_string_table++;
                        fv[p->n_function++] = f;
                    }
                    kiln_pprof_line *ln = kiln_arena_calloc(a, sizeof *ln);
                    perftools__profiles__line__init(ln);
                    ln->function_id = fi + 1;
                    l->line[l->n_line++] = ln;
                }
                lv[p->n_location++] = l;
            }
            locs[nl++] = li + 1;
            fr = semi ? semi + 1 : NULL;
        }
        kiln_pprof_sample *s = kiln_arena_calloc(a, sizeof *s);
        perftools__profiles__sample__init(s);
        s->location_id = kiln_arena_alloc(a, nl * sizeof *s->location_id);
        for (size_t k = 0; k < nl; k++) s->location_id[k] = locs[nl - 1 - k]; /* leaf first */
        s->n_location_id = nl;
        s->value = kiln_arena_alloc(a, sizeof *s->value);
        s->value[0] = v;
        s->n_value = 1;
        sv[p->n_sample++] = s;
    }
    for (size_t i = 0; i < p->n_location; i++) p->location[i]->mapping_id = 0;
    return p;
}

/* The profile's stacks as sorted "root;...;leaf value" lines (function
 * names; a location's lines outermost first), equal stacks summed. */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void folded_of(const kiln_pprof *p, char *out, size_t cap)
{
    char *lines[64];
    size_t n = 0;
    for (size_t i = 0; i < p->n_sample && n < 64; i++) {
        const kiln_pprof_sample *s = p->sample[i];
        char buf[512] = "";
        size_t o = 0;
        for (size_t k = s->n_location_id; k-- > 0;) {
            const kiln_pprof_location *l = NULL;
            for (size_t q = 0; q < p->n_location; q++)
                if (p->location[q]->id == s->location_id[k]) l = p->location[q];
            if (!l) continue;
            for (size_t j = l->n_line; j-- > 0;) {
                const char *nm = "?";
                for (size_t q = 0; q < p->n_function; q++)
                    if (p->function[q]->id == l->line[j]->function_id) nm = p->string_table[p->function[q]->name];
                o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", o ? ";" : "", nm);
            }
        }
        snprintf(buf + o, sizeof buf - o, " %lld", (long long)s->value[0]);
        lines[n++] = strdup(buf);
    }
    qsort(lines, n, sizeof *lines, cmp_str);
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        o += (size_t)snprintf(out + o, cap - o, "%s\n", lines[i]);
        free(lines[i]);
    }
}

static const char *const base =
    "main;a;x 50\n"
    "main;a;y 30\n"
    "main;b;z 10\n"
    "main;b;w 5\n"
    "main;c 3\n"
    "main;d 2\n";

static void check_truncate(const char *in, int64_t max_nodes, const char *want, int line)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = from_folded(a, in);
    kiln_err err;
    int rc = kiln_query_pprof_truncate(p, max_nodes, a, &err);
    if (rc != KILN_OK) test_fail(__FILE__, line, "truncate: %s", err.msg);
    char got[2048];
    folded_of(p, got, sizeof got);
    if (strcmp(got, want)) test_fail(__FILE__, line, "max_nodes %lld:\n got:\n%s want:\n%s", (long long)max_nodes, got, want);
    /* the result is a valid profile that encodes */
    if (kiln_pprof_validate(p, &err) != KILN_OK) test_fail(__FILE__, line, "invalid result: %s", err.msg);
    kiln_arena_destroy(a);
}

static void t_truncate(void)
{
    /* 9 nodes: main 100, a 80, x 50, y 30, b 15, z 10, w 5, c 3, d 2 */
    check_truncate(base, 0, "main;a;x 50\nmain;a;y 30\nmain;b;w 5\nmain;b;z 10\nmain;c 3\nmain;d 2\n", __LINE__);
    check_truncate(base, 9, "main;a;x 50\nmain;a;y 30\nmain;b;w 5\nmain;b;z 10\nmain;c 3\nmain;d 2\n", __LINE__);
    /* 5th largest total is 15: z, w, c, d fall below */
    check_truncate(base, 5, "main;a;x 50\nmain;a;y 30\nmain;b;other 15\nmain;other 5\n", __LINE__);
    /* ties stay: the 6th largest is 10, z stays */
    check_truncate(base, 6, "main;a;x 50\nmain;a;y 30\nmain;b;other 5\nmain;b;z 10\nmain;other 5\n", __LINE__);
    check_truncate(base, 1, "main;other 100\n", __LINE__);
    /* a root below the threshold: its stacks become [other] */
    check_truncate("r1;a 90\nr2 10\n", 2, "other 10\nr1;a 90\n", __LINE__);
    /* a location with an inlined call keeps both lines when one of them stays:
     * nodes main 10, k 10, q 10 (q inlined in k), s 6, t 4 */
    check_truncate("main;k+q;s 6\nmain;k+q;t 4\n", 3, "main;k;q;other 10\n", __LINE__);
}

/* ---- TREE bytes ---------------------------------------------------------------------- */

static uint64_t uv(const uint8_t *b, size_t n, size_t *o)
{
    uint64_t v = 0;
    for (int sh = 0; *o < n && sh < 64; sh += 7) {
        uint8_t c = b[(*o)++];
        v |= (uint64_t)(c & 0x7f) << sh;
        if (!(c & 0x80)) return v;
    }
    return v;
}

/* Reads the tree and prints each node with self > 0 as "path self", in
 * the order written; checks that children come in name order. */
static void tree_folded(const uint8_t *b, size_t n, char *out, size_t cap, int *ordered)
{
    struct fr {
        char path[512];
        size_t left;
        char last[64];
    } st[64];
    size_t sp = 0, o = 0, off = 0;
    out[0] = 0;
    *ordered = 1;
    char *lines[64];
    size_t nl = 0;
    while (off < n) {
        size_t len = (size_t)uv(b, n, &off);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)len, (const char *)b + off);
        off += len;
        int64_t self = (int64_t)uv(b, n, &off);
        size_t kids = (size_t)uv(b, n, &off);
        char path[512] = "";
        if (sp) {
            struct fr *par = &st[sp - 1];
            /* written last child first: names must come in decreasing order */
            if (par->last[0] && strcmp(name, par->last) >= 0) *ordered = 0;
            snprintf(par->last, sizeof par->last, "%s", name);
            snprintf(path, sizeof path, "%s%s%s", par->path, par->path[0] ? ";" : "", name);
            par->left--;
        }
        if (self > 0 && nl < 64) {
            char line[600];
            snprintf(line, sizeof line, "%s %lld", path, (long long)self);
            lines[nl++] = strdup(line);
        }
        while (sp && st[sp - 1].left == 0) sp--;
        if (kids) {
            snprintf(st[sp].path, sizeof st[sp].path, "%s", path);
            st[sp].left = kids;
            st[sp].last[0] = 0;
            sp++;
        }
    }
    qsort(lines, nl, sizeof *lines, cmp_str);
    for (size_t i = 0; i < nl; i++) {
        o += (size_t)snprintf(out + o, cap - o, "%s\n", lines[i]);
        free(lines[i]);
    }
}

static void check_tree(const char *in, int64_t max_nodes, const char *want, int line)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = from_folded(a, in);
    kq_buf b = {0};
    kiln_err err;
    CHECK_EQ_INT(kiln_query_pprof_tree_bytes(p, max_nodes, &b, &err), KILN_OK);
    char got[2048];
    int ordered;
    tree_folded((const uint8_t *)b.p, b.n, got, sizeof got, &ordered);
    if (strcmp(got, want)) test_fail(__FILE__, line, "tree max_nodes %lld:\n got:\n%s want:\n%s", (long long)max_nodes, got, want);
    if (!ordered) test_fail(__FILE__, line, "children not in name order");
    kiln_query_buf_free(&b);
    kiln_arena_destroy(a);
}

static void t_tree(void)
{
    /* untruncated: the tree's stacks are the input's */
    check_tree(base, 0, "main;a;x 50\nmain;a;y 30\nmain;b;w 5\nmain;b;z 10\nmain;c 3\nmain;d 2\n", __LINE__);
    check_tree(base, 5, "main;a;x 50\nmain;a;y 30\nmain;b;other 15\nmain;other 5\n", __LINE__);
    /* names merge (two locations, one function name); inlined lines are frames */
    check_tree("m;k+q 4\nm;k;q 6\n", 0, "m;k;q 10\n", __LINE__);
    /* a real "other" child takes what is folded beside it: nodes m 20, other 9,
     * p 6, z 5 -> max_nodes 2 keeps m and other (9), folds p and z into it */
    check_tree("m;other 9\nm;p 6\nm;z 5\n", 2, "m;other 20\n", __LINE__);
    /* the exact bytes of a small tree: virtual root, then m with its child a */
    kiln_arena *a = kiln_arena_new(0);
    kq_buf b = {0};
    kiln_err err;
    CHECK_EQ_INT(kiln_query_pprof_tree_bytes(from_folded(a, "m;a 3\nm 2\n"), 0, &b, &err), KILN_OK);
    static const uint8_t want[] = {0, 0, 1, 1, 'm', 2, 1, 1, 'a', 3, 0};
    CHECK_EQ_INT(b.n, sizeof want);
    CHECK(b.n == sizeof want && !memcmp(b.p, want, sizeof want));
    kiln_query_buf_free(&b);
    kiln_arena_destroy(a);
}

static void t_dot(void)
{
    kiln_arena *a = kiln_arena_new(0);
    kq_buf b = {0};
    kiln_err err;
    /* f recursive in one stack: its cum counts that sample once */
    const char *in = "main;a;x 50\nmain;a;y 30\nmain;b;z 10\nmain;b;w 5\nmain;c 3\nmain;x;x 2\n";
    CHECK_EQ_INT(kiln_query_pprof_dot(from_folded(a, in), 3, &b, &err), KILN_OK);
    kiln_query_buf_putc(&b, 0);
    const char *d = b.p;
    CHECK(!strncmp(d, "digraph \"samples\" {\n", 20));
    CHECK_CONTAINS(d, "Total: 100 count\\lShowing 3 of 8 nodes");
    /* the three largest cum: main 100, a 80, x 52 (50 + 2 once) */
    CHECK_CONTAINS(d, "N1 [label=\"main\\n0 (0.00%)\\nof 100 (100.00%)\"");
    CHECK_CONTAINS(d, "N2 [label=\"a\\n0 (0.00%)\\nof 80 (80.00%)\"");
    CHECK_CONTAINS(d, "N3 [label=\"x\\n52 (52.00%)\\nof 52 (52.00%)\"");
    CHECK(!strstr(d, "N4 ["));
    /* edges between shown nodes, heaviest first; x -> x is not an edge */
    const char *e1 = strstr(d, "N1 -> N2 [label=\" 80\""), *e2 = strstr(d, "N2 -> N3 [label=\" 50\""),
               *e3 = strstr(d, "N1 -> N3 [label=\" 2\"");
    CHECK(e1 && e2 && e3 && e1 < e2 && e2 < e3);
    CHECK(!strstr(d, "N3 -> N3"));
    CHECK(d[b.n - 3] == '}' && d[b.n - 2] == '\n');
    kiln_query_buf_free(&b);
    /* names with quotes and backslashes are escaped */
    CHECK_EQ_INT(kiln_query_pprof_dot(from_folded(a, "say\"hi\\ 1\n"), 0, &b, &err), KILN_OK);
    kiln_query_buf_putc(&b, 0);
    CHECK_CONTAINS(b.p, "label=\"say\\\"hi\\\\\\n1 (100.00%)");
    kiln_query_buf_free(&b);
    kiln_arena_destroy(a);
}

static void t_base64(void)
{
    static const char *const v[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                       {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        kq_buf b = {0};
        kiln_query_buf_base64(&b, v[i][0], strlen(v[i][0]));
        kiln_query_buf_putc(&b, 0);
        CHECK_EQ_STR(b.p, v[i][1]);
        kiln_query_buf_free(&b);
    }
}

int main(void)
{
    RUN(t_base64);
    RUN(t_dot);
    RUN(t_truncate);
    RUN(t_tree);
    return test_summary();
}
