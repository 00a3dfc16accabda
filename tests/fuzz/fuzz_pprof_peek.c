/* tests/fuzz/fuzz_pprof_peek.c — libFuzzer target for kiln_pprof_peek_scan,
 * the zero-copy top-level walker (on the input, and on the gunzipped input
 * when it is gzip). Checks that every string it returns lies inside the
 * scanned buffer and that a successful full decode agrees with it.
 */
#include <kiln/pprof.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_str(kiln_str s, const uint8_t *buf, size_t len)
{
    if (s.len && ((const uint8_t *)s.p < buf || (const uint8_t *)s.p + s.len > buf + len)) abort();
}

static void peek(const uint8_t *buf, size_t len)
{
    kiln_pprof_peek pk;
    kiln_err e = {0};
    if (kiln_pprof_peek_scan(buf, len, &pk, &e) != KILN_OK) {
        if (!e.msg[0]) abort();
        return;
    }
    if (pk.n_types > KILN_PPROF_PEEK_MAX_TYPES) abort();
    for (size_t i = 0; i < pk.n_types; i++) {
        check_str(pk.type[i], buf, len);
        check_str(pk.unit[i], buf, len);
    }
    check_str(pk.period_type, buf, len);
    check_str(pk.period_unit, buf, len);
    check_str(pk.default_sample_type, buf, len);
    /* a full decode that succeeds must agree */
    kiln_arena *a = kiln_arena_new(0);
    kiln_pprof *p = NULL;
    if (kiln_pprof_decode(a, buf, len, NULL, &p, &e) == KILN_OK) {
        if (p->n_sample != pk.n_samples || p->n_sample_type != pk.n_types) abort();
        if (p->time_nanos != pk.time_nanos || p->duration_nanos != pk.duration_nanos) abort();
        if (p->period != pk.period) abort();
        for (size_t i = 0; i < pk.n_types; i++) {
            const char *t = p->string_table[p->sample_type[i]->type];
            if (strlen(t) != pk.type[i].len || memcmp(t, pk.type[i].p, pk.type[i].len)) abort();
        }
    }
    kiln_arena_destroy(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    peek(data, size);
    if (kiln_is_gzip(data, size)) {
        kiln_arena *a = kiln_arena_new(0);
        uint8_t *out;
        size_t n;
        kiln_err e;
        if (kiln_gunzip(a, data, size, 16u << 20, &out, &n, &e) == KILN_OK) peek(out, n);
        kiln_arena_destroy(a);
    }
    return 0;
}
