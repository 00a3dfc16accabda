/* tests/fuzz/fuzz_query_selector.c — libFuzzer target for the query
 * exporter's text parsers: label selectors (with their PCRE2 regexes), profile
 * type ids, the legacy `<type>{selector}` render query, attime and the tenant
 * header. Extra sources are named on the line below (read by
 * tests/fuzz/run.sh; the plugin's plugin.cmake adds PCRE2).
 *
 * Input: byte 0 picks the parser (mod 5), the rest is its text. A selector
 * that parses is also matched against label values cut from the input, so
 * the regex matching (match limits included) runs on fuzzed subjects. Must
 * never crash, leak or hang; a parsed selector's matchers have a name, a
 * value and a known operator. Seeds: tests/fuzz/seeds_query_selector/.
 */
// fuzz-sources: exporters/query/qsel.c exporters/query/qtime.c exporters/query/qtenant.c
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../exporters/query/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int mode = data[0] % 5;
    char *s = malloc(size);
    if (!s) return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = 0;
    kiln_err err;
    kq_selector sel = {0};
    kq_ptype pt;
    switch (mode) {
    case 0:
    case 1:
        if (kiln_query_selector_parse((const char *)data + 1, size - 1, &sel, &err) == KILN_OK) {
            const char *names[4] = {"a", "service_name", "env", "__name__"};
            const char *values[4] = {s, s + (size - 1) / 2, "", s + (size - 1) / 3};
            for (size_t i = 0; i < sel.n; i++) {
                if (!sel.v[i].name || !sel.v[i].value || sel.v[i].op < KILN_MATCH_EQ || sel.v[i].op > KILN_MATCH_NRE)
                    abort();
                (void)kiln_query_matcher_match(&sel.v[i], s);
            }
            (void)kiln_query_selector_match(&sel, names, values, 4);
        }
        kiln_query_selector_free(&sel);
        break;
    case 2:
        if (kiln_query_render_query_parse(s, &pt, &sel, &err) == KILN_OK) {
            if (!pt.id || !pt.name || !pt.period_unit) abort();
            kiln_query_ptype_free(&pt);
        }
        kiln_query_selector_free(&sel);
        break;
    case 3:
        if (kiln_query_ptype_parse(s, &pt, &err) == KILN_OK) kiln_query_ptype_free(&pt);
        (void)kiln_query_attime(s, 1700000000000000000LL);
        break;
    default: {
        char **t;
        size_t n;
        if (kiln_query_tenants(s, "anonymous", &t, &n, &err) == KILN_OK) {
            for (size_t i = 0; i < n; i++)
                if (!t[i][0] || strlen(t[i]) > KILN_TENANT_MAX || strchr(t[i], '|')) abort();
            kiln_query_strv_free(t, n);
        }
        break;
    }
    }
    free(s);
    return 0;
}
