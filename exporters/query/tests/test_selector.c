/* Unit test: label selectors (Prometheus metric-selector syntax, Pyroscope's
 * semantics), profile type ids and the legacy render query. */
#include "qtest.h"

#include <time.h>

static int parse(const char *s, kq_selector *sel, kiln_err *err)
{
    memset(sel, 0, sizeof *sel);
    return kiln_query_selector_parse(s, strlen(s), sel, err);
}

static void m_is(const kq_selector *s, size_t i, const char *name, int op, const char *value, int line)
{
    if (i >= s->n) {
        test_fail(__FILE__, line, "matcher %zu missing (%zu)", i, s->n);
        return;
    }
    if (strcmp(s->v[i].name, name) || s->v[i].op != op || strcmp(s->v[i].value, value))
        test_fail(__FILE__, line, "matcher %zu: %s %d \"%s\", want %s %d \"%s\"", i, s->v[i].name, s->v[i].op,
                  s->v[i].value, name, op, value);
}
#define M_IS(s, i, n, op, v) m_is((s), (i), (n), (op), (v), __LINE__)

static void t_grammar(void)
{
    kq_selector s;
    kiln_err err;
    CHECK_EQ_INT(parse("{service_name=\"api\", env=~\"prod.*\", pod!=\"x\", zone!~'eu-.*'}", &s, &err), KILN_OK);
    CHECK_EQ_INT(s.n, 4);
    M_IS(&s, 0, "service_name", KILN_MATCH_EQ, "api");
    M_IS(&s, 1, "env", KILN_MATCH_RE, "prod.*");
    M_IS(&s, 2, "pod", KILN_MATCH_NEQ, "x");
    M_IS(&s, 3, "zone", KILN_MATCH_NRE, "eu-.*");
    kiln_query_selector_free(&s);

    CHECK_EQ_INT(parse("  process_cpu { a = \"b\" , } ", &s, &err), KILN_OK);
    CHECK_EQ_INT(s.n, 2);
    M_IS(&s, 0, "__name__", KILN_MATCH_EQ, "process_cpu");
    M_IS(&s, 1, "a", KILN_MATCH_EQ, "b");
    kiln_query_selector_free(&s);

    CHECK_EQ_INT(parse("process_cpu:cpu:nanoseconds:cpu:nanoseconds", &s, &err), KILN_OK);
    M_IS(&s, 0, "__name__", KILN_MATCH_EQ, "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
    kiln_query_selector_free(&s);

    CHECK_EQ_INT(parse("{}", &s, &err), KILN_OK);
    CHECK_EQ_INT(s.n, 0);
    CHECK_EQ_INT(parse("", &s, &err), KILN_OK);
    CHECK_EQ_INT(s.n, 0);
    CHECK_EQ_INT(parse(" \t\n", &s, &err), KILN_OK);
    CHECK_EQ_INT(s.n, 0);

    /* UTF-8 names quoted (Prometheus 3), a lone quoted metric name */
    CHECK_EQ_INT(parse("{\"service.name\"=\"x\", \"my metric\"}", &s, &err), KILN_OK);
    M_IS(&s, 0, "service.name", KILN_MATCH_EQ, "x");
    M_IS(&s, 1, "__name__", KILN_MATCH_EQ, "my metric");
    kiln_query_selector_free(&s);

    /* escapes */
    CHECK_EQ_INT(parse("{a=\"q\\\"\\\\\\n\\t\\u00e9\\x41\\101\\U0001F600\", b=`raw\\n`, c='it\\'s'}", &s, &err),
                 KILN_OK);
    M_IS(&s, 0, "a", KILN_MATCH_EQ, "q\"\\\n\t\xc3\xa9" "AA\xf0\x9f\x98\x80");
    M_IS(&s, 1, "b", KILN_MATCH_EQ, "raw\\n");
    M_IS(&s, 2, "c", KILN_MATCH_EQ, "it's");
    kiln_query_selector_free(&s);
}

static void t_errors(void)
{
    static const char *const bad[] = {
        "{a=b}",          "{a=\"b\"",       "{a~\"b\"}",      "{=~\"x\"}",     "{a=\"b\"} x",
        "{a=~\"(\"}",     "{a=~\"a)(b\"}",  "{a=\"\\q\"}",    "{a=\"\\x0\"}",  "{a=\"\\u0000\"}",
        "{a=\"\\ud800\"}", "{a=\"x\ny\"}",  "{a=\"b\" c=\"d\"}", "{,}",        "1abc{}",
        "{a=\"b\"}}",     "{\"a\"=}",       "{a==\"b\"}",     "{a=\"\\777\"}", "{",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kq_selector s;
        kiln_err err;
        kiln_err_clear(&err);
        int rc = parse(bad[i], &s, &err);
        if (rc != KILN_EINVAL) test_fail(__FILE__, __LINE__, "\"%s\" parsed (rc %d, %zu matchers)", bad[i], rc, s.n);
        CHECK(strstr(err.msg, "label selector") != NULL);
        kiln_query_selector_free(&s);
    }
    /* a NUL inside the text */
    kq_selector s = {0};
    kiln_err err;
    CHECK_EQ_INT(kiln_query_selector_parse("{a=\"b\0\"}", 8, &s, &err), KILN_EINVAL);
    kiln_query_selector_free(&s);
}

static int sel_match(const char *sel, const char *const *kv)
{
    kq_selector s;
    kiln_err err;
    if (parse(sel, &s, &err) != KILN_OK) {
        fprintf(stderr, "%s: %s\n", sel, err.msg);
        return -1;
    }
    const char *names[16], *values[16];
    size_t n = 0;
    for (; kv[2 * n]; n++) {
        names[n] = kv[2 * n];
        values[n] = kv[2 * n + 1];
    }
    int r = kiln_query_selector_match(&s, names, values, n);
    kiln_query_selector_free(&s);
    return r;
}

static void t_semantics(void)
{
    static const char *const L[] = {"service_name", "api", "env", "prod-eu", "pod", "p1", "emoji", "\xc3\xa9\xc3\xa9", NULL};
    CHECK_EQ_INT(sel_match("{service_name=\"api\"}", L), 1);
    CHECK_EQ_INT(sel_match("{env=~\"prod\"}", L), 0); /* fully anchored */
    CHECK_EQ_INT(sel_match("{env=~\"prod.*\"}", L), 1);
    CHECK_EQ_INT(sel_match("{env=~\".*eu\"}", L), 1);
    CHECK_EQ_INT(sel_match("{env=~\"staging|prod-eu\"}", L), 1); /* the alternation is anchored as a whole */
    CHECK_EQ_INT(sel_match("{env=~\"prod|eu\"}", L), 0);
    CHECK_EQ_INT(sel_match("{env!~\"prod.*\"}", L), 0);
    CHECK_EQ_INT(sel_match("{pod!=\"x\"}", L), 1);
    CHECK_EQ_INT(sel_match("{missing=\"\"}", L), 1); /* a missing label has the value "" */
    CHECK_EQ_INT(sel_match("{missing!=\"\"}", L), 0);
    CHECK_EQ_INT(sel_match("{missing=~\".*\"}", L), 1);
    CHECK_EQ_INT(sel_match("{missing=~\".+\"}", L), 0);
    CHECK_EQ_INT(sel_match("{emoji=~\"\xc3\xa9+\"}", L), 1); /* UTF-8 aware */
    CHECK_EQ_INT(sel_match("{emoji=~\"..\"}", L), 1);
    CHECK_EQ_INT(sel_match("{env=~\"(?i)PROD-EU\"}", L), 1);
    CHECK_EQ_INT(sel_match("{env=~\"prod-\\\\w+\"}", L), 1); /* RE2 classes */
    CHECK_EQ_INT(sel_match("{pod=~\"p\\\\d\"}", L), 1);
    CHECK_EQ_INT(sel_match("{service_name=\"api\", env=\"prod\"}", L), 0);
    CHECK_EQ_INT(sel_match("{}", L), 1);
}

static void t_regex_limit(void)
{
    /* catastrophic backtracking stops at the match limit instead of hanging */
    kq_selector s;
    kiln_err err;
    CHECK_EQ_INT(parse("{a=~\"(a+)+b\"}", &s, &err), KILN_OK);
    char v[64];
    memset(v, 'a', 40);
    v[40] = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ_INT(kiln_query_matcher_match(&s.v[0], v), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    CHECK(ms < 2000);
    kiln_query_selector_free(&s);
}

static void t_profile_types(void)
{
    kq_ptype p;
    kiln_err err;
    CHECK_EQ_INT(kiln_query_ptype_parse("process_cpu:cpu:nanoseconds:cpu:nanoseconds", &p, &err), KILN_OK);
    CHECK_EQ_STR(p.id, "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
    CHECK_EQ_STR(p.name, "process_cpu");
    CHECK_EQ_STR(p.sample_type, "cpu");
    CHECK_EQ_STR(p.sample_unit, "nanoseconds");
    CHECK_EQ_STR(p.period_type, "cpu");
    CHECK_EQ_STR(p.period_unit, "nanoseconds");
    kiln_query_ptype_free(&p);
    CHECK_EQ_INT(kiln_query_ptype_parse("memory:alloc_in_new_tlab_bytes:bytes::", &p, &err), KILN_OK);
    CHECK_EQ_STR(p.period_type, "");
    CHECK_EQ_STR(p.id, "memory:alloc_in_new_tlab_bytes:bytes::");
    kiln_query_ptype_free(&p);
    CHECK_EQ_INT(kiln_query_ptype_parse("memory:alloc_space:bytes:space:bytes:delta", &p, &err), KILN_OK);
    CHECK_EQ_STR(p.id, "memory:alloc_space:bytes:space:bytes");
    kiln_query_ptype_free(&p);
    CHECK_EQ_INT(kiln_query_ptype_parse("process_cpu:cpu:nanoseconds", &p, &err), KILN_EINVAL);
    CHECK_CONTAINS(err.msg, "got(3)");
    CHECK_EQ_INT(kiln_query_ptype_parse("a:b:c:d:e:f:g", &p, &err), KILN_EINVAL);

    kq_selector s = {0};
    CHECK_EQ_INT(kiln_query_render_query_parse("process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name=\"x\"}",
                                               &p, &s, &err),
                 KILN_OK);
    CHECK_EQ_STR(p.sample_type, "cpu");
    CHECK_EQ_INT(s.n, 1);
    M_IS(&s, 0, "service_name", KILN_MATCH_EQ, "x");
    kiln_query_ptype_free(&p);
    kiln_query_selector_free(&s);
    CHECK_EQ_INT(kiln_query_render_query_parse("{service_name=\"x\"}", &p, &s, &err), KILN_EINVAL);
    CHECK_CONTAINS(err.msg, "profile type selection must be provided");
    kiln_query_selector_free(&s);
}

int main(void)
{
    RUN(t_grammar);
    RUN(t_errors);
    RUN(t_semantics);
    RUN(t_regex_limit);
    RUN(t_profile_types);
    return test_summary();
}
