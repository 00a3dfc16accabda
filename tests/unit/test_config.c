/* tests/unit/test_config.c — the config layer's building blocks: scalar
 * parsers (durations, sizes, bools, ints, numbers), env expansion, and the
 * YAML tree (paths, positions, anchors/aliases/merges, duplicate keys,
 * libyaml errors, limits).
 *
 * Duration expectations were cross-checked against Go's time.ParseDuration
 * (golang-go 1.19) for every row Go accepts ("d" is kiln's addition).
 */
#include <stdlib.h>

#include "kiln_config.h"
#include "testlib.h"

/* ---- durations ------------------------------------------------------------------ */

static const struct {
    const char *in;
    int ok;
    int64_t ns;
} durations[] = {
    {"0", 1, 0},
    {"15s", 1, 15000000000LL},
    {"1h30m", 1, 5400000000000LL},
    {"250ms", 1, 250000000LL},
    {"1.5h", 1, 5400000000000LL},
    {"2d", 1, 172800000000000LL},
    {"100us", 1, 100000LL},
    {"100\xc2\xb5s", 1, 100000LL},
    {"100\xce\xbcs", 1, 100000LL},
    {"7ns", 1, 7LL},
    {"1h2m3s4ms5us6ns", 1, 3723004005006LL},
    {".5s", 1, 500000000LL},
    {"1.s", 1, 1000000000LL},
    {"0.000000001s", 1, 1LL},
    {"-1.5h", 1, -5400000000000LL},
    {"+10s", 1, 10000000000LL},
    {"0s", 1, 0},
    {"2562047h", 1, 9223369200000000000LL},
    {"9223372036854775807ns", 1, INT64_MAX},
    {"-9223372036854775808ns", 1, INT64_MIN},
    {"soon", 0, 0},
    {"", 0, 0},
    {"10", 0, 0},
    {"1x", 0, 0},
    {"1H", 0, 0}, /* units are case-sensitive, as in Go */
    {"s", 0, 0},
    {".s", 0, 0},
    {"1 s", 0, 0},
    {"-", 0, 0},
    {"1.5.5s", 0, 0},
    {"2562048h", 0, 0},
    {"9223372036854775808ns", 0, 0},
    {"110000000000000000000ns", 0, 0},
};

static void t_durations(void)
{
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
        kiln_err e;
        kiln_err_clear(&e);
        int64_t v = 12345;
        int rc = kiln_parse_duration(durations[i].in, &v, &e);
        if (durations[i].ok) {
            if (rc != KILN_OK) fprintf(stderr, "  input \"%s\": %s\n", durations[i].in, e.msg);
            CHECK_EQ_INT(rc, KILN_OK);
            CHECK_EQ_INT(v, durations[i].ns);
        } else {
            if (rc == KILN_OK) fprintf(stderr, "  input \"%s\" accepted as %lld\n", durations[i].in, (long long)v);
            CHECK_EQ_INT(rc, KILN_EINVAL);
            CHECK_EQ_INT(e.code, KILN_EINVAL);
            CHECK(e.msg[0] != 0);
        }
    }
    kiln_err e;
    int64_t v;
    kiln_parse_duration("soon", &v, &e);
    CHECK_EQ_STR(e.msg, "expected a duration like 24h, got \"soon\"");
    kiln_parse_duration("10", &v, &e);
    CHECK_EQ_STR(e.msg, "expected a duration like 24h, got \"10\" (a unit is required: ns, us, ms, s, m, h, d)");
    kiln_parse_duration("2562048h", &v, &e);
    CHECK_CONTAINS(e.msg, "out of range");
    /* a NULL err is allowed */
    CHECK_EQ_INT(kiln_parse_duration("x", &v, NULL), KILN_EINVAL);
}

/* ---- sizes -------------------------------------------------------------------------------- */

static const struct {
    const char *in;
    int ok;
    int64_t bytes;
} sizes[] = {
    {"1024", 1, 1024},
    {"0", 1, 0},
    {"512KiB", 1, 524288},
    {"4MB", 1, 4000000},
    {"1GiB", 1, 1073741824},
    {"1.5MiB", 1, 1572864},
    {"2kb", 1, 2000},
    {"2KB", 1, 2000},
    {"2kib", 1, 2048},
    {"2k", 1, 2048},
    {"2K", 1, 2048},
    {"3m", 1, 3145728},
    {"1g", 1, 1073741824},
    {"1Gi", 1, 1073741824},
    {"1TB", 1, 1000000000000LL},
    {"1TiB", 1, 1099511627776LL},
    {"1PiB", 1, 1125899906842624LL},
    {"100B", 1, 100},
    {"100b", 1, 100},
    {"512 KiB", 1, 524288},
    {"0.5KiB", 1, 512},
    {"1.3KiB", 1, 1331}, /* 1331.2 rounds to the nearest byte */
    {"9223372036854775807", 1, INT64_MAX},
    {"8191PiB", 1, 9222246136947933184LL},
    {"lots", 0, 0},
    {"", 0, 0},
    {"-1KiB", 0, 0},
    {"1.5", 0, 0},
    {"1.5B", 0, 0},
    {"KiB", 0, 0},
    {"1XB", 0, 0},
    {"1 KiB x", 0, 0},
    {"9223372036854775808", 0, 0},
    {"8192PiB", 0, 0},
    {"1EiB", 0, 0},
};

static void t_sizes(void)
{
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        kiln_err e;
        kiln_err_clear(&e);
        int64_t v = -7;
        int rc = kiln_parse_bytes(sizes[i].in, &v, &e);
        if (sizes[i].ok) {
            if (rc != KILN_OK) fprintf(stderr, "  input \"%s\": %s\n", sizes[i].in, e.msg);
            CHECK_EQ_INT(rc, KILN_OK);
            CHECK_EQ_INT(v, sizes[i].bytes);
        } else {
            if (rc == KILN_OK) fprintf(stderr, "  input \"%s\" accepted as %lld\n", sizes[i].in, (long long)v);
            CHECK_EQ_INT(rc, KILN_EINVAL);
        }
    }
    kiln_err e;
    int64_t v;
    kiln_parse_bytes("lots", &v, &e);
    CHECK_EQ_STR(e.msg, "expected a size like 512KiB or 4MB, got \"lots\"");
}

/* ---- bool, int, double ------------------------------------------------------------------------ */

static void t_bools(void)
{
    static const struct {
        const char *in;
        int rc, v;
    } rows[] = {
        {"true", KILN_OK, 1},  {"TRUE", KILN_OK, 1},  {"True", KILN_OK, 1}, {"yes", KILN_OK, 1},
        {"On", KILN_OK, 1},    {"false", KILN_OK, 0}, {"No", KILN_OK, 0},   {"OFF", KILN_OK, 0},
        {"1", KILN_EINVAL, -1}, {"", KILN_EINVAL, -1}, {"maybe", KILN_EINVAL, -1},
        {"truee", KILN_EINVAL, -1}, {"y", KILN_EINVAL, -1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int v = -1;
        kiln_err e;
        CHECK_EQ_INT(kiln_parse_bool(rows[i].in, &v, &e), rows[i].rc);
        CHECK_EQ_INT(v, rows[i].v);
    }
    int v;
    kiln_err e;
    kiln_parse_bool("maybe", &v, &e);
    CHECK_EQ_STR(e.msg, "expected true or false, got \"maybe\"");
}

static void t_ints(void)
{
    static const struct {
        const char *in;
        int rc;
        int64_t v;
    } rows[] = {
        {"0", KILN_OK, 0},
        {"42", KILN_OK, 42},
        {"-42", KILN_OK, -42},
        {"+7", KILN_OK, 7},
        {"007", KILN_OK, 7},
        {"9223372036854775807", KILN_OK, INT64_MAX},
        {"-9223372036854775808", KILN_OK, INT64_MIN},
        {"9223372036854775808", KILN_EINVAL, 99},
        {"-9223372036854775809", KILN_EINVAL, 99},
        {"99999999999999999999999", KILN_EINVAL, 99},
        {"", KILN_EINVAL, 99},
        {"-", KILN_EINVAL, 99},
        {"1.0", KILN_EINVAL, 99},
        {"0x10", KILN_EINVAL, 99},
        {" 1", KILN_EINVAL, 99},
        {"1 ", KILN_EINVAL, 99},
        {"1e3", KILN_EINVAL, 99},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int64_t v = 99;
        kiln_err e;
        CHECK_EQ_INT(kiln_parse_int(rows[i].in, &v, &e), rows[i].rc);
        CHECK_EQ_INT(v, rows[i].v);
    }
    int64_t v;
    kiln_err e;
    kiln_parse_int("9223372036854775808", &v, &e);
    CHECK_EQ_STR(e.msg, "integer \"9223372036854775808\" is out of range");
    kiln_parse_int("ten", &v, &e);
    CHECK_EQ_STR(e.msg, "expected an integer, got \"ten\"");
}

static void t_doubles(void)
{
    static const struct {
        const char *in;
        int rc;
        double v;
    } rows[] = {
        {"0", KILN_OK, 0},       {"1.5", KILN_OK, 1.5},    {"-2.25", KILN_OK, -2.25},
        {".5", KILN_OK, 0.5},    {"1e3", KILN_OK, 1000},   {"+3", KILN_OK, 3},
        {"", KILN_EINVAL, 9},    {"abc", KILN_EINVAL, 9},  {"1.5x", KILN_EINVAL, 9},
        {"nan", KILN_EINVAL, 9}, {"inf", KILN_EINVAL, 9},  {"1e999", KILN_EINVAL, 9},
        {" 1", KILN_EINVAL, 9},  {".inf", KILN_EINVAL, 9},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        double v = 9;
        kiln_err e;
        CHECK_EQ_INT(kiln_parse_double(rows[i].in, &v, &e), rows[i].rc);
        CHECK(v == rows[i].v);
    }
}

static void t_formatters(void)
{
    char b[64];
    CHECK_EQ_STR(kiln_format_duration(0, b, sizeof b), "0s");
    CHECK_EQ_STR(kiln_format_duration(5400000000000LL, b, sizeof b), "1h30m");
    CHECK_EQ_STR(kiln_format_duration(250000000LL, b, sizeof b), "250ms");
    CHECK_EQ_STR(kiln_format_duration(1500000000LL, b, sizeof b), "1.5s");
    CHECK_EQ_STR(kiln_format_duration(172800000000000LL, b, sizeof b), "48h");
    CHECK_EQ_STR(kiln_format_duration(-3000, b, sizeof b), "-3us");
    CHECK_EQ_STR(kiln_format_duration(61000000001LL, b, sizeof b), "1m1.000000001s");
    /* every formatted duration parses back to itself */
    static const int64_t back[] = {1, 999, 1000, 1000000, 1500000000LL, 3723004005006LL, INT64_MAX,
                                   -5400000000000LL, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof back / sizeof back[0]; i++) {
        int64_t v = 0;
        kiln_format_duration(back[i], b, sizeof b);
        CHECK_EQ_INT(kiln_parse_duration(b, &v, NULL), KILN_OK);
        CHECK_EQ_INT(v, back[i]);
    }
    CHECK_EQ_STR(kiln_format_bytes(536870912, b, sizeof b), "512MiB");
    CHECK_EQ_STR(kiln_format_bytes(4000000, b, sizeof b), "4MB");
    CHECK_EQ_STR(kiln_format_bytes(1023, b, sizeof b), "1023B");
    CHECK_EQ_STR(kiln_format_bytes(0, b, sizeof b), "0B");
    static const int64_t bback[] = {1, 1024, 1536, 4000000, 1099511627776LL, INT64_MAX};
    for (size_t i = 0; i < sizeof bback / sizeof bback[0]; i++) {
        int64_t v = 0;
        kiln_format_bytes(bback[i], b, sizeof b);
        CHECK_EQ_INT(kiln_parse_bytes(b, &v, NULL), KILN_OK);
        CHECK_EQ_INT(v, bback[i]);
    }
}

/* ---- env expansion ------------------------------------------------------------------------ */

static void t_env_expand(void)
{
    setenv("KILN_T_HOST", "db.example", 1);
    setenv("KILN_T_EMPTY", "", 1);
    unsetenv("KILN_T_UNSET");
    static const struct {
        const char *in, *out, *unset;
    } rows[] = {
        {"plain", "plain", ""},
        {"${env:KILN_T_HOST}", "db.example", ""},
        {"${KILN_T_HOST}", "db.example", ""},
        {"http://${env:KILN_T_HOST}:4040/x", "http://db.example:4040/x", ""},
        {"${env:KILN_T_HOST}${env:KILN_T_HOST}", "db.exampledb.example", ""},
        {"${env:KILN_T_UNSET:-fallback}", "fallback", ""},
        {"${env:KILN_T_UNSET:-}", "", ""},
        {"${env:KILN_T_UNSET:-a:b-c}", "a:b-c", ""},
        {"${env:KILN_T_HOST:-fallback}", "db.example", ""},
        {"${env:KILN_T_EMPTY:-fallback}", "", ""}, /* set but empty: the Collector keeps "" */
        {"${env:KILN_T_UNSET}", "", "KILN_T_UNSET"},
        {"a${env:KILN_T_UNSET}b", "ab", "KILN_T_UNSET"},
        {"$$", "$", ""},
        {"$${env:KILN_T_HOST}", "${env:KILN_T_HOST}", ""},
        {"cost: 5$", "cost: 5$", ""},
        {"$x $ y", "$x $ y", ""},
        {"$$$${KILN_T_HOST}", "$${KILN_T_HOST}", ""},
        {"$$${KILN_T_HOST}", "$db.example", ""},
        {"", "", ""},
    };
    kiln_arena *a = kiln_arena_new(0);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *out = NULL, unset[64];
        size_t len = 99;
        kiln_err e;
        kiln_err_clear(&e);
        int rc = kiln_env_expand(a, rows[i].in, strlen(rows[i].in), &out, &len, unset, sizeof unset, &e);
        if (rc) fprintf(stderr, "  input \"%s\": %s\n", rows[i].in, e.msg);
        CHECK_EQ_INT(rc, KILN_OK);
        CHECK_EQ_STR(out, rows[i].out);
        CHECK_EQ_INT(len, strlen(rows[i].out));
        CHECK_EQ_STR(unset, rows[i].unset);
    }
    static const struct {
        const char *in, *msg;
    } bad[] = {
        {"${env:KILN_T_HOST", "unterminated \"${\" in \"${env:KILN_T_HOST\" (write $$ for a literal $)"},
        {"x ${", "unterminated \"${\""},
        {"${}", "bad environment variable name \"\""},
        {"${env:}", "bad environment variable name \"\""},
        {"${env:1ABC}", "bad environment variable name \"1ABC\""},
        {"${env:A-B}", "bad environment variable name \"A-B\""},
        {"${file:/etc/passwd}", "unsupported expansion scheme \"file\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out = NULL;
        kiln_err e;
        kiln_err_clear(&e);
        CHECK_EQ_INT(kiln_env_expand(a, bad[i].in, strlen(bad[i].in), &out, NULL, NULL, 0, &e), KILN_EINVAL);
        CHECK_CONTAINS(e.msg, bad[i].msg);
    }
    kiln_arena_destroy(a);
}

/* ---- the tree ------------------------------------------------------------------------------------ */

static kiln_node *load(const char *yaml, kiln_err *e)
{
    kiln_node *root = NULL;
    kiln_err_clear(e);
    int rc = kiln_yaml_load_string("t.yaml", yaml, strlen(yaml), &root, e);
    if (rc) {
        CHECK(root == NULL);
        return NULL;
    }
    return root;
}

static const kiln_node *at(const kiln_node *n, const char *dotted)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", dotted);
    for (char *tok = strtok(buf, "."); tok && n; tok = strtok(NULL, ".")) {
        if (tok[0] == '#') {
            size_t i = (size_t)atoi(tok + 1);
            n = (n->kind == KILN_NODE_SEQ && i < n->n) ? n->items[i] : NULL;
        } else {
            n = kiln_node_get(n, tok);
        }
    }
    return n;
}

static void t_tree_positions(void)
{
    kiln_err e;
    kiln_node *r = load("receivers:\n"
                        "  pprof:\n"
                        "    endpoint: \":4040\"\n"
                        "    tags: [a, 'b c']\n"
                        "  pprof/x:\n"
                        "exporters:\n"
                        "  debug/detailed:\n"
                        "    verbosity: detailed\n"
                        "    n: ~\n"
                        "    items:\n"
                        "      - one\n"
                        "      - {k: v}\n",
                        &e);
    CHECK(r != NULL);
    if (!r) return;
    CHECK_EQ_INT(r->kind, KILN_NODE_MAP);
    CHECK_EQ_STR(r->path, "");
    CHECK_EQ_INT(r->n, 2);
    CHECK_EQ_STR(r->keys[0], "receivers");
    CHECK_EQ_STR(r->keys[1], "exporters");

    const kiln_node *ep = at(r, "receivers.pprof.endpoint");
    CHECK(ep && ep->kind == KILN_NODE_SCALAR);
    CHECK_EQ_STR(ep->scalar, ":4040");
    CHECK_EQ_INT(ep->quoted, 1);
    CHECK_EQ_STR(ep->path, "receivers.pprof.endpoint");
    CHECK_EQ_STR(ep->file, "t.yaml");
    CHECK_EQ_INT(ep->line, 3);
    CHECK_EQ_INT(ep->col, 15);
    int kl, kc;
    kiln_node_key_pos(ep, &kl, &kc);
    CHECK_EQ_INT(kl, 3);
    CHECK_EQ_INT(kc, 5);

    const kiln_node *tag1 = at(r, "receivers.pprof.tags.#1");
    CHECK(tag1 != NULL);
    CHECK_EQ_STR(tag1->scalar, "b c");
    CHECK_EQ_STR(tag1->path, "receivers.pprof.tags[1]");
    CHECK_EQ_INT(tag1->line, 4);
    CHECK_EQ_INT(tag1->col, 15);
    CHECK_EQ_INT(at(r, "receivers.pprof.tags.#0")->quoted, 0);

    const kiln_node *px = at(r, "receivers.pprof/x");
    CHECK(px && px->kind == KILN_NODE_NULL);
    CHECK_EQ_INT(px->line, 5); /* a null value points at its key */
    CHECK_EQ_INT(px->col, 3);

    const kiln_node *v = at(r, "exporters.debug/detailed.verbosity");
    CHECK_EQ_STR(v->path, "exporters.debug/detailed.verbosity");
    CHECK_EQ_STR(v->scalar, "detailed");
    CHECK_EQ_INT(at(r, "exporters.debug/detailed.n")->kind, KILN_NODE_NULL);
    const kiln_node *kv = at(r, "exporters.debug/detailed.items.#1.k");
    CHECK(kv != NULL);
    CHECK_EQ_STR(kv->path, "exporters.debug/detailed.items[1].k");
    CHECK_EQ_INT(kv->line, 12);
    CHECK_EQ_INT(kv->col, 13);
    CHECK(kiln_node_get(r, "nope") == NULL);
    CHECK(kiln_node_get(ep, "x") == NULL);
    CHECK(kiln_node_get(NULL, "x") == NULL);

    /* kiln_node_err and kiln_node_key_err formats */
    kiln_node_err(&e, v, "expected a %s, got \"%s\"", "duration", "soon");
    CHECK_EQ_STR(e.msg, "t.yaml:8:16: exporters.debug/detailed.verbosity: expected a duration, got \"soon\"");
    CHECK_EQ_INT(e.code, KILN_EINVAL);
    kiln_node_key_err(&e, v, "unknown field");
    CHECK_EQ_STR(e.msg, "t.yaml:8:5: exporters.debug/detailed.verbosity: unknown field");
    kiln_node_err(&e, r, "top");
    CHECK_EQ_STR(e.msg, "t.yaml:1:1: top");
    kiln_yaml_free(r);
}

static void t_tree_scalars_and_nulls(void)
{
    kiln_err e;
    kiln_node *r = load("a: null\nb: Null\nc: ~\nd:\ne: 'null'\nf: \"\"\ng: nullx\nh: |\n  line1\n  line2\n"
                        "i: >-\n  folded\n  text\nj: !!str null\n",
                        &e);
    CHECK(r != NULL);
    if (!r) return;
    CHECK_EQ_INT(kiln_node_get(r, "a")->kind, KILN_NODE_NULL);
    CHECK_EQ_INT(kiln_node_get(r, "b")->kind, KILN_NODE_NULL);
    CHECK_EQ_INT(kiln_node_get(r, "c")->kind, KILN_NODE_NULL);
    CHECK_EQ_INT(kiln_node_get(r, "d")->kind, KILN_NODE_NULL);
    CHECK_EQ_INT(kiln_node_get(r, "e")->kind, KILN_NODE_SCALAR);
    CHECK_EQ_STR(kiln_node_get(r, "e")->scalar, "null");
    CHECK_EQ_INT(kiln_node_get(r, "f")->kind, KILN_NODE_SCALAR);
    CHECK_EQ_STR(kiln_node_get(r, "f")->scalar, "");
    CHECK_EQ_STR(kiln_node_get(r, "g")->scalar, "nullx");
    CHECK_EQ_STR(kiln_node_get(r, "h")->scalar, "line1\nline2\n");
    CHECK_EQ_STR(kiln_node_get(r, "i")->scalar, "folded text");
    CHECK_EQ_INT(kiln_node_get(r, "j")->kind, KILN_NODE_SCALAR);
    kiln_yaml_free(r);

    /* empty documents */
    r = load("", &e);
    CHECK(r && r->kind == KILN_NODE_NULL);
    kiln_yaml_free(r);
    r = load("# only a comment\n", &e);
    CHECK(r && r->kind == KILN_NODE_NULL);
    kiln_yaml_free(r);
    r = load("---\n...\n", &e);
    CHECK(r && r->kind == KILN_NODE_NULL);
    kiln_yaml_free(r);
}

static void t_tree_env(void)
{
    setenv("KILN_T_PORT", "4041", 1);
    unsetenv("KILN_T_NOPE");
    kiln_err e;
    kiln_node *r = load("endpoint: \":${env:KILN_T_PORT}\"\n"
                        "plain: ${env:KILN_T_PORT}\n"
                        "price: $$5\n"
                        "missing: ${env:KILN_T_NOPE}\n"
                        "dflt: ${env:KILN_T_NOPE:-7s}\n"
                        "${env:KILN_T_PORT}: keys are not expanded\n",
                        &e);
    CHECK(r != NULL);
    if (!r) return;
    CHECK_EQ_STR(kiln_node_get(r, "endpoint")->scalar, ":4041");
    CHECK_EQ_STR(kiln_node_get(r, "plain")->scalar, "4041");
    CHECK_EQ_INT(kiln_node_get(r, "plain")->quoted, 0);
    CHECK_EQ_STR(kiln_node_get(r, "price")->scalar, "$5");
    CHECK_EQ_INT(kiln_node_get(r, "missing")->kind, KILN_NODE_SCALAR);
    CHECK_EQ_STR(kiln_node_get(r, "missing")->scalar, "");
    CHECK_EQ_STR(kiln_node_get(r, "dflt")->scalar, "7s");
    CHECK(kiln_node_get(r, "${env:KILN_T_PORT}") != NULL);
    size_t nw = 0;
    char *const *w = kiln_yaml_warnings(r, &nw);
    CHECK_EQ_INT(nw, 1);
    if (nw) CHECK_EQ_STR(w[0], "t.yaml:4:10: missing: environment variable KILN_T_NOPE is not set; it expands to \"\"");
    kiln_yaml_free(r);

    r = load("a:\n  b: \"x ${env:KILN_T_PORT\"\n", &e);
    CHECK(r == NULL);
    CHECK_EQ_INT(e.code, KILN_EINVAL);
    CHECK_EQ_STR(e.msg, "t.yaml:2:6: a.b: unterminated \"${\" in \"${env:KILN_T_PORT\" (write $$ for a literal $)");
}

static void t_tree_aliases_merges(void)
{
    kiln_err e;
    kiln_node *r = load("base: &b\n"
                        "  retry: 5s\n"
                        "  queue: 10\n"
                        "list: &l [x, y]\n"
                        "one: *b\n"
                        "two:\n"
                        "  <<: *b\n"
                        "  queue: 20\n"
                        "three:\n"
                        "  <<: [{queue: 30, extra: e}, *b]\n"
                        "four: *l\n"
                        "'<<': quoted key is a plain key\n",
                        &e);
    CHECK(r != NULL);
    if (!r) {
        fprintf(stderr, "  %s\n", e.msg);
        return;
    }
    const kiln_node *one = kiln_node_get(r, "one");
    CHECK_EQ_INT(one->kind, KILN_NODE_MAP);
    CHECK_EQ_STR(at(r, "one.retry")->scalar, "5s");
    CHECK_EQ_STR(at(r, "one.retry")->path, "one.retry"); /* path of the copy */
    CHECK_EQ_INT(at(r, "one.retry")->line, 2);           /* position of the original */
    CHECK_EQ_INT(one->n, 2);
    const kiln_node *two = kiln_node_get(r, "two");
    CHECK_EQ_INT(two->n, 2);
    CHECK_EQ_STR(two->keys[0], "queue");
    CHECK_EQ_STR(at(r, "two.queue")->scalar, "20"); /* explicit key wins */
    CHECK_EQ_STR(at(r, "two.retry")->scalar, "5s");
    CHECK_EQ_STR(at(r, "two.retry")->path, "two.retry");
    CHECK(kiln_node_get(two, "<<") == NULL);
    CHECK_EQ_STR(at(r, "three.queue")->scalar, "30"); /* the first merged map wins */
    CHECK_EQ_STR(at(r, "three.extra")->scalar, "e");
    CHECK_EQ_STR(at(r, "three.retry")->scalar, "5s");
    CHECK_EQ_INT(kiln_node_get(r, "three")->n, 3);
    CHECK_EQ_STR(at(r, "four.#1")->scalar, "y");
    CHECK_EQ_STR(at(r, "four.#1")->path, "four[1]");
    CHECK(kiln_node_get(r, "<<") != NULL);
    kiln_yaml_free(r);

    r = load("a: *nope\n", &e);
    CHECK(r == NULL);
    CHECK_EQ_STR(e.msg, "t.yaml:1:4: a: unknown alias *nope (an alias must come after its anchor's node)");
    r = load("a: &x [1, *x]\n", &e); /* recursive */
    CHECK(r == NULL);
    CHECK_CONTAINS(e.msg, "unknown alias *x");
    r = load("a:\n  <<: 5\n", &e);
    CHECK(r == NULL);
    CHECK_EQ_STR(e.msg, "t.yaml:2:7: a.<<: a merge key (<<) takes a mapping or a list of mappings, got a scalar");
}

static void t_tree_errors(void)
{
    static const struct {
        const char *yaml, *msg;
    } rows[] = {
        {"a: 1\nb: 2\na: 3\n", "t.yaml:3:1: a: duplicate key \"a\" (first at line 1, column 1)"},
        {"x:\n  y: 1\n  z: 2\n  y: 3\n", "t.yaml:4:3: x.y: duplicate key \"y\" (first at line 2, column 3)"},
        {"a: [1, 2\n", "t.yaml:2:1: while parsing a flow sequence: did not find expected ',' or ']' (started at line 1, column 4)"},
        {"a: b: c\n", "t.yaml:1:5: mapping values are not allowed in this context"},
        {"a:\n  - x\n  y: 1\n", "t.yaml:3:3: while parsing a block collection: did not find expected '-' indicator (started at line 2, column 3)"},
        {"a: 1\n---\nb: 2\n", "t.yaml:2:1: only one YAML document is allowed in a config file"},
        {"? [a, b]\n: c\n", "t.yaml:1:3: mapping keys must be plain strings"},
        {"'': x\n", "t.yaml:1:1: empty mapping key"},
        {"a: \"x\\0y\"\n", "t.yaml:1:4: a: a NUL character is not allowed in a value"},
        {"a: \"\xff\"\n", "t.yaml:1:5: invalid leading UTF-8 octet (byte 0xff)"},
        {"a: \"unterminated\n", "t.yaml:2:1: while scanning a quoted scalar: found unexpected end of stream (started at line 1, column 4)"},
        {"\ta: 1\n", "t.yaml:1:1: while scanning for the next token: found character that cannot start any token (started at line 1, column 1)"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        kiln_err e;
        kiln_node *r = load(rows[i].yaml, &e);
        CHECK(r == NULL);
        CHECK_EQ_INT(e.code, KILN_EINVAL);
        CHECK_EQ_STR(e.msg, rows[i].msg);
        kiln_yaml_free(r);
    }
}

static void t_tree_limits(void)
{
    kiln_err e;
    /* nesting: 64 levels are fine, 65 are not */
    char deep[512];
    size_t k = 0;
    for (int i = 0; i < 64; i++) deep[k++] = '[';
    for (int i = 0; i < 64; i++) deep[k++] = ']';
    deep[k] = 0;
    kiln_node *r = load(deep, &e);
    CHECK(r != NULL);
    kiln_yaml_free(r);
    k = 0;
    for (int i = 0; i < 66; i++) deep[k++] = '[';
    for (int i = 0; i < 66; i++) deep[k++] = ']';
    deep[k] = 0;
    r = load(deep, &e);
    CHECK(r == NULL);
    CHECK_CONTAINS(e.msg, "nested deeper than 64 levels");

    /* an alias bomb stops at the node budget instead of eating memory */
    const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                       "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                       "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                       "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    r = load(bomb, &e);
    CHECK(r == NULL);
    CHECK_EQ_INT(e.code, KILN_ETOOBIG);
    CHECK_CONTAINS(e.msg, "aliases expanding too much?");

    /* a wide map is fine and its duplicate check is not quadratic */
    size_t cap = 60000 * 16, n = 0;
    char *wide = malloc(cap);
    for (int i = 0; i < 50000; i++) n += (size_t)snprintf(wide + n, cap - n, "k%d: %d\n", i, i);
    r = load(wide, &e);
    CHECK(r != NULL);
    if (r) {
        CHECK_EQ_INT(r->n, 50000);
        CHECK_EQ_STR(kiln_node_get(r, "k49999")->scalar, "49999");
    }
    kiln_yaml_free(r);
    n += (size_t)snprintf(wide + n, cap - n, "k777: again\n");
    r = load(wide, &e);
    CHECK(r == NULL);
    CHECK_EQ_STR(e.msg, "t.yaml:50001:1: k777: duplicate key \"k777\" (first at line 778, column 1)");
    free(wide);
}

static void t_load_file(void)
{
    kiln_node *r = NULL;
    kiln_err e;
    CHECK_EQ_INT(kiln_yaml_load_file("/nonexistent/kiln.yaml", &r, &e), KILN_ENOTFOUND);
    CHECK_CONTAINS(e.msg, "cannot open /nonexistent/kiln.yaml");
    char path[] = "/tmp/kiln_test_config_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    FILE *f = fdopen(fd, "w");
    fputs("a:\n  b: [1, 2]\n  c: oops: x\n", f);
    fclose(f);
    CHECK_EQ_INT(kiln_yaml_load_file(path, &r, &e), KILN_EINVAL);
    char want[256];
    snprintf(want, sizeof want, "%s:3:10: mapping values are not allowed in this context", path);
    CHECK_EQ_STR(e.msg, want);
    f = fopen(path, "w");
    fputs("a:\n  b: [1, 2]\n", f);
    fclose(f);
    CHECK_EQ_INT(kiln_yaml_load_file(path, &r, &e), KILN_OK);
    CHECK(r != NULL);
    if (r) {
        CHECK_EQ_STR(r->file, path);
        CHECK_EQ_STR(at(r, "a.b.#1")->scalar, "2");
        CHECK(kiln_yaml_arena(r) != NULL);
    }
    kiln_yaml_free(r);
    kiln_yaml_free(NULL);
    remove(path);
}

int main(void)
{
    RUN(t_durations);
    RUN(t_sizes);
    RUN(t_bools);
    RUN(t_ints);
    RUN(t_doubles);
    RUN(t_formatters);
    RUN(t_env_expand);
    RUN(t_tree_positions);
    RUN(t_tree_scalars_and_nulls);
    RUN(t_tree_env);
    RUN(t_tree_aliases_merges);
    RUN(t_tree_errors);
    RUN(t_tree_limits);
    RUN(t_load_file);
    return test_summary();
}
