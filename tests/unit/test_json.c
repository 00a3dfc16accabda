/* Unit test: kiln/json.h — the strict RFC 8259 reader shared by the query
 * API (Connect JSON) and the pprof receiver (sample_type_config): values,
 * escapes, duplicates, refused texts, depth limit, the protojson int64 and
 * double forms, Go's lenient strings, and the byte offsets errors name. */
#include "testlib.h"

#include <kiln/json.h>

#include <stdint.h>
#include <string.h>

static void t_strict(void)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_json *j;
    kiln_err err;
    const char *doc = " {\"a\": [1, -2.5e3, true, false, null, \"x\\u00e9\\ud83d\\ude00\\n\\\"\"], \"b\": {}, \"a\": 7} ";
    CHECK_EQ_INT(kiln_json_parse(a, doc, strlen(doc), 0, &j, &err), KILN_OK);
    CHECK_EQ_INT(j->kind, KILN_JSON_OBJ);
    CHECK_EQ_INT(j->n, 3);
    /* the last duplicate wins */
    const kiln_json *v = kiln_json_get(j, "a", NULL);
    CHECK(v && v->kind == KILN_JSON_NUM);
    int64_t seven = 0;
    CHECK_EQ_INT(kiln_json_int64(v, &seven, &err), KILN_OK);
    CHECK_EQ_INT(seven, 7);
    const kiln_json *arr = j->items[0];
    CHECK_EQ_INT(arr->n, 6);
    CHECK_EQ_STR(arr->items[5]->s, "x\xc3\xa9\xf0\x9f\x98\x80\n\"");
    CHECK_EQ_INT(arr->items[2]->b, 1);
    double d;
    CHECK_EQ_INT(kiln_json_double(arr->items[1], &d, &err), KILN_OK);
    CHECK(d == -2500.0);
    static const char *const bad[] = {"", "{", "{\"a\"}", "{\"a\":1,}", "[1 2]", "\"\\x\"", "\"\\ud800\"",
                                      "\"\\udc00\"", "\"a\nb\"", "01", "1.", "-", "{} x", "tru", "\"\xff\"",
                                      "\"\xc0\xaf\"", "[1,]", "{1:2}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (kiln_json_parse(a, bad[i], strlen(bad[i]), 0, &j, &err) != KILN_EINVAL)
            test_fail(__FILE__, __LINE__, "accepted bad JSON %zu: %s", i, bad[i]);
    /* nesting limit */
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    CHECK_EQ_INT(kiln_json_parse(a, deep, 200, 0, &j, &err), KILN_EINVAL);
    CHECK_CONTAINS(err.msg, "too deep");
    /* int64 forms of protojson */
    static const struct {
        const char *t;
        int ok;
        int64_t v;
    } ints[] = {{"\"9223372036854775807\"", 1, INT64_MAX}, {"-12", 1, -12}, {"\"1e3\"", 1, 1000},
                {"1.5", 0, 0}, {"\"nan\"", 0, 0}, {"\"inf\"", 0, 0}, {"\"x\"", 0, 0}, {"true", 0, 0}, {"\"9223372036854775808\"", 0, 0}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        int64_t x = 0;
        CHECK_EQ_INT(kiln_json_parse(a, ints[i].t, strlen(ints[i].t), 0, &j, &err), KILN_OK);
        int rc = kiln_json_int64(j, &x, &err);
        if ((rc == KILN_OK) != ints[i].ok || (ints[i].ok && x != ints[i].v))
            test_fail(__FILE__, __LINE__, "int64 %s: rc %d value %lld", ints[i].t, rc, (long long)x);
    }
    kiln_arena_destroy(a);
}

static void t_go_strings(void)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_json *j;
    kiln_err err;
    /* strict: refused; Go's way: U+FFFD for each bad byte and lone surrogate */
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"\"a\xff" "b\"", "a\xef\xbf\xbd" "b"},
        {"\"\\ud800x\"", "\xef\xbf\xbdx"},
        {"\"\\udc00\"", "\xef\xbf\xbd"},
        {"\"\\ud800\\u0041\"", "\xef\xbf\xbd" "A"},
        {"\"\xc0\xaf\"", "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = strlen(cases[i].in);
        int strict = kiln_json_parse(a, cases[i].in, n, 0, &j, &err);
        if (i < 5) CHECK_EQ_INT(strict, KILN_EINVAL);
        CHECK_EQ_INT(kiln_json_parse(a, cases[i].in, n, KILN_JSON_GO_STRINGS, &j, &err), KILN_OK);
        CHECK_EQ_INT(j->kind, KILN_JSON_STR);
        CHECK_EQ_STR(j->s, cases[i].out);
        CHECK_EQ_INT(j->len, strlen(cases[i].out));
    }
    kiln_arena_destroy(a);
}

static void t_offsets(void)
{
    kiln_arena *a = kiln_arena_new(0);
    kiln_json *j;
    kiln_err err;
    const char *doc = "{\"k\": [10, \"s\"], \"n\" : null}";
    CHECK_EQ_INT(kiln_json_parse(a, doc, strlen(doc), 0, &j, &err), KILN_OK);
    CHECK_EQ_INT(j->at, 0);
    CHECK_EQ_INT(j->items[0]->at, 6);
    CHECK_EQ_INT(j->items[0]->items[0]->at, 7);
    CHECK_EQ_INT(j->items[0]->items[1]->at, 11);
    CHECK_EQ_INT(j->items[1]->at, 23);
    /* errors name the byte */
    CHECK_EQ_INT(kiln_json_parse(a, "{\"a\" 1}", 7, 0, &j, &err), KILN_EINVAL);
    CHECK_EQ_STR(err.msg, "json: expected ':' at byte 5");
    CHECK_EQ_INT(kiln_json_parse(a, "[1] [", 5, 0, &j, &err), KILN_EINVAL);
    CHECK_EQ_STR(err.msg, "json: trailing data at byte 4");
    /* a byte order mark is not JSON */
    CHECK_EQ_INT(kiln_json_parse(a, "\xef\xbb\xbf{}", 5, 0, &j, &err), KILN_EINVAL);
    kiln_arena_destroy(a);
}

int main(void)
{
    RUN(t_strict);
    RUN(t_go_strings);
    RUN(t_offsets);
    return test_summary();
}
