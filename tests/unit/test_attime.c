/* tests/unit/test_attime.c — kiln_attime (the `from`/`until` of /ingest
 * and of the query API) against a table at a fixed reference time, including
 * the cases of Pyroscope's own attime test (now = 2020-01-01T00:00:00Z). */
#include <string.h>

#include <kiln/text.h>

#include "testlib.h"

#define S 1000000000LL
static const int64_t NOW = 1577836800LL * S; /* 2020-01-01T00:00:00Z */

typedef struct tcase {
    const char *in;
    int64_t want;
} tcase;

static const tcase cases[] = {
    /* Pyroscope's attime_test.go */
    {"now", NOW},
    {"now-1s", NOW - 1 * S},
    {"now+1s", NOW + 1 * S},
    {"now-1min", NOW - 60 * S},
    {"now-1h", NOW - 3600 * S},
    {"now-1d", NOW - 86400 * S},
    {"now-1w", NOW - 7 * 86400 * S},
    {"now-1mon", NOW - 30 * 86400 * S},
    {"now-1M", NOW - 30 * 86400 * S},
    {"now-1y", NOW - 365 * 86400 * S},
    {"now-1", NOW},
    {"20200101", 1577836800LL * S},
    {"1577836800", 1577836800LL * S},
    {"1577836800001", 1577836800LL * S + 1000000},
    {"1577836800000001", 1577836800LL * S + 1000},
    {"1577836800000000001", 1577836800LL * S + 1},
    /* more */
    {"  1577836800  ", 1577836800LL * S},
    {"1_577_836_800", 1577836800LL * S},          /* `_` `,` ` ` dropped */
    {"1,577,836,800,001", 1577836800LL * S + 1000000},
    {"0", 0},
    {"42", 42 * S},
    {"19000101", 19000101LL * S},                 /* year 1900: not > 1900 -> seconds */
    {"20200230", 20200230LL * S},                 /* Feb 30: not a date -> seconds */
    {"20200229", 1582934400LL * S},               /* leap day */
    {"20190229", 20190229LL * S},
    {"20201301", 20201301LL * S},
    {"now-3h30m", NOW - 3 * 3600 * S},            /* one unit only */
    {"now-5ms", NOW - 5 * 60 * S},                /* "ms" starts with m: minutes */
    {"now-2x", NOW},                              /* unknown unit: 0 */
    {"now-h", NOW},
    {"-1h", NOW - 3600 * S},
    {"+10s", NOW + 10 * S},
    {"yesterday-1d", NOW - 86400 * S},            /* the reference part is ignored */
    {"garbage", NOW},
    {"", NOW},
    {"___", NOW},
    {"2020-01-01", NOW},                          /* -01 with unit "-01": 0 */
    {"now - 2 h", NOW - 2 * 3600 * S},
    {"99999999999999999999", INT64_MAX},          /* saturates */
    {"9999999999999999999", INT64_MAX},           /* 19 digits over int64 */
    {"9999999999999", INT64_MAX},                 /* 13-digit ms beyond int64 ns */
    {"99991231", INT64_MAX},                      /* a date beyond 2262 saturates */
    {"22620411", 9223286400000000000LL},          /* 2262-04-11: still fits (python datetime) */
};

static void t_table(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t got = kiln_attime(cases[i].in, strlen(cases[i].in), NOW);
        if (got != cases[i].want)
            fprintf(stderr, "  case \"%s\": got %lld want %lld\n", cases[i].in, (long long)got,
                    (long long)cases[i].want);
        CHECK_EQ_INT(got, cases[i].want);
    }
}

static void t_19700101(void)
{
    /* 1970 > 1900 and a valid date: the epoch itself */
    CHECK_EQ_INT(kiln_attime("19700101", 8, NOW), 0);
    CHECK_EQ_INT(kiln_attime("19700102", 8, NOW), 86400 * S);
}

static void t_not_nul_terminated(void)
{
    const char buf[] = "1577836800999";
    CHECK_EQ_INT(kiln_attime(buf, 10, NOW), 1577836800LL * S);
}

/* kiln_trim_space: Go's strings.TrimSpace */
static void t_trim(void)
{
    const char *p = " \t\xc2\x85x y\xe2\x80\xa8\xe3\x80\x80 ";
    size_t n = strlen(p);
    kiln_trim_space(&p, &n);
    CHECK_EQ_INT(n, 3);
    CHECK(memcmp(p, "x y", 3) == 0);
    p = "\xe2\x80\x8b"; /* U+200B ZERO WIDTH SPACE is not a Go space */
    n = 3;
    kiln_trim_space(&p, &n);
    CHECK_EQ_INT(n, 3);
}

int main(void)
{
    RUN(t_trim);
    RUN(t_table);
    RUN(t_19700101);
    RUN(t_not_nul_terminated);
    return test_summary();
}
