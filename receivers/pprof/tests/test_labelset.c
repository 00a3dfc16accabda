/* receivers/pprof/tests/test_labelset.c — the `name` parameter parser
 * against a table of inputs and the labels Pyroscope's labelset.Parse makes
 * of them (quirks included), plus the error messages. */
#include <stdlib.h>
#include <string.h>

#include "pprofrx.h"
#include "testlib.h"

typedef struct tcase {
    const char *in;
    const char *app;  /* NULL: must fail */
    const char *tags; /* "k=v;k2=v2" in stored order, or the error text expected */
} tcase;

static const tcase cases[] = {
    {"app", "app", ""},
    {"  my.app-1/x_y  ", "my.app-1/x_y", ""},
    {"app{}", "app", ""},
    {"app{a=b,c=d}", "app", "a=b;c=d"},
    {"app{ a = b , c = d }", "app", "a=b;c=d"},
    {"app{a=b", "app", ""},                /* unterminated pair is dropped */
    {"app{a=b,c=d", "app", "a=b"},
    {"app{a=b}c=d}", "app", "a=b;c=d"},    /* scanning goes on after } */
    {"app{a=b}junk", "app", "a=b"},
    {"app{a=x,a=y}", "app", "a=y"},        /* a later tag replaces */
    {"app{__name__=other}", "other", ""},  /* __name__ replaces the app name */
    {"app{a=b=c}", "app", "a=b=c"},
    {"app{a=b,c}", "app", "a=b"},          /* key without = is dropped at } */
    {"app{k=}", "app", "k="},
    {"app{k=v with spaces}", "app", "k=v with spaces"},
    {"app{k=h\xc3\xa9llo}", "app", "k=h\xc3\xa9llo"},
    {"app\xc2\xa0{k=\xe3\x80\x80v\xe2\x80\x83}", "app", "k=v"}, /* Unicode spaces trimmed */
    {"app.cpu{__session_id__=abc123,otel.scope.name=com.grafana.pyroscope/go,"
     "process.runtime.name=go,service_name=svc}",
     "app.cpu",
     "__session_id__=abc123;otel.scope.name=com.grafana.pyroscope/go;process.runtime.name=go;"
     "service_name=svc"},
    {"", NULL, "name: service name is required"},
    {"   ", NULL, "name: service name is required"},
    {"{a=b}", NULL, "name: service name is required"},
    {"ap$p", NULL, "name: invalid service name: ap$p: character is not allowed: '$'"},
    {"a b{}", NULL, "name: invalid service name: a b: character is not allowed: ' '"},
    {"app{=b}", NULL, "name: label name is required"},
    {"app{a-b=c}", NULL, "name: invalid label name: a-b: character is not allowed: '-'"},
    {"app{a,b=c}", NULL, "name: invalid label name: a,b: character is not allowed: ','"},
    {"app{a=b,c d=e}", NULL, "name: invalid label name: c d: character is not allowed: ' '"},
    {"app{__name__=}", NULL, "name: service name is required"},
};

static void t_table(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const tcase *c = &cases[i];
        kiln_pprofrx_labelset ls;
        kiln_err e;
        kiln_err_clear(&e);
        int rc = kiln_pprofrx_labelset_parse(c->in, strlen(c->in), &ls, &e);
        if (!c->app) {
            CHECK_EQ_INT(rc, KILN_EINVAL);
            CHECK_EQ_STR(e.msg, c->tags);
            continue;
        }
        CHECK_EQ_INT(rc, KILN_OK);
        if (rc != KILN_OK) {
            fprintf(stderr, "  case %zu (%s): %s\n", i, c->in, e.msg);
            continue;
        }
        char app[256];
        snprintf(app, sizeof app, "%.*s", (int)ls.app.len, ls.app.p);
        CHECK_EQ_STR(app, c->app);
        char tags[512] = "";
        size_t o = 0;
        for (size_t k = 0; k < ls.n; k++)
            o += (size_t)snprintf(tags + o, sizeof tags - o, "%s%.*s=%.*s", k ? ";" : "",
                                  (int)ls.tags[k].key.len, ls.tags[k].key.p,
                                  (int)ls.tags[k].val.len, ls.tags[k].val.p);
        CHECK_EQ_STR(tags, c->tags);
        kiln_pprofrx_labelset_free(&ls);
    }
}

static void t_app_brace(void)
{
    /* `}` in the app name is not allowed */
    kiln_pprofrx_labelset ls;
    kiln_err e;
    kiln_err_clear(&e);
    CHECK_EQ_INT(kiln_pprofrx_labelset_parse("app}", 4, &ls, &e), KILN_EINVAL);
    CHECK_EQ_STR(e.msg, "name: invalid service name: app}: character is not allowed: '}'");
}

static void t_get_and_zero_copy(void)
{
    const char *s = "svc{env=prod,region=eu-1}";
    kiln_pprofrx_labelset ls;
    kiln_err e;
    CHECK_EQ_INT(kiln_pprofrx_labelset_parse(s, strlen(s), &ls, &e), KILN_OK);
    const kiln_str *v = kiln_pprofrx_labelset_get(&ls, "region");
    CHECK(v != NULL);
    CHECK(v && v->p == s + 20 && v->len == 4); /* a slice of the input */
    CHECK(kiln_pprofrx_labelset_get(&ls, "missing") == NULL);
    CHECK(ls.app.p == s && ls.app.len == 3);
    kiln_pprofrx_labelset_free(&ls);
}

static void t_many_tags(void)
{
    /* 200 distinct tags: the array grows; every one is kept in order */
    char buf[8192];
    size_t o = (size_t)snprintf(buf, sizeof buf, "app{");
    for (int i = 0; i < 200; i++) o += (size_t)snprintf(buf + o, sizeof buf - o, "k%d=v%d,", i, i);
    buf[o - 1] = '}';
    kiln_pprofrx_labelset ls;
    kiln_err e;
    CHECK_EQ_INT(kiln_pprofrx_labelset_parse(buf, o, &ls, &e), KILN_OK);
    CHECK_EQ_INT(ls.n, 200);
    const kiln_str *v = kiln_pprofrx_labelset_get(&ls, "k199");
    CHECK(v && v->len == 4 && memcmp(v->p, "v199", 4) == 0);
    kiln_pprofrx_labelset_free(&ls);
}

int main(void)
{
    RUN(t_table);
    RUN(t_app_brace);
    RUN(t_get_and_zero_copy);
    RUN(t_many_tags);
    return test_summary();
}
