/* tests/fuzz/fuzz_ingest_params.c — libFuzzer target for the pprof
 * receiver's query-parameter and header parsers: `name` (labelset), `from`
 * (attime), the tenant header, the labels built from them, and the JSON
 * error body.
 *
 * Input: up to three fields separated by NUL bytes: name, time, tenant.
 * Checks, on top of "no crash, no leak, no hang": parsed slices lie inside
 * the input, the app name passes its own character rule, an accepted tenant
 * is short and clean, the JSON body is closed and has no raw control byte.
 * Seeds: tests/fuzz/seeds_ingest_params/.
 */
// fuzz-sources: receivers/pprof/labelset.c receivers/pprof/tenant.c receivers/pprof/ingest_labels.c receivers/pprof/reply.c
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../receivers/pprof/pprofrx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const char *p, size_t n, const char *base, size_t len)
{
    return p >= base && p + n <= base + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1);
    if (!in) return 0;
    memcpy(in, data, size);
    in[size] = 0;
    const char *f[3] = {in, "", ""};
    size_t fl[3] = {strlen(in), 0, 0};
    if (fl[0] < size) {
        f[1] = in + fl[0] + 1;
        fl[1] = strlen(f[1]);
        if ((size_t)(f[1] - in) + fl[1] < size) {
            f[2] = f[1] + fl[1] + 1;
            fl[2] = strlen(f[2]);
        }
    }

    kiln_err e;
    kiln_pprofrx_labelset ls;
    if (kiln_pprofrx_labelset_parse(f[0], fl[0], &ls, &e) == KILN_OK) {
        if (ls.app.len == 0 || !inside(ls.app.p, ls.app.len, f[0], fl[0])) abort();
        for (size_t i = 0; i < ls.n; i++) {
            if (!inside(ls.tags[i].key.p, ls.tags[i].key.len, f[0], fl[0])) abort();
            if (!inside(ls.tags[i].val.p, ls.tags[i].val.len, f[0], fl[0])) abort();
            for (size_t j = 0; j < i; j++)
                if (ls.tags[i].key.len == ls.tags[j].key.len &&
                    memcmp(ls.tags[i].key.p, ls.tags[j].key.p, ls.tags[i].key.len) == 0)
                    abort(); /* names are unique */
        }
        kiln_labels l = KILN_LABELS_INIT;
        if (kiln_pprofrx_build_labels(&l, &ls, "process_cpu", "gospy", &e) == KILN_OK) {
            if (!kiln_labels_get(&l, "service_name") || !kiln_labels_get(&l, "__name__")) abort();
        }
        kiln_labels_free(&l);
        kiln_str base, suffix;
        kiln_pprofrx_split_app(ls.app, &base, &suffix);
        kiln_pprofrx_suffix_type t;
        (void)kiln_pprofrx_suffix_type_of(suffix.p, suffix.len, &t, &e);
        kiln_pprofrx_labelset_free(&ls);
    }

    (void)kiln_attime(f[1], fl[1], 1577836800000000000LL);
    (void)kiln_attime(f[0], fl[0], -1);

    char tenant[KILN_TENANT_MAX + 1];
    if (kiln_pprofrx_tenant(f[2], "anonymous", tenant, sizeof tenant, &e) == KILN_OK) {
        size_t tl = strlen(tenant);
        if (tl == 0 || tl > KILN_TENANT_MAX || strchr(tenant, '|')) abort();
        if (kiln_pprofrx_tenant_valid(tenant, tl, &e) != KILN_OK) abort();
    }

    char body[300];
    size_t n = kiln_pprofrx_json_error(body, sizeof body, 400, in);
    if (n >= sizeof body || body[n] != 0 || n < 2 || body[n - 1] != '}' || body[n - 2] != '"')
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)body[i] < 0x20) abort();
    free(in);
    return 0;
}
